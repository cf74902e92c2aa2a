"""``scripts/demo.sh`` on ports of our choosing: the sandbox, the server, and badge links that
point at the port the server really listens on (``PUBLIC_BASE_URL`` follows ``PORT``)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_demo_on_other_ports_links_badges_to_its_own_port(tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"}
    env.update(PORT=str(port), SANDBOX_PORT=str(sandbox_port), WEB_CONCURRENCY="1",
               EMBEDDED_DB_DIR=str(tmp_path))        # not the developer's instance/ database
    process = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if get_json(f"http://127.0.0.1:{port}/health")["status"] == "ok":
                    break
            except OSError:
                pass
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the demo server did not start"
            time.sleep(0.5)
        issuer = get_json(f"http://127.0.0.1:{port}/achieveup/public/badges/issuer")
        assert issuer["id"].startswith(f"http://localhost:{port}/")
        # the server talks to the sandbox on its port: the demo's instructor token signs up
        signup = urllib.request.Request(
            f"http://127.0.0.1:{port}/auth/signup", method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"name": "Demo", "email": "demo@example.edu",
                             "password": "Demo-Passw0rd", "canvasApiToken": "teacher-token"}
                            ).encode())
        with urllib.request.urlopen(signup, timeout=20) as response:
            assert json.loads(response.read())["user"]["role"] == "instructor"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
