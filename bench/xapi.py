"""Benchmark: xAPI statements of a 1,000-student course delivered to a real LRS.

The course (1,000 students x 8 quizzes x 12 questions x 2 graded attempts, 12 skills) is synced
from the Canvas sandbox (in a child process, as in ``bench/canvas_sync.py``) through the real
sync job, on the embedded database; statements go to ralph-malph (``tests/lrs``: its
file-system backend on a loopback port). Printed:

1. **The sync's own wall time with xAPI delivery off vs on** (the job from its claim to
   ``succeeded``; alternated off, on, on, off, … in one process, each on a fresh database). With
   delivery on, the sync only derives the skill changes of its summaries and queues the
   delivery job (``knowgap.xapi.stage.course_updated``); target: within 10 %.
2. **Derivation**: the delivery job turning the stored rows and badges into outbox events
   (``delivery.derive_stored``), and our own cost per statement (build + validate, no I/O).
3. **Batch size effect**: the first ``--sample`` statements delivered into a fresh LRS store
   with each of ``--batch-sizes`` (the real delivery loop: build, validate, POST, mark).
4. **The whole course** delivered with ``--batch`` (the course's ``XAPI_BATCH_SIZE``):
   statements per second, and the LRS's file counted afterwards (every statement exactly once).

ralph's file-system backend reads its whole statement file on every POST (to find ids it
already has, ``ralph/api/routers/statements.py``), so its cost per request grows with what it
holds; figures 3 and 4 are mostly the LRS's. Run: ``.venv/bin/python bench/xapi.py``
(``--students``, ``--attempts``, ``--rounds``, ``--sample``, ``--batch-sizes``, ``--batch``).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COURSE = 101
TOKEN = "teacher-token"


def _spec(args):
    from tests.canvas_sandbox import CourseSpec

    return CourseSpec(COURSE, "Benchmark Biology", "BIO-900", args.students, args.quizzes,
                      args.questions, attempts=args.attempts)


def _serve(conn, spec) -> None:
    from tests.canvas_sandbox import SandboxServer, build_world

    server = SandboxServer(build_world([spec], seed=7), latency_s=0.0,
                           throttle=True).start(timeout=600)   # a busy machine warms slowly
    gc.freeze()
    conn.send(server.base_url)
    conn.recv()
    server.stop()
    conn.send(None)


class ChildSandbox:
    def __init__(self, spec):
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, spec), daemon=True)
        self._proc.start()
        while not self._conn.poll(1.0):
            if not self._proc.is_alive():
                raise RuntimeError("the Canvas sandbox did not start (see above)")
        self.base_url = self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._proc.join(10)


def skill_map(spec, skills: int) -> list[dict]:
    """Every question of the course mapped to one of ``skills`` skills (the same world the
    sandbox serves: ``build_world`` is deterministic)."""
    from tests.canvas_sandbox import build_world

    world = build_world([spec], seed=7)
    names = [f"Skill {i:02d}" for i in range(skills)]
    out, i = [], 0
    for quiz in world.course_quizzes(COURSE):
        for q in world.questions[quiz.id]:
            out.append({"course_id": str(COURSE), "question_id": str(q.id),
                        "quiz_id": str(quiz.id), "skills": [names[i % skills]]})
            i += 1
    return names, out


def new_app(config, base_url):
    """(app, the database scoped to the sandbox's Canvas host) on a fresh embedded database."""
    from knowgap import create_app
    from knowgap.canvas.hosts import canvas_host
    from knowgap.core import db as dbmod
    from knowgap.core.tenancy import scoped

    db = dbmod.connect("", "bench")
    return create_app(config, db=db), scoped(db, canvas_host(base_url))


def seed_course(app, db, names, mapping, base_url) -> str:
    from bson import ObjectId

    from achieveup.mastery import store as records
    from knowgap.core.tenancy import where

    uid = ObjectId()
    services = app.extensions["knowgap"]
    db[records.USERS].insert_one({
        "_id": uid, "name": "Bench Teacher", "email": "bench@example.edu",
        "email_lower": "bench@example.edu", "role": "instructor", "canvas_base_url": base_url,
        **where(db, canvas_user_id="1"),
        "canvas_token_enc": services.cipher.encrypt(TOKEN, owner=str(uid))})
    db[records.MATRICES].insert_one(where(db, course_id=str(COURSE), instructor_id=str(uid),
                                          matrix_name="Bench", name_lower="bench",
                                          skills=names, description=""))
    db[records.QUESTION_SKILLS].insert_many([where(db, **m) for m in mapping])
    return str(uid)


def timed_stage():
    """Times ``knowgap.xapi.stage.course_updated`` (looked up at each call by the sync), all
    that delivery on adds to a sync: ([seconds spent], restore)."""
    from knowgap.xapi import stage

    spent, original = [0.0], stage.course_updated

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    stage.course_updated = timed
    return spent, lambda: setattr(stage, "course_updated", original)


def timed_sync(config, names, mapping, base_url, *, xapi_on: bool):
    """(sync job seconds, seconds of it in xAPI, app, db, job counts) on a fresh database."""
    from achieveup.sync.service import enqueue_sync
    from knowgap.jobs import queue
    from knowgap.jobs.worker import Worker
    from knowgap.xapi import store

    app, db = new_app(config, base_url)
    uid = seed_course(app, db, names, mapping, base_url)
    if xapi_on:
        store.set_enabled(db, str(COURSE), True, uid, store.utcnow())
    job_id, _ = enqueue_sync(db, str(COURSE), uid, full=True)
    worker = Worker(app, worker_id="bench")
    gc.collect()
    spent, restore = timed_stage()
    started = time.perf_counter()
    try:
        assert worker.run_once()
    finally:
        restore()
    seconds = time.perf_counter() - started
    job = queue.get_job(db, job_id)
    assert job["state"] == "succeeded", job
    return seconds, spent[0], app, db, job["counts"]


def sync_rounds(args, config, names, mapping, base_url):
    print(f"\n== 1. The sync's own wall time, xAPI delivery off vs on "
          f"({args.rounds} rounds, alternated) ==")
    times = {False: [], True: []}
    in_xapi = []
    keep = None
    order = []
    for r in range(args.rounds):
        order += [False, True] if r % 2 == 0 else [True, False]
    for on in order:
        seconds, xapi_s, app, db, counts = timed_sync(config, names, mapping, base_url,
                                                      xapi_on=on)
        times[on].append(seconds)
        print(f"  delivery {'on ' if on else 'off'}: {seconds:6.2f} s "
              f"({counts['results_new']:,} answers stored"
              + (f"; {xapi_s:.2f} s of it in xAPI's stage)" if on else ")"))
        if on:
            in_xapi.append(xapi_s / seconds)
            keep = (app, db)
        else:
            del app, db
        gc.collect()
    off, on = sum(times[False]) / len(times[False]), sum(times[True]) / len(times[True])
    print(f"  mean off {off:.2f} s, mean on {on:.2f} s: on / off = {on / off:.3f} "
          f"({100 * (on / off - 1):+.1f} %; target within 10 %); what delivery on adds "
          f"(xAPI's stage) is {100 * sum(in_xapi) / len(in_xapi):.2f} % of the on syncs")
    return keep, off, on


def derive_all(config, db):
    from knowgap.xapi import delivery, store
    from knowgap.xapi.statements import Identity

    print("\n== 2. Derivation (the delivery job's first step) ==")
    started = time.perf_counter()
    counts = delivery.derive_stored(db, config, str(COURSE))
    seconds = time.perf_counter() - started
    events = [e for b in db[store.OUTBOX].find({"state": "pending"}, sort=[("created_at", 1),
                                                                            ("_id", 1)])
              for e in b["events"]]
    kinds = Counter(e["kind"] for e in events)
    print(f"  {len(events):,} statements in the outbox ({counts['derived']:,} derived from "
          f"stored rows and badges in {seconds:.2f} s, the rest by the sync from its "
          f"summaries): " + ", ".join(f"{k} {n:,}" for k, n in kinds.most_common()))
    ident = Identity.from_config(config)
    started = time.perf_counter()
    good, bad = delivery._statements({"events": events}, ident, db.canvas_host,
                                     store.utcnow(), None)
    seconds = time.perf_counter() - started
    print(f"  build + validate every statement: {seconds:.2f} s "
          f"({1e6 * seconds / len(events):.0f} us per statement; {len(bad)} invalid)")
    return events


def deliver_into(config, lrs, events, batch: int, host: str):
    """Deliver ``events`` in batches of ``batch`` into a fresh LRS store; (seconds, account)."""
    from knowgap.core import db as dbmod
    from knowgap.core.tenancy import scoped
    from knowgap.xapi import delivery, store

    account = lrs.account()
    cfg = config.with_overrides(xapi_batch_size=batch, **account.settings)
    db = scoped(dbmod.connect("", f"bench-deliver-{batch}"), host)
    now = store.utcnow()
    store.set_enabled(db, str(COURSE), True, "bench", now)
    store.add_batches(db, delivery.make_batches(db, str(COURSE), "bench", events, batch, now))
    started = time.perf_counter()
    counts = asyncio.run(delivery.deliver(db, cfg, str(COURSE), budget_seconds=None))
    seconds = time.perf_counter() - started
    assert counts["delivered"] == len({e["id"] for e in events}) and not counts["waiting"], counts
    return seconds, account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--quizzes", type=int, default=8)
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--attempts", type=int, default=2)
    parser.add_argument("--skills", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sample", type=int, default=20000)
    parser.add_argument("--batch-sizes", default="50,200,1000,5000")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--sync-only", action="store_true", help="stop after figure 1")
    args = parser.parse_args()

    from tests.conftest import make_config
    from tests.lrs import RalphLRS
    from knowgap.canvas.hosts import canvas_host

    spec = _spec(args)
    print(f"Course: {args.students:,} students x {args.quizzes} quizzes x {args.questions} "
          f"questions x {args.attempts} attempts, {args.skills} skills; embedded database; "
          f"Canvas sandbox in a child process (no latency)")
    names, mapping = skill_map(spec, args.skills)
    workdir = Path(tempfile.mkdtemp(prefix="bench-xapi-"))
    sandbox = ChildSandbox(spec)
    lrs = RalphLRS(workdir / "lrs", accounts=16).start()
    try:
        host = canvas_host(sandbox.base_url)
        base = make_config(canvas_base_url=sandbox.base_url, canvas_allowed_hosts=(host,),
                           canvas_timeout_seconds=300.0, log_level="ERROR",
                           xapi_batch_size=args.batch, xapi_timeout_seconds=600.0,
                           **lrs.account().settings)
        (app, db), off, on = sync_rounds(args, base, names, mapping, sandbox.base_url)
        if args.sync_only:
            return
        events = derive_all(base, db)

        print(f"\n== 3. Batch size effect: the first {args.sample:,} statements, each batch "
              f"size into an empty LRS store ==")
        sample = events[:args.sample]
        for size in [int(x) for x in args.batch_sizes.split(",")]:
            seconds, _ = deliver_into(base, lrs, sample, size, host)
            print(f"  batch {size:5d}: {seconds:7.2f} s, {len(sample) / seconds:8.0f} "
                  f"statements/s ({-(-len(sample) // size)} requests)")

        print(f"\n== 4. The whole course, batch {args.batch} ==")
        seconds, account = deliver_into(base, lrs, events, args.batch, host)
        stored = account.stored_lines()
        ids = [s["id"] for s in stored]
        unique = len(set(ids))
        print(f"  {len(events):,} statements in {seconds:.1f} s: {len(events) / seconds:.0f} "
              f"statements/s ({-(-len(events) // args.batch)} requests)")
        print(f"  the LRS holds {len(ids):,} statements, {unique:,} distinct ids "
              f"({'every statement exactly once' if len(ids) == unique == len(events) else 'MISMATCH'})")
        print(f"\nsync with delivery on / off: {on / off:.3f} "
              f"(target <= 1.10)")
    finally:
        lrs.stop()
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MB")


if __name__ == "__main__":
    main()
