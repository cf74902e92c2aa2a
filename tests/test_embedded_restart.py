"""The zero-configuration server keeps its data: a real server process (gunicorn, as the
Procfile runs it) on the embedded engine, stopped or killed, then started again on the same
``EMBEDDED_DB_DIR``.

* an instructor's account, skill matrix, a synced course with its badges (one shared) and the
  job that synced it are all there after a restart, read back over HTTP;
* ``kill -9`` during a burst of writes: the next start loads the file, every write that was
  answered is there, whole, and nothing is there twice;
* a second process on the same files is refused with a reason, never left to overwrite them.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config import new_encryption_key
from tests.conftest import TEST_SIGNING_KEY

pytestmark = pytest.mark.skipif(bool(os.environ.get("TEST_MONGODB_URI")),
                                reason="the embedded engine's file only")

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
PASSWORD = "Correct horse battery 9"
COURSE = "101"
SKILLS = ["Cells", "Energy", "Genetics"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn process (1 worker) on the embedded engine kept in ``directory``."""

    def __init__(self, directory: Path, sandbox, secrets: dict, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {k: v for k, v in os.environ.items()
               if k not in ("MONGODB_URI", "WEB_CONCURRENCY")}
        env.update(secrets, APP_ENV="development", LOG_LEVEL="INFO", PORT=str(self.port),
                   BCRYPT_ROUNDS="4", AUTH_RATE_LIMIT="100000/minute",
                   CANVAS_BASE_URL=sandbox.base_url, CANVAS_ALLOWED_HOSTS=sandbox.host,
                   BADGE_MIN_EVIDENCE="1", RUN_WORKER_THREAD="true",
                   EMBEDDED_DB_DIR=str(directory), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "1", "--threads", "8", "wsgi:app"],
            cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_up(self, seconds: float = 60) -> "Server":
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if self.call("GET", "/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not start:\n" + self.log.read_text()[-3000:])

    def call(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.url + path, method=method, headers=headers,
            data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)


@pytest.fixture
def servers(tmp_path, sandbox):
    """start(): a server on ``tmp_path/db``; every one is stopped at the end."""
    started: list[Server] = []
    secrets = {"JWT_SECRET_KEY": "restart-" + new_encryption_key(),
               "TOKEN_ENCRYPTION_KEY": new_encryption_key(), "BADGE_SALT": "restart-salt",
               "BADGE_SIGNING_KEY": TEST_SIGNING_KEY}

    def start() -> Server:
        server = Server(tmp_path / "db", sandbox, secrets, tmp_path / f"server{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL)


def signup(server: Server, token: str, email: str) -> str:
    status, body = server.call("POST", "/auth/signup", {
        "name": email.split("@")[0], "email": email, "password": PASSWORD,
        "canvasApiToken": token})
    assert status == 201, body
    return body["token"]


def login(server: Server, email: str) -> str:
    status, body = server.call("POST", "/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, body
    return body["token"]


def test_accounts_matrices_badges_and_jobs_survive_a_restart(servers, sandbox, tmp_path):
    first = servers().wait_up()
    teacher = signup(first, "teacher-token", "teacher@example.edu")
    student = signup(first, "student-token-1001", "student@example.edu")
    status, matrix = first.call("POST", "/achieveup/matrix/create", {
        "course_id": COURSE, "matrix_name": "Biology", "skills": SKILLS}, teacher)
    assert status == 201, matrix
    world = sandbox.world
    mapping = {str(q.id): [SKILLS[i % 3]] for quiz in world.course_quizzes(int(COURSE))
               for i, q in enumerate(world.questions[quiz.id])}
    assert first.call("POST", "/achieveup/skills/assign",
                      {"course_id": COURSE, "question_skills": mapping}, teacher)[0] == 200
    status, job = first.call("POST", f"/achieveup/instructor/course/{COURSE}/force-sync", {},
                             teacher)
    assert status == 202, job
    deadline = time.monotonic() + 90
    while (state := first.call("GET", f"/achieveup/jobs/{job['job_id']}", token=teacher)[1])[
            "state"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.3)
    assert state["state"] == "succeeded", state
    badges = first.call("GET", "/achieveup/badges/1001", token=student)[1]
    assert badges, "the student earned no badge"
    shared = badges[0]["badge_id"]
    assert first.call("PUT", f"/achieveup/badges/{shared}/share", {"public": True},
                      student)[0] == 200
    reads = {                                             # name: (path, who reads it)
        "matrices": (f"/achieveup/matrix/course/{COURSE}", "teacher"),
        "assignments": (f"/achieveup/skills/assignments?course_id={COURSE}", "teacher"),
        "badges": ("/achieveup/badges/1001", "student"),
        "analytics": (f"/achieveup/instructor/courses/{COURSE}/student-analytics", "teacher"),
        "job": (f"/achieveup/jobs/{job['job_id']}", "teacher"),
    }
    tokens = {"teacher": teacher, "student": student}
    before = {name: first.call("GET", path, token=tokens[who])
              for name, (path, who) in reads.items()}
    assert all(status == 200 for status, _ in before.values()), before
    assert first.call("GET", f"/achieveup/public/badges/assertions/{shared}")[0] == 200
    first.stop()
    log = first.log.read_text()
    assert f"embedded in-process database, kept in {tmp_path / 'db' / 'knowgap.snapshot'}" in log

    second = servers().wait_up()
    assert second.call("POST", "/auth/login", {"email": "teacher@example.edu",
                                               "password": "wrong password 1"})[0] == 401
    tokens = {"teacher": login(second, "teacher@example.edu"),
              "student": login(second, "student@example.edu")}
    teacher = tokens["teacher"]
    after = {name: second.call("GET", path, token=tokens[who])
             for name, (path, who) in reads.items()}
    assert after == before
    assert second.call("GET", f"/achieveup/public/badges/assertions/{shared}")[0] == 200
    assert "journal records replayed" in second.log.read_text()

    # a second process on the same files is refused, loudly
    third = servers()
    assert third.process.wait(timeout=60) != 0
    assert "is in use by process" in third.log.read_text()
    assert second.call("GET", f"/achieveup/matrix/course/{COURSE}", token=teacher) == \
        before["matrices"]


def test_kill_9_during_a_burst_of_writes_loses_no_answered_write(servers):
    first = servers().wait_up()
    teacher = signup(first, "teacher-token", "burst@example.edu")
    answered: dict[str, list[str]] = {}
    lock, stop = threading.Lock(), threading.Event()

    def writer(n: int) -> None:
        for i in range(10_000):
            if stop.is_set():
                return
            name, skills = f"Matrix {n}-{i}", [f"Skill {n}-{i}-{k}" for k in range(3)]
            try:
                status, _ = first.call("POST", "/achieveup/matrix/create", {
                    "course_id": COURSE, "matrix_name": name, "skills": skills}, teacher)
            except OSError:
                return                                    # the server is gone
            if status == 201:
                with lock:
                    answered[name] = skills

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(answered) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.stop(signal.SIGKILL)                          # in the middle of the burst
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answered) >= 60, "the burst did not get going"

    second = servers().wait_up()
    teacher = login(second, "burst@example.edu")
    status, matrices = second.call("GET", f"/achieveup/matrix/course/{COURSE}", token=teacher)
    assert status == 200
    stored = {m["matrix_name"]: m["skills"] for m in matrices}
    assert len(stored) == len(matrices)                   # nothing twice
    assert {name: stored.get(name) for name in answered} == answered
    for name, skills in stored.items():                   # unanswered ones are whole, too
        n, i = name.removeprefix("Matrix ").split("-")
        assert skills == [f"Skill {n}-{i}-{k}" for k in range(3)]
    # and the database goes on taking writes after the replay
    assert second.call("POST", "/achieveup/matrix/create", {
        "course_id": COURSE, "matrix_name": "After", "skills": ["One"]}, teacher)[0] == 201
