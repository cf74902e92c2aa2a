"""The app under gunicorn exactly as the Procfile runs it (``gunicorn -c gunicorn.conf.py
wsgi:app``: gthread workers, ``GUNICORN_THREADS`` threads each), on a free loopback port,
configured only by its environment like production. One worker by default: the embedded
database lives in one process, as ``scripts/serve.sh`` runs it. The server runs in its own
process group and is stopped with it (SIGTERM, then SIGKILL), also when the caller fails.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from config import new_encryption_key

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Gunicorn:
    base_url: str
    pid: int              # the master; its worker: ``worker_pid``
    log: Path

    def worker_pid(self, timeout: float = 20.0) -> int:
        """The first worker of the master (read from ``/proc/<pid>/stat``'s parent id)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if parent == self.pid:
                    return int(entry)
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn {self.pid} has no worker; see {self.log}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except urllib.error.HTTPError:          # it answered: the app is up
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within {timeout:g} s; see {log}")
            time.sleep(0.2)


@contextlib.contextmanager
def gunicorn_app(settings: dict[str, str], log: Path, *, threads: int | None = None,
                 timeout: float = 60.0, extra_args: tuple[str, ...] = ()) -> Iterator[Gunicorn]:
    """gunicorn serving the app with ``settings`` (environment variables) on top of a
    development configuration on the embedded database; its output goes to ``log``;
    ``extra_args`` go to gunicorn's command line."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI"}
    env.update(APP_ENV="development", LOG_LEVEL="WARNING", PORT=str(port),
               JWT_SECRET_KEY="gunicorn-" + new_encryption_key(),
               TOKEN_ENCRYPTION_KEY=new_encryption_key(), BADGE_SALT="gunicorn-salt",
               RUN_WORKER_THREAD="false", WEB_CONCURRENCY="1", PYTHONUNBUFFERED="1")
    env.update(settings)
    if threads:
        env["GUNICORN_THREADS"] = str(threads)
    cmd = [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py",
           "--bind", f"127.0.0.1:{port}", *extra_args, "wsgi:app"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(base_url + "/health", proc, log, timeout)
        yield Gunicorn(base_url, proc.pid, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)          # its own session: pgid == pid
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
