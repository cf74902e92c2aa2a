"""Benchmark: the whole AchieveUp course sync job on the embedded database, job start to
``succeeded``, for courses of growing size (is a sync's cost linear in the course?).

Run: ``.venv/bin/python -m bench.course_sync`` (prints figures; not a test). Options:
``--students 300,1000,3000`` (one course per size, each in a fresh database and sandbox),
``--quizzes 8``, ``--questions 12``, ``--latency`` (the sandbox's per-request latency, seconds),
``--profile N`` (also print the N functions of most cumulative time of the largest course;
``--profile-sort tottime`` orders them by their own time).

Each course: a Canvas sandbox in a child process (``bench.canvas_sync.Sandbox``: the server's
event loop does not share this process's GIL) teaching one course with one graded attempt per
student and quiz (8 quizzes x 12 questions x 3,000 students = 288,000 answers); an instructor
account holding the sandbox teacher's token; a skill matrix of 8 skills with every question
mapped to one. Then the instructor's ``POST /achieveup/instructor/course/{id}/force-sync``
through ``app.test_client()`` queues the job and ``run_pending`` runs it in this process (what
the worker thread does); the time is from the job's start to its ``succeeded`` state.

Per-stage times come from timers put around the functions that do each stage (only in this
process, for the run): fetch (the Canvas snapshot), store results (quizzes, questions, students
and result rows), evidence (what the store does to make a student's answers cheap to read
again), parse (Classic submission histories turned into result records), insights (item responses, quiz submissions, engagement),
mastery (computing the summaries), badges (awarding), write (storing the summaries). A stage
whose function does not exist in the code being measured prints ``-``. The figures printed
for the per-student cost (ms per student) are what says whether the cost is linear.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import importlib
import io
import pstats
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.canvas_sync import COURSE_ID, Sandbox  # noqa: E402

#: (stage, "module:function") timed; a stage sums its functions' times (outermost call only).
STAGES = (
    ("fetch", "knowgap.canvas.snapshot:fetch_course_snapshot"),
    ("store results", "achieveup.sync.service:store_results"),
    ("store results", "achieveup.sync.service:quiz_docs"),
    ("evidence", "achieveup.sync.service:write_evidence"),
    ("parse", "knowgap.canvas.snapshot:classic_results"),
    ("insights", "achieveup.insights.ingest:update_item_responses"),
    ("insights", "achieveup.insights.ingest:store_quiz_submissions"),
    ("insights", "achieveup.insights.service:engagement_indices"),
    ("mastery", "achieveup.mastery.service:compute_course_state"),
    ("badges", "achieveup.badges.service:apply_awards"),
    ("write", "achieveup.mastery.summaries:write_summaries"),
)
STAGE_NAMES = list(dict.fromkeys(s for s, _ in STAGES))
SKILLS = [f"Skill {i}" for i in range(8)]


class StageTimer:
    """Wraps the stage functions with timers; nested stages are subtracted from their caller
    (when one stage's function runs inside another's)."""

    def __init__(self):
        self.seconds = dict.fromkeys(STAGE_NAMES, 0.0)
        self.present = set()
        self._stack: list = []
        self._undo: list = []

    def _enter(self):
        self._stack.append(0.0)
        return time.perf_counter()

    def _leave(self, stage, started):
        spent = time.perf_counter() - started
        inner = self._stack.pop()
        self.seconds[stage] += spent - inner
        if self._stack:
            self._stack[-1] += spent

    def install(self) -> None:
        for stage, target in STAGES:
            module_name, name = target.split(":")
            module = importlib.import_module(module_name)
            original = getattr(module, name, None)
            if original is None:
                continue
            self.present.add(stage)
            self._undo.append((module, name, original))
            setattr(module, name, self._wrap(stage, original))

    def _wrap(self, stage, original):
        if asyncio.iscoroutinefunction(original):
            @functools.wraps(original)
            async def timed_async(*args, **kwargs):
                started = self._enter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    self._leave(stage, started)
            return timed_async

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = self._enter()
            try:
                return original(*args, **kwargs)
            finally:
                self._leave(stage, started)
        return timed

    def uninstall(self) -> None:
        for module, name, original in reversed(self._undo):
            setattr(module, name, original)
        self._undo.clear()


def setup(app, config, sandbox_url: str) -> tuple:
    """The instructor (holding the sandbox teacher's token), the matrix and the mapping;
    returns the instructor's Authorization header."""
    from bench.analytics import instructor_headers

    class _Sandbox:
        base_url = sandbox_url
        host = sandbox_url.split("//", 1)[1]

    headers = instructor_headers(app, config, _Sandbox)
    client = app.test_client()
    r = client.post("/achieveup/matrix/create", headers=headers,
                    json={"course_id": str(COURSE_ID), "matrix_name": "Core", "skills": SKILLS})
    assert r.status_code == 201, r.get_json()
    return headers, client


def map_questions(db, world_questions: list[tuple[str, str]]) -> None:
    from achieveup.mastery import store
    from knowgap.core.tenancy import where

    db[store.QUESTION_SKILLS].insert_many([
        where(db, course_id=str(COURSE_ID), question_id=qid, quiz_id=quiz_id,
              skills=[SKILLS[i % len(SKILLS)]]) for i, (quiz_id, qid) in enumerate(world_questions)])


async def _question_ids(config, base_url: str) -> list[tuple[str, str]]:
    from knowgap.canvas.client import CanvasClient

    out = []
    async with CanvasClient(base_url, "teacher-token", config=config) as client:
        for quiz in await client.list_quizzes(COURSE_ID):
            for q in await client.list_questions(COURSE_ID, quiz["id"]):
                out.append((str(quiz["id"]), str(q["id"])))
    return out


def run_course(students: int, args, profile: bool) -> dict:
    from knowgap import create_app
    from knowgap.canvas.hosts import canvas_host
    from knowgap.core import db as dbmod
    from knowgap.core.tenancy import scoped
    from knowgap.jobs.worker import run_pending
    from tests.conftest import make_config

    sandbox = Sandbox(False, students, args.quizzes, args.questions, args.latency, "classic")
    try:
        host = canvas_host(sandbox.base_url)
        config = make_config(canvas_base_url=sandbox.base_url, canvas_allowed_hosts=(host,),
                             log_level="ERROR", jwt_access_minutes=24 * 60)
        raw = dbmod.connect("", f"bench_sync_{students}")
        app = create_app(config, db=raw)
        db = scoped(raw, host)
        headers, client = setup(app, config, sandbox.base_url)
        map_questions(db, asyncio.run(_question_ids(config, sandbox.base_url)))
        sandbox("reset")
        timer = StageTimer()
        timer.install()
        profiler = cProfile.Profile() if profile else None
        try:
            r = client.post(f"/achieveup/instructor/course/{COURSE_ID}/force-sync",
                            headers=headers)
            assert r.status_code == 202, r.get_json()
            job_id = r.get_json()["job_id"]
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            run_pending(app)
            if profiler:
                profiler.disable()
            wall = time.perf_counter() - started
        finally:
            timer.uninstall()
        job = client.get(f"/achieveup/jobs/{job_id}", headers=headers).get_json()
        assert job["state"] == "succeeded", job
        counts = job["counts"]
        answers = counts.get("results_new", 0)
        line = (f"{students:>5} students: {wall:6.1f} s job start to succeeded, "
                f"{1000 * wall / students:5.1f} ms per student, {answers:,} answers, "
                f"{counts.get('canvas_requests')} Canvas requests")
        print(line)
        print("       stages: " + ", ".join(
            f"{s} {timer.seconds[s]:.1f} s" if s in timer.present else f"{s} -"
            for s in STAGE_NAMES) + f", other {wall - sum(timer.seconds.values()):.1f} s",
            flush=True)
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.profile_sort).print_stats(
                args.profile)
            print(out.getvalue())
        return {"students": students, "wall": wall, **timer.seconds}
    finally:
        sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", default="300,1000,3000")
    parser.add_argument("--quizzes", type=int, default=8)
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--profile-sort", default="cumulative", choices=("cumulative", "tottime"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.students.split(",")]
    rows = [run_course(n, args, profile=bool(args.profile) and n == max(sizes))
            for n in sizes]
    small, large = rows[0], rows[-1]
    if len(rows) > 1:
        ratio = (large["wall"] / large["students"]) / (small["wall"] / small["students"])
        print(f"per-student cost, {large['students']} vs {small['students']} students: "
              f"{ratio:.2f}x (1.00 = linear)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MB")


if __name__ == "__main__":
    main()
