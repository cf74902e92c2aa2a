"""Benchmark: a full course snapshot against the Canvas sandbox, then incremental re-syncs.

Run: ``python bench/canvas_sync.py`` (prints figures; not a test). Options: ``--students``,
``--quizzes``, ``--questions``, ``--latency`` (seconds), ``--engines`` (``classic,mixed`` by
default: the course on Classic Quizzes only, then the same course with every second quiz a New
Quiz), ``--in-process`` (run the sandbox in this process instead of a child process).

New Quizzes cost more requests: their per-item results come from a student analysis report
(POST, a few Progress polls, the download and its redirect: about 6 requests per quiz, with
pauses between polls), which runs alongside the Classic work; each report is read in the shape
real Canvas answers and checked against the quiz's items and graded submissions as they arrive
(``knowgap.canvas.snapshot._judge_as_ready``), so that reading is part of the timed snapshot.
An unchanged re-sync asks for no report at all (no submission of the quiz was graded since the
cursor); a re-sync with new attempts also reads the complete submissions of the New Quizzes
whose report it asks for (to check that no student is missing from it).

Why the sandbox runs in a child process by default: the sandbox answers on one Python event loop
(about 1 ms of CPU per 100-submission page now that rows are pre-serialised, see
``tests/canvas_sandbox/cache.py``). Sharing one GIL with the client would still make the
client's JSON parsing and the server's work queue behind each other, so the figures would
measure the test rig rather than the client. The child freezes its long-lived objects
(``gc.freeze()``) so full garbage collections of the world do not stall the server loop.

Lower bound under the throttle: every request in flight holds 50 units of the 600-unit
bucket and the completed ones leave their actual cost (the sandbox charges 0.1 + 0.004 per
item, about what Canvas reports as CPU + database seconds), so at most 11 fit once anything has
been charged; with the dependency (quizzes first) and the page chains, an ideal scheduler needs
about 7 rounds of latency, ~1.3x the floor below.

Figures: requests made, throttled responses (403/429) seen by the server, wall time of the
concurrent snapshot, wall time of the same snapshot one request at a time (same client with
``max_concurrency=1``), speedup, ratio to the floor ``requests × latency ÷ 12`` (what 12
requests in flight with zero server CPU would take), then an incremental re-sync with
``graded_since`` after a few new graded attempts, and peak memory of this process.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import load_config, new_encryption_key  # noqa: E402
from knowgap.canvas.client import CanvasClient  # noqa: E402
from knowgap.canvas.snapshot import fetch_course_snapshot  # noqa: E402

COURSE_ID = 101
TOKEN = "teacher-token"


# ---------------------------------------------------------------- sandbox in a child process
def _world(students: int, quizzes: int, questions: int, engine: str):
    from tests.canvas_sandbox import CourseSpec, build_world

    return build_world([CourseSpec(COURSE_ID, "Benchmark Biology", "BIO-900", students,
                                   quizzes, questions, engine=engine)], seed=7)


def _serve(conn, students: int, quizzes: int, questions: int, latency: float,
           engine: str) -> None:
    from tests.canvas_sandbox import SandboxServer

    world = _world(students, quizzes, questions, engine)
    server = SandboxServer(world, latency_s=latency, throttle=True).start()
    gc.freeze()        # the world's ~10^6 long-lived objects: keep full GCs off the server loop
    conn.send(server.base_url)
    while True:
        cmd, *args = conn.recv()
        if cmd == "stop":
            server.stop()
            conn.send(None)
            return
        conn.send(_command(server, cmd, args))


def _command(server, cmd: str, args: list):
    state, world = server.state, server.world
    if cmd == "reset":
        state.reset_counters()
        state.reset_throttle()
        server.reports.reset_counters()
        return None
    if cmd == "stats":
        snap = state.snapshot()
        return {"requests": snap["total_requests"], "throttled": snap["throttled"],
                "max_in_flight": max(snap["max_in_flight"].values(), default=0),
                "reports": server.reports.started}
    if cmd == "log":
        return [(e["started"], e["duration_s"], e["status"], e["remaining"], e["path"])
                for e in state.request_log]
    if cmd == "mutate":                  # a few new graded attempts
        n = args[0]
        quiz_ids = [q.id for q in world.course_quizzes(COURSE_ID)]
        students = world.student_ids(COURSE_ID)
        for i in range(n):
            world.add_attempt(COURSE_ID, quiz_ids[i % len(quiz_ids)], students[(7 * i) % len(students)])
        return n
    raise ValueError(cmd)


class Sandbox:
    """Same tiny API whether the server runs here or in a child process."""

    def __init__(self, in_process: bool, *spec):
        self.in_process = in_process
        if in_process:
            from tests.canvas_sandbox import SandboxServer
            students, quizzes, questions, latency, engine = spec
            world = _world(students, quizzes, questions, engine)
            self._server = SandboxServer(world, latency_s=latency, throttle=True).start()
            self.base_url = self._server.base_url
        else:
            ctx = mp.get_context("spawn")
            self._conn, child = ctx.Pipe()
            self._proc = ctx.Process(target=_serve, args=(child, *spec), daemon=True)
            self._proc.start()
            self.base_url = self._conn.recv()

    def __call__(self, cmd: str, *args):
        if self.in_process:
            return _command(self._server, cmd, list(args))
        self._conn.send((cmd, *args))
        return self._conn.recv()

    def stop(self) -> None:
        if self.in_process:
            self._server.stop()
        else:
            self._conn.send(("stop",))
            self._conn.recv()
            self._proc.join(10)


# ---------------------------------------------------------------- runs
async def _snapshot(config, base_url: str, **client_kwargs):
    async with CanvasClient(base_url, TOKEN, config=config, **client_kwargs) as client:
        started = time.perf_counter()
        snap = await fetch_course_snapshot(client, COURSE_ID)
        return snap, time.perf_counter() - started, client


async def _incremental(config, base_url: str, previous):
    async with CanvasClient(base_url, TOKEN, config=config) as client:
        started = time.perf_counter()
        snap = await fetch_course_snapshot(client, COURSE_ID, previous=previous,
                                           graded_since=previous.next_graded_since)
        return snap, time.perf_counter() - started


def run_course(args, engine: str) -> dict:
    """Every figure for one course (see the module docstring); prints them as it goes."""
    sandbox = Sandbox(args.in_process, args.students, args.quizzes, args.questions,
                      args.latency, engine)
    try:
        config = load_config(environ={}, app_env="bench", jwt_secret_key="x" * 40,
                             token_encryption_key=new_encryption_key(), badge_salt="bench",
                             canvas_base_url=sandbox.base_url,
                             canvas_allowed_hosts=(sandbox.base_url.split("//", 1)[1],),
                             canvas_timeout_seconds=120.0)
        label = {"classic": "Classic Quizzes only",
                 "mixed": "every second quiz a New Quiz"}.get(engine, engine)
        print(f"\n######## Course: {args.students} students, {args.quizzes} quizzes x "
              f"{args.questions} questions, {label} ########")

        sandbox("reset")
        snap, wall, client = asyncio.run(_snapshot(config, sandbox.base_url))
        stats = sandbox("stats")
        requests = stats["requests"] - stats["throttled"]     # answered requests
        new = sum(1 for q in snap.quizzes if q.get("source") == "new")
        print("== Full sync (concurrent) ==")
        print(f"requests made            {stats['requests']} ({requests} answered + "
              f"{stats['throttled']} throttled; client counted {client.stats['requests']})")
        print(f"403/429 seen by server   {stats['throttled']}")
        print(f"max in flight (server)   {stats['max_in_flight']}")
        print(f"data                     {len(snap.quizzes)} quizzes ({new} New Quizzes, "
              f"{len(snap.reports)} reports read), {sum(map(len, snap.questions.values()))} "
              f"questions, {len(snap.students)} students, {len(snap.submissions)} submissions, "
              f"{len(snap.results())} per-question results")
        print(f"wall time                {wall:.3f} s")

        sandbox("reset")
        _, base_wall, base_client = asyncio.run(_snapshot(config, sandbox.base_url,
                                                          max_concurrency=1))
        base_stats = sandbox("stats")
        floor = requests * args.latency / 12
        print("== Baseline (same requests, one at a time) ==")
        print(f"requests made            {base_stats['requests']}")
        print(f"wall time                {base_wall:.3f} s")
        print(f"speedup                  {base_wall / wall:.1f}x")
        print(f"floor (req x lat / 12)   {floor:.3f} s ({requests} answered requests); "
              f"concurrent run = {wall / floor:.2f}x floor")

        sandbox("reset")
        unchanged, unchanged_wall = asyncio.run(_incremental(config, sandbox.base_url, snap))
        unchanged_stats = sandbox("stats")
        print("== Unchanged re-sync (graded_since, nothing new) ==")
        print(f"requests made            {unchanged_stats['requests']} "
              f"({100 * unchanged_stats['requests'] / requests:.1f}% of the full sync's "
              f"{requests}); reports asked for {unchanged_stats['reports']}")
        print(f"wall time                {unchanged_wall:.3f} s")

        sandbox("reset")
        sandbox("mutate", args.new_attempts)
        inc, inc_wall = asyncio.run(_incremental(config, sandbox.base_url, snap))
        inc_stats = sandbox("stats")
        print(f"== Incremental re-sync ({args.new_attempts} new graded attempts) ==")
        print(f"requests made            {inc_stats['requests']} "
              f"({100 * inc_stats['requests'] / requests:.1f}% of the full sync's {requests}); "
              f"reports asked for {inc_stats['reports']}")
        print(f"changed submissions      {len(inc.submissions)}; questions reused for "
              f"{len(inc.reused_question_quizzes)}/{len(inc.quizzes)} quizzes")
        print(f"wall time                {inc_wall:.3f} s")
        return {"engine": engine, "requests": requests, "throttled": stats["throttled"],
                "wall": wall, "serial": base_wall, "speedup": base_wall / wall,
                "unchanged": unchanged_stats["requests"],
                "unchanged_pct": 100 * unchanged_stats["requests"] / requests,
                "changed": inc_stats["requests"]}
    finally:
        sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--quizzes", type=int, default=15)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--new-attempts", type=int, default=5)
    parser.add_argument("--engines", default="classic,mixed")
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    print(f"Canvas sandbox ({'in process' if args.in_process else 'child process'}), latency "
          f"{args.latency * 1000:.0f} ms, throttle on (600 / 50 up-front / 10 per s)")
    rows = [run_course(args, engine) for engine in args.engines.split(",")]

    print("\n== Summary (targets: >= 8x the one-at-a-time baseline; unchanged re-sync <= 10% "
          "of the first sync's requests) ==")
    print(f"{'course':10} {'requests':>8} {'throttled':>9} {'wall s':>7} {'serial s':>8} "
          f"{'speedup':>7} {'unchanged':>9} {'%':>5} {'5 new':>6}")
    for r in rows:
        print(f"{r['engine']:10} {r['requests']:8d} {r['throttled']:9d} {r['wall']:7.2f} "
              f"{r['serial']:8.2f} {r['speedup']:6.1f}x {r['unchanged']:9d} "
              f"{r['unchanged_pct']:5.1f} {r['changed']:6d}")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\npeak memory (this process, max RSS) {peak_kb / 1024:.1f} MB")


if __name__ == "__main__":
    main()
