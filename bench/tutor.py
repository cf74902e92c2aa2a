"""Tutor benchmark: 50 students' answers streamed at once under the production server.

Everything on 127.0.0.1, stopped at the end (also on Ctrl-C or an error):

1. the Canvas sandbox (in this process) with one Classic course of ``--streams`` + 5 students
   who all took its quizzes (one attempt allowed: closed to them), and the fake OpenAI server
   (in this process) streaming ``chat.completion.chunk`` events ``--chunk-ms`` (30) apart;
2. gunicorn exactly as the Procfile runs it (``-c gunicorn.conf.py``, gthread, its default
   threads) with one worker (the embedded database lives in one process, as
   ``scripts/serve.sh`` does), pointed at both;
3. seeds over HTTP: the instructor's KnowGap sync, then one tutor session per student on a
   question they missed;
4. baseline, alone: 200 calls of a cheap route (``GET /get-toggle-risk/101``: a token-less
   read of one small document) and 5 answers streamed one after the other;
5. load: ``--streams`` answers streamed at once (aiohttp, ``Accept: text/event-stream``), while
   the cheap route is called every 25 ms and the worker's threads are counted every 10 ms
   (``/proc/<worker>/task``).

Printed: time to the first event (``start``, sent before the model is asked) and to the
first text chunk, p50/p95; whole-answer time against its floor (pieces x chunk delay); the
worker's threads idle, at peak and the difference (threads the streams used); the cheap route's
p50/p95 during the streams against its baseline in the same run (the ratio is the figure).
``--threads N`` runs once more with gunicorn's ``--threads N`` (e.g. 4, the earlier default),
so the effect of the thread budget is measured side by side.

Run: ``.venv/bin/python bench/tutor.py [--streams 50] [--chunk-ms 30] [--threads 4]``.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from config import DEFAULT_GUNICORN_THREADS  # noqa: E402
from tests.canvas_sandbox import SandboxServer, build_world  # noqa: E402
from tests.canvas_sandbox.world import CourseSpec, student_token  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402
from tests.gunicorn_server import gunicorn_app  # noqa: E402
from tests.sse_client import read_json  # noqa: E402

COURSE = 101
CHEAP = f"/get-toggle-risk/{COURSE}"


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))]


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


class ThreadSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, threads_of(self.pid))
            time.sleep(0.01)


async def stream_one(session, url, token, content="Why was my answer wrong?") -> dict:
    started = time.perf_counter()
    out = {"first_event": None, "first_chunk": None, "total": None, "status": None,
           "last": None, "chunks": 0}
    async with session.post(url, json={"content": content},
                            headers={"Authorization": f"Bearer {token}",
                                     "Accept": "text/event-stream"}) as resp:
        out["status"] = resp.status
        if resp.status != 200:
            out["error"] = (await resp.json(content_type=None)).get("error")
            return out
        event = None
        async for raw in resp.content:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event: "):
                event = line[7:]
                now = time.perf_counter() - started
                if out["first_event"] is None:
                    out["first_event"] = now
                if event == "chunk":
                    out["chunks"] += 1
                    if out["first_chunk"] is None:
                        out["first_chunk"] = now
                out["last"] = event
    out["total"] = time.perf_counter() - started
    return out


async def cheap_calls(session, app, n=None, stop: asyncio.Event | None = None,
                      every=0.0) -> list[float]:
    latencies = []
    while (n is None or len(latencies) < n) and not (stop and stop.is_set()):
        t0 = time.perf_counter()
        async with session.get(app + CHEAP) as resp:
            await resp.read()
            assert resp.status == 200, resp.status
        latencies.append(time.perf_counter() - t0)
        if every:
            await asyncio.sleep(every)
    return latencies


async def measure(app, sessions, pid) -> dict:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=300)) as http:
        base_cheap = await cheap_calls(http, app, n=200)
        alone = [await stream_one(http, f"{app}/tutor/sessions/{sid}/messages", token)
                 for sid, token in sessions[:5]]
        idle_threads = threads_of(pid)
        sampler = ThreadSampler(pid)
        sampler.start()
        stop = asyncio.Event()
        poller = asyncio.create_task(cheap_calls(http, app, stop=stop, every=0.025))
        t0 = time.perf_counter()
        results = await asyncio.gather(*(stream_one(
            http, f"{app}/tutor/sessions/{sid}/messages", token) for sid, token in sessions))
        wall = time.perf_counter() - t0
        stop.set()
        during = await poller
        sampler.stop.set()
        sampler.join()
    return {"base_cheap": base_cheap, "alone": alone, "results": results, "wall": wall,
            "during": during, "idle_threads": idle_threads, "peak_threads": sampler.peak}


def report(label: str, threads: int, m: dict, chunk_s: float) -> None:
    ok = [r for r in m["results"] if r["last"] == "done"]
    refused = [r for r in m["results"] if r["status"] != 200]
    broken = [r for r in m["results"] if r["status"] == 200 and r["last"] != "done"]
    ms = lambda v: f"{1000 * v:.0f} ms"  # noqa: E731
    first_event = [r["first_event"] for r in ok]
    first_chunk = [r["first_chunk"] for r in ok]
    totals = [r["total"] for r in ok]
    floor = statistics.median(r["chunks"] for r in ok) * chunk_s if ok else float("nan")
    alone = [r for r in m["alone"] if r["last"] == "done"]
    print(f"\n== {label}: gunicorn gthread, 1 worker x {threads} threads ==")
    print(f"streams: {len(m['results'])} at once -> {len(ok)} answered, {len(refused)} refused "
          f"({', '.join(sorted({str(r.get('error')) for r in refused})) or '-'}), "
          f"{len(broken)} broken; wall {m['wall']:.2f} s")
    if alone:
        med = {k: ms(statistics.median(r[k] for r in alone))
               for k in ("first_event", "first_chunk", "total")}
        print(f"one stream alone: first event {med['first_event']}, first chunk "
              f"{med['first_chunk']}, answer {med['total']}")
    if ok:
        for name, values in (("event", first_event), ("chunk", first_chunk)):
            print(f"time to first {name}: p50 {ms(pct(values, 50))}, "
                  f"p95 {ms(pct(values, 95))}")
        print(f"whole answer: p50 {ms(pct(totals, 50))}, p95 {ms(pct(totals, 95))} "
              f"(floor {ms(floor)}: {statistics.median(r['chunks'] for r in ok):.0f} chunks x "
              f"{ms(chunk_s)})")
    print(f"worker threads: {m['idle_threads']} idle, {m['peak_threads']} at peak "
          f"(+{m['peak_threads'] - m['idle_threads']} during the streams)")
    b50, b95 = pct(m["base_cheap"], 50), pct(m["base_cheap"], 95)
    d50, d95 = pct(m["during"], 50), pct(m["during"], 95)
    print(f"cheap route {CHEAP}: alone p50 {ms(b50)} / p95 {ms(b95)}; during the streams "
          f"p50 {ms(d50)} / p95 {ms(d95)} ({len(m['during'])} calls): p95 x{d95 / b95:.1f}")


def run(args, threads: int | None, sandbox, fake, work: Path) -> None:
    settings = dict(CANVAS_BASE_URL=sandbox.base_url, CANVAS_ALLOWED_HOSTS="127.0.0.1:"
                    + sandbox.base_url.rsplit(":", 1)[1], OPENAI_API_KEY="bench-key",
                    OPENAI_BASE_URL=fake.base_url, TUTOR_STUDENT_RATE_LIMIT="1000/minute")
    with gunicorn_app(settings, work / f"gunicorn-{threads or 'default'}.log",
                      threads=threads) as server:
        app, pid = server.base_url, server.worker_pid()
        status, body = read_json("POST", app + "/update-course-db",
                            {"course_id": COURSE, "access_token": "teacher-token"})
        assert status == 200, (status, body)
        world, sessions = sandbox.world, []
        for quiz in world.course_quizzes(COURSE):
            for sid in world.student_ids(COURSE):
                if len(sessions) >= args.streams or any(t == student_token(sid)
                                                        for _, t in sessions):
                    continue
                wrong = [e for e in world.work[(quiz.id, sid)].attempts[-1].submission_data
                         if e["correct"] is False]
                if not wrong:
                    continue
                status, body = read_json("POST", app + "/tutor/sessions", {
                    "course_id": COURSE, "quiz_id": quiz.id,
                    "question_id": wrong[0]["question_id"]},
                    {"Authorization": f"Bearer {student_token(sid)}"})
                assert status == 201, (status, body)
                sessions.append((body["id"], student_token(sid)))
        assert len(sessions) == args.streams, f"only {len(sessions)} students missed a question"
        fake.reset()
        m = asyncio.run(measure(app, sessions, pid))
        label = "production configuration" if not threads else f"GUNICORN_THREADS={threads}"
        report(label, threads or DEFAULT_GUNICORN_THREADS, m, args.chunk_ms / 1000)
        print(f"fake model: {fake.max_in_flight} requests in flight at most")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=50)
    p.add_argument("--chunk-ms", type=float, default=30.0)
    p.add_argument("--threads", type=int, action="append", default=[],
                   help="also run with gunicorn --threads N (repeatable)")
    args = p.parse_args()
    world = build_world([CourseSpec(COURSE, "Tutor Bench", "TB-101", args.streams + 5, 2, 10)],
                        seed=3)
    work = Path(tempfile.mkdtemp(prefix="knowgap-tutor-bench-"))
    sandbox = SandboxServer(world, throttle=False).start()
    fake = FakeOpenAIServer(chunk_delay_s=args.chunk_ms / 1000).start()
    try:
        print(f"{args.streams} students, one answer each, the fake model streaming a piece "
              f"every {args.chunk_ms:g} ms; logs in {work}")
        run(args, None, sandbox, fake, work)
        for threads in args.threads:
            run(args, threads, sandbox, fake, work)
    finally:
        fake.stop()
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
