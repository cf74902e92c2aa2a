"""Load benchmark: gunicorn + embedded database + Canvas sandbox on loopback, driven by locust.

What it does (everything on 127.0.0.1, everything stopped at the end, also on Ctrl-C/error):

1. starts the Canvas sandbox (``python -m tests.canvas_sandbox``) in a child process;
2. starts gunicorn (``-c gunicorn.conf.py``, 1 worker with threads: the embedded database
   lives in one process) pointed at the sandbox, with the job worker thread on and a high
   AUTH_RATE_LIMIT;
3. seeds: signs up an instructor with ``teacher-token``, creates skill matrices, assigns skills
   to every question of the course (question ids read through ``/canvas/instructor/...``),
   force-syncs the course and waits for the job to succeed;
4. runs locust headless (this same file is the locustfile) with N users for D seconds, mixing
   login, student analytics, matrix list/create, skill assign/read and exports;
5. prints throughput, p50/p95/p99 overall and excluding login, and the error count, computed
   from every request's latency (recorded by the locust workers into a JSON file).

Targets: 0 errors, p95 < 500 ms excluding login.

Run: ``.venv/bin/python bench/load.py [--users 50] [--duration 60] [--embedded-file off]`` from
the repository root.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import sys

# ====================================================================== locust side
# locust imports this file as a module; the orchestrator below only runs as __main__.
if __name__ != "__main__":
    import itertools
    import threading

    from locust import FastHttpUser, between, events, task

    SEED = json.loads(open(os.environ["LOAD_SEED_FILE"]).read())
    SAMPLES_FILE = os.environ["LOAD_SAMPLES_FILE"]
    _samples: list = []            # [name, ms, ok]
    _failures: dict = {}
    _lock = threading.Lock()
    _names = itertools.count()

    @events.request.add_listener
    def _record(request_type, name, response_time, response_length, exception=None, **_):
        with _lock:
            _samples.append((name, response_time, exception is None))
            if exception is not None:
                key = f"{name}: {str(exception)[:160]}"
                _failures[key] = _failures.get(key, 0) + 1

    @events.quitting.add_listener
    def _dump(environment, **_):
        with _lock, open(SAMPLES_FILE, "w") as fh:
            json.dump({"samples": _samples, "failures": _failures}, fh)

    class Instructor(FastHttpUser):
        wait_time = between(0.2, 1.0)

        def on_start(self):
            self.course = SEED["course_id"]
            self.qids = SEED["question_ids"]
            self.skills = SEED["skills"]
            self._login()

        def _login(self):
            with self.client.post("/auth/login", name="POST /auth/login", catch_response=True,
                                  json={"email": SEED["email"],
                                        "password": SEED["password"]}) as r:
                if r.status_code != 200:
                    r.failure(f"HTTP {r.status_code}: {r.text[:200]}")
                    return
                self.headers = {"Authorization": f"Bearer {r.json()['token']}"}

        def _get(self, path, name, **kw):
            with self.client.get(path, name=name, headers=self.headers, catch_response=True,
                                 **kw) as r:
                if r.status_code != 200:
                    r.failure(f"HTTP {r.status_code}: {r.text[:200]}")

        @task(1)
        def login(self):
            self._login()

        @task(4)
        def analytics(self):
            self._get(f"/achieveup/instructor/courses/{self.course}/student-analytics",
                      "GET student-analytics")

        @task(4)
        def list_matrices(self):
            self._get(f"/achieveup/matrix/course/{self.course}", "GET matrix/course")

        @task(1)
        def create_matrix(self):
            name = f"Load {os.getpid()}-{next(_names)}-{random.randrange(10**6)}"
            with self.client.post("/achieveup/matrix/create", name="POST matrix/create",
                                  headers=self.headers, catch_response=True,
                                  json={"course_id": self.course, "matrix_name": name,
                                        "skills": random.sample(self.skills, 3)}) as r:
                if r.status_code != 201:
                    r.failure(f"HTTP {r.status_code}: {r.text[:200]}")

        @task(2)
        def assign_skills(self):
            qids = random.sample(self.qids, min(5, len(self.qids)))
            with self.client.post("/achieveup/skills/assign", name="POST skills/assign",
                                  headers=self.headers, catch_response=True,
                                  json={"course_id": self.course, "question_skills": {
                                      q: random.sample(self.skills, 2) for q in qids}}) as r:
                if r.status_code != 200:
                    r.failure(f"HTTP {r.status_code}: {r.text[:200]}")

        @task(2)
        def read_assignments(self):
            qids = random.sample(self.qids, min(10, len(self.qids)))
            self._get("/achieveup/skills/assignments", "GET skills/assignments",
                      params=[("course_id", self.course)] + [("question_id", q) for q in qids])

        @task(1)
        def export(self):
            fmt = random.choice(("json", "csv", "xlsx"))
            self._get(f"/achieveup/export/{self.course}?format={fmt}", f"GET export {fmt}")


# ====================================================================== orchestrator
def main() -> int:  # noqa: C901 - a linear script
    import argparse
    import signal
    import socket
    import statistics
    import subprocess
    import tempfile
    import time
    import urllib.error
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    venv_bin = Path(sys.executable).parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--duration", type=int, default=60, help="seconds of load")
    p.add_argument("--spawn-rate", type=float, default=25.0)
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads (1 worker)")
    p.add_argument("--students", type=int, default=40, help="students per sandbox course")
    p.add_argument("--quizzes", type=int, default=4)
    p.add_argument("--questions", type=int, default=10)
    p.add_argument("--bcrypt-rounds", type=int, default=12)
    p.add_argument("--embedded-file", choices=("on", "off"), default="on",
                   help="keep the embedded database in a file (in the log directory), as "
                        "the server does by default, or in memory only")
    p.add_argument("--keep-logs", action="store_true", help="print the log directory")
    args = p.parse_args()

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def wait_http(url: str, seconds: float, proc) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{url}: process exited with {proc.returncode}")
            try:
                urllib.request.urlopen(url, timeout=1).read()
                return
            except urllib.error.HTTPError:
                return                      # it answers, even if not 200
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{url} did not come up within {seconds} s")

    def call(method, url, body=None, headers=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    work = Path(tempfile.mkdtemp(prefix="knowgap-load-"))
    procs: list[subprocess.Popen] = []

    def start(cmd, log_name, env=None):
        log = open(work / log_name, "wb")
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        procs.append(proc)
        return proc

    def stop_all():
        for proc in reversed(procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)    # its own session: pgid == pid
                except ProcessLookupError:
                    pass
        for proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    servers = contextlib.ExitStack()       # gunicorn, stopped on close (tests.gunicorn_server)
    try:
        # ---------------------------------------------------------------- sandbox
        canvas_port = free_port()
        sandbox = start([sys.executable, "-m", "tests.canvas_sandbox", "--port", str(canvas_port),
                         "--courses", "2", "--students", str(args.students),
                         "--quizzes", str(args.quizzes), "--questions", str(args.questions),
                         "--seed", "7"], "sandbox.log")
        canvas = f"http://127.0.0.1:{canvas_port}"
        wait_http(canvas + "/api/v1/users/self", 20, sandbox)

        # ---------------------------------------------------------------- gunicorn
        from tests.gunicorn_server import gunicorn_app  # noqa: E402 (root is on sys.path below)

        app = servers.enter_context(gunicorn_app({
            "BCRYPT_ROUNDS": str(args.bcrypt_rounds), "AUTH_RATE_LIMIT": "100000/minute",
            "CANVAS_BASE_URL": canvas, "CANVAS_ALLOWED_HOSTS": f"127.0.0.1:{canvas_port}",
            "RUN_WORKER_THREAD": "true",
            "EMBEDDED_DB_PERSIST": str(args.embedded_file == "on").lower(),
            "EMBEDDED_DB_DIR": str(work / "db")}, work / "gunicorn.log", threads=args.threads,
            timeout=30, extra_args=("--max-requests", "0"))).base_url

        # ---------------------------------------------------------------- seed
        t0 = time.perf_counter()
        course = "101"
        email, password = "load.instructor@example.edu", "Correct horse battery 9"
        status, body = call("POST", app + "/auth/signup", {
            "name": "Load Instructor", "email": email, "password": password,
            "canvasApiToken": "teacher-token"})
        assert status == 201 and body["user"]["role"] == "instructor", (status, body)
        auth = {"Authorization": f"Bearer {body['token']}"}
        skills = ["Cells", "Energy", "Genetics", "Evolution", "Ecology", "Homeostasis",
                  "Molecules", "Microbes"]
        for i, chunk in enumerate((skills[:4], skills[4:])):
            status, body = call("POST", app + "/achieveup/matrix/create", {
                "course_id": course, "matrix_name": f"Seed {i}", "skills": chunk}, auth)
            assert status == 201, (status, body)
        status, quizzes = call("GET", app + f"/canvas/instructor/courses/{course}/quizzes",
                               headers=auth)
        assert status == 200 and quizzes, (status, quizzes)
        qids = []
        for quiz in quizzes:
            status, questions = call(
                "GET", app + f"/canvas/instructor/courses/{course}/quizzes/{quiz['id']}/questions",
                headers=auth)
            assert status == 200, (status, questions)
            qids += [str(q["id"]) for q in questions]
        mapping = {q: [skills[i % len(skills)], skills[(i + 3) % len(skills)]]
                   for i, q in enumerate(qids)}
        status, body = call("POST", app + "/achieveup/skills/assign",
                            {"course_id": course, "question_skills": mapping}, auth)
        assert status == 200, (status, body)
        status, body = call("POST", app + f"/achieveup/instructor/course/{course}/force-sync",
                            {}, auth)
        assert status == 202, (status, body)
        job_id, deadline = body["job_id"], time.monotonic() + 120
        while True:
            status, job = call("GET", app + f"/achieveup/jobs/{job_id}", headers=auth)
            if job.get("state") in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert job.get("state") == "succeeded", job
        status, analytics = call(
            "GET", app + f"/achieveup/instructor/courses/{course}/student-analytics", headers=auth)
        assert status == 200 and analytics["students"], (status, analytics)
        print(f"seeded in {time.perf_counter() - t0:.1f} s: {len(qids)} questions, "
              f"{len(analytics['students'])} students, job counts {job.get('counts')}",
              flush=True)

        # ---------------------------------------------------------------- locust
        seed_file, samples_file = work / "seed.json", work / "samples.json"
        seed_file.write_text(json.dumps({"course_id": course, "email": email,
                                         "password": password, "question_ids": qids,
                                         "skills": skills}))
        lenv = dict(os.environ, LOAD_SEED_FILE=str(seed_file),
                    LOAD_SAMPLES_FILE=str(samples_file), PYTHONPATH=str(root))
        locust = start([str(venv_bin / "locust"), "-f", str(Path(__file__).resolve()),
                        "--headless", "--host", app, "-u", str(args.users),
                        "-r", str(args.spawn_rate), "-t", f"{args.duration}s",
                        "--stop-timeout", "5", "--only-summary", "--loglevel", "WARNING"],
                       "locust.log", env=lenv)
        print(f"load: {args.users} users for {args.duration} s against {app} ...", flush=True)
        locust.wait(timeout=args.duration + 90)
        data = json.loads(samples_file.read_text())

        # ---------------------------------------------------------------- report
        samples = data["samples"]
        n = len(samples)
        errors = sum(1 for s in samples if not s[2])

        def pct(values, q):
            if not values:
                return float("nan")
            values = sorted(values)
            return values[min(len(values) - 1, max(0, int(round(q / 100 * len(values) + 0.5)) - 1))]

        def line(label, values):
            return (f"{label:<28} n={len(values):>6}  p50={pct(values, 50):7.1f} ms  "
                    f"p95={pct(values, 95):7.1f} ms  p99={pct(values, 99):7.1f} ms  "
                    f"mean={statistics.fmean(values) if values else float('nan'):7.1f} ms")

        all_ms = [s[1] for s in samples]
        no_login = [s[1] for s in samples if s[0] != "POST /auth/login"]
        print()
        print(f"users={args.users} duration={args.duration}s gunicorn=1 worker x "
              f"{args.threads} threads, embedded DB (file {args.embedded_file}), "
              f"bcrypt rounds={args.bcrypt_rounds}, load average {os.getloadavg()[0]:.1f}")
        print(f"requests={n}  throughput={n / args.duration:.1f} req/s  errors={errors}")
        print(line("overall", all_ms))
        print(line("excluding login", no_login))
        for name in sorted({s[0] for s in samples}):
            print(line("  " + name, [s[1] for s in samples if s[0] == name]))
        for failure, count in sorted(data["failures"].items(), key=lambda kv: -kv[1])[:10]:
            print(f"  error x{count}: {failure}")
        p95 = pct(no_login, 95)
        ok = errors == 0 and p95 < 500
        print(f"targets (0 errors, p95 excl. login < 500 ms): {'MET' if ok else 'NOT MET'}")
        return 0 if ok else 1
    except KeyboardInterrupt:
        print("interrupted; stopping servers", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - print, clean up, exit non-zero
        print(f"load benchmark failed: {exc!r}; logs in {work}", file=sys.stderr)
        args.keep_logs = True
        return 1
    finally:
        stop_all()
        servers.close()
        if args.keep_logs:
            print(f"logs: {work}", file=sys.stderr)


if __name__ == "__main__":
    from pathlib import Path as _Path

    sys.path.insert(0, str(_Path(__file__).resolve().parent.parent))
    sys.exit(main())
