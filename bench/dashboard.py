"""Benchmark: what the instructor dashboard's ``students`` count costs in Canvas requests.

A teacher of ``--courses`` courses of ``--students`` students each (``--shared`` of the first
course's students also enrolled in every other course) against the Canvas sandbox with
``--latency`` seconds per request, over HTTP (``app.test_client()``), the teacher's course
lists already cached. Prints, for a dashboard whose rosters are not cached: the roster
requests, the wall time, and the same rosters read one course at a time through
``CanvasGateway.students`` (the baseline, same process) with the speedup; then a dashboard
within the cache TTL (requests and p50), and one during an outage of the roster endpoint with
nothing cached (the answer falls back to the synced rosters; its wall time is one retry cycle).

Run: ``.venv/bin/python bench/dashboard.py`` (prints figures; not a test).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowgap import create_app  # noqa: E402
from knowgap.canvas.gateway import CACHE, CanvasGateway  # noqa: E402
from knowgap.core import db as dbmod  # noqa: E402
from tests.canvas_sandbox import CourseSpec, SandboxServer, build_world  # noqa: E402
from tests.canvas_sandbox.world import Enrollment  # noqa: E402
from tests.conftest import canvas_settings, make_config  # noqa: E402

DASHBOARD = "/achieveup/instructor/dashboard"
TOKEN = "teacher-token"


def build(courses: int, students: int, shared: int):
    specs = [CourseSpec(101 + i, f"Course {i + 1}", f"C-{i + 1}", students, 1, 1)
             for i in range(courses)]
    world = build_world(specs, seed=7)
    for spec in specs[1:]:
        for sid in world.student_ids(101)[:shared]:
            world.enrollments.append(Enrollment(world.next_id("enrollment"), sid,
                                                spec.course_id, "StudentEnrollment", grades={}))
    distinct = {sid for s in specs for sid in world.student_ids(s.course_id)}
    return world, [s.course_id for s in specs], len(distinct)


def forget_rosters(db) -> None:
    db[CACHE].delete_many({"key": {"$regex": "/students$"}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=8)
    parser.add_argument("--students", type=int, default=250)
    parser.add_argument("--shared", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    world, course_ids, distinct = build(args.courses, args.students, args.shared)
    with SandboxServer(world, latency_s=args.latency) as sandbox:
        config = make_config(**canvas_settings(sandbox), log_level="ERROR",
                             canvas_max_retries=2, canvas_timeout_seconds=20.0)
        db = dbmod.connect("", "bench-dashboard")
        app = create_app(config, db=db)
        client = app.test_client()
        r = client.post("/auth/signup", json={
            "name": "Bench Teacher", "email": "bench-dashboard@example.edu",
            "password": "Correct horse battery 9", "canvasApiToken": TOKEN})
        headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
        body = client.get(DASHBOARD, headers=headers).get_json()   # caches the course lists
        assert body["students"] == distinct, (body, distinct)
        pages = -(-args.students // 100)
        print(f"{args.courses} courses x {args.students} students ({distinct} distinct), "
              f"{args.latency * 1000:.0f} ms per Canvas request")

        forget_rosters(db)
        sandbox.state.reset_counters()
        t = time.perf_counter()
        assert client.get(DASHBOARD, headers=headers).get_json()["students"] == distinct
        cold = time.perf_counter() - t
        requests = sandbox.state.total_requests
        in_flight = max(sandbox.state.max_in_flight.values())
        print(f"dashboard, rosters not cached: {requests} Canvas requests "
              f"({args.courses} courses x {pages} pages), {in_flight} in flight at most, "
              f"{cold * 1000:.0f} ms")

        forget_rosters(db)
        sandbox.state.reset_counters()
        gateway = CanvasGateway(app.extensions["knowgap"], TOKEN, sandbox.base_url)
        t = time.perf_counter()
        for cid in course_ids:
            gateway.students(cid)
        one_by_one = time.perf_counter() - t
        print(f"baseline, the same rosters one course at a time: "
              f"{sandbox.state.total_requests} requests, {one_by_one * 1000:.0f} ms: "
              f"{one_by_one / cold:.1f}x slower")

        sandbox.state.reset_counters()
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            client.get(DASHBOARD, headers=headers)
            times.append(time.perf_counter() - t)
        print(f"dashboard within the cache TTL: {sandbox.state.total_requests} Canvas requests "
              f"in {args.repeat} dashboards, p50 {statistics.median(times) * 1000:.1f} ms")

        forget_rosters(db)
        sandbox.inject("503", count=1_000_000, path="/enrollments")
        sandbox.state.reset_counters()
        t = time.perf_counter()
        r = client.get(DASHBOARD, headers=headers)
        print(f"roster endpoint down, nothing cached: HTTP {r.status_code}, students "
              f"{r.get_json()['students']} (synced rosters; none synced here), "
              f"{sandbox.state.total_requests} requests, "
              f"{(time.perf_counter() - t) * 1000:.0f} ms")
        sandbox.state.clear_faults()


if __name__ == "__main__":
    main()
