"""Start, stop, kill and read a ralph-malph LRS on a loopback port.

The LRS runs in its own process from ``.venv-lrs`` (``scripts/lrs_venv.sh``; its pins clash
with ours), with its file-system backend under a folder of the caller's (``launch.py`` says how
it differs from ``ralph runserver -b fs``). Credentials are ralph's auth file, a JSON list of
``{agent, scopes, hash (bcrypt), username, target}`` (``RALPH_AUTH_FILE``; ralph reads it once,
at its first request). Every user gets its own ``target``, a sub-folder with its own statement
file, so tests sharing one server never see each other's statements: ``RalphLRS.account()``
hands out the next user.

Reading back uses the LRS's own API: ``GET /xAPI/statements`` with ralph's pagination (the
StatementResult's ``more`` link, xAPI Communication 2.1.3), ``statements()``.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import bcrypt
import requests

ROOT = Path(__file__).resolve().parents[2]
LRS_PYTHON = ROOT / ".venv-lrs" / "bin" / "python"
LAUNCH = Path(__file__).with_name("launch.py")
XAPI_HEADERS = {"X-Experience-API-Version": "1.0.3"}


def ensure_lrs_venv() -> Path:
    """``.venv-lrs`` exists and matches requirements-lrs.txt (made once, under a file lock so
    parallel test workers wait for one install)."""
    lock_path = ROOT / ".venv-lrs.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["bash", str(ROOT / "scripts" / "lrs_venv.sh")], check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL)
    return LRS_PYTHON


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RalphLRS:
    """One ralph LRS process; ``accounts`` users (each with its own statement store)."""

    def __init__(self, workdir: Path, *, accounts: int = 40, port: int | None = None,
                 max_page: int = 1000):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.max_page = max_page
        self.data = self.workdir / "data"
        self.proc: subprocess.Popen | None = None
        self._users = [(f"lrs-user-{i}", f"secret-{i}-{os.urandom(6).hex()}", f"t{i}")
                       for i in range(accounts)]
        self._next = 0

    # ---------------------------------------------------------------- lifecycle
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI"

    def _write_auth(self) -> Path:
        path = self.workdir / "auth.json"
        if not path.exists():
            entries = [{"agent": {"objectType": "Agent",
                                  "account": {"homePage": "https://lrs.example.org", "name": u}},
                        "scopes": ["all"], "username": u, "target": target,
                        "hash": bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()}
                       for u, p, target in self._users]
            path.write_text(json.dumps(entries))
        for _, _, target in self._users:
            (self.data / target).mkdir(parents=True, exist_ok=True)
        return path

    def start(self, timeout: float = 90.0) -> "RalphLRS":
        ensure_lrs_venv()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("RALPH_")},
               "RALPH_AUTH_FILE": str(self._write_auth()),
               "RALPH_APP_DIR": str(self.workdir / "app"),
               "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.data),
               "RALPH_RUNSERVER_MAX_SEARCH_HITS_COUNT": str(self.max_page)}
        log = open(self.workdir / "lrs.log", "ab")
        self.proc = subprocess.Popen([str(LRS_PYTHON), str(LAUNCH), "127.0.0.1", str(self.port)],
                                     cwd=self.workdir, env=env, stdout=log, stderr=log,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the LRS stopped at start; see {self.workdir / 'lrs.log'}")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/__heartbeat__",
                                timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the LRS did not answer within {timeout:.0f} s")

    def _signal(self, sig) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)       # our own child's process group, by its id
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """An outage: the process dies at once (requests in flight get a reset)."""
        self._signal(signal.SIGKILL)

    def restart(self) -> "RalphLRS":
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---------------------------------------------------------------- users and reading
    def account(self) -> "Account":
        """The next unused user (a fresh, empty statement store)."""
        if self._next >= len(self._users):
            raise RuntimeError("no LRS account left; start the LRS with more accounts")
        user = self._users[self._next]
        self._next += 1
        return Account(self, *user)


class Account:
    def __init__(self, lrs: RalphLRS, username: str, password: str, target: str):
        self.lrs, self.username, self.password, self.target = lrs, username, password, target

    @property
    def settings(self) -> dict:
        """Config overrides that send statements to this account."""
        return {"xapi_lrs_url": self.lrs.endpoint, "xapi_lrs_username": self.username,
                "xapi_lrs_password": self.password}

    def statements(self, **params) -> list[dict]:
        """Every statement the LRS returns for ``params``, following ``more`` links."""
        session = requests.Session()
        session.auth = (self.username, self.password)
        base = f"http://127.0.0.1:{self.lrs.port}"
        url = f"{self.lrs.endpoint}/statements"
        query = {"limit": self.lrs.max_page, **params}
        out: list[dict] = []
        for _ in range(100000):
            r = session.get(url, params=query, headers=XAPI_HEADERS, timeout=120)
            r.raise_for_status()
            body = r.json()
            out.extend(body.get("statements") or [])
            more = body.get("more")
            if not more:
                return out
            url, query = base + more, None
        raise RuntimeError("the LRS's more links never ended")

    def stored_lines(self) -> list[dict]:
        """The statements as the file-system backend wrote them (bench counting)."""
        path = self.lrs.data / self.target / "fs_lrs.jsonl"
        if not path.exists():
            return []
        with path.open() as f:
            return [json.loads(line) for line in f if line.strip()]


if __name__ == "__main__":  # pragma: no cover - manual use: python -m tests.lrs.server DIR
    lrs = RalphLRS(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/ralph-lrs")).start()
    acct = lrs.account()
    print(f"LRS {lrs.endpoint} user {acct.username} password {acct.password}; Ctrl-C stops it")
    try:
        lrs.proc.wait()
    except KeyboardInterrupt:
        lrs.stop()
