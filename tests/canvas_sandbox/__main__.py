"""Run a demo Canvas sandbox until interrupted.

    python -m tests.canvas_sandbox --port 8900 --students 30 --quizzes 4 --questions 10 --latency 0.05

Point the backend at ``http://127.0.0.1:8900`` (API root ``/api/v1``) and use a printed token.
"""

from __future__ import annotations

import argparse
import threading

from .server import SandboxServer
from .world import CourseSpec, build_world

DEMO_COURSES = (("Introduction to Biology", "BIO-101"), ("General Chemistry", "CHEM-110"),
                ("Physics I", "PHYS-120"), ("Earth Science", "GEO-105"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m tests.canvas_sandbox", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900)
    p.add_argument("--courses", type=int, default=2, help="number of courses (ids 101, 102, ...)")
    p.add_argument("--students", type=int, default=30, help="students per course")
    p.add_argument("--quizzes", type=int, default=4, help="quizzes per course")
    p.add_argument("--questions", type=int, default=10, help="questions per quiz")
    p.add_argument("--attempts", type=int, default=1)
    p.add_argument("--engine", choices=("classic", "new", "mixed"), default="mixed",
                   help="quiz engine: Classic Quizzes, New Quizzes, or every second quiz new")
    p.add_argument("--duplicates", type=float, default=0.2, help="question-bank reuse ratio")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-throttle", action="store_true")
    p.add_argument("--throttle-status", type=int, choices=(403, 429), default=403)
    a = p.parse_args(argv)

    specs = []
    for i in range(a.courses):
        name, code = DEMO_COURSES[i % len(DEMO_COURSES)]
        if i >= len(DEMO_COURSES):
            name, code = f"{name} (section {i // len(DEMO_COURSES) + 1})", f"{code}-{i}"
        specs.append(CourseSpec(101 + i, name, code, a.students, a.quizzes, a.questions,
                                duplicate_bank_ratio=a.duplicates, attempts=a.attempts,
                                engine=a.engine))
    world = build_world(specs, seed=a.seed)
    server = SandboxServer(world, host=a.host, port=a.port, latency_s=a.latency,
                           throttle=not a.no_throttle, throttle_status=a.throttle_status).start()

    print(f"Canvas sandbox at {server.base_url}  (API root {server.api_url})")
    print("Tokens (Authorization: Bearer <token>):")
    print(f"  teacher-token         user {world.teacher_id}, teaches courses "
          f"{', '.join(str(s.course_id) for s in specs)}")
    print(f"  ta-token              user {world.ta_id}, TA in every course")
    print(f"  dual-role-token       user {world.dual_role_id}, teacher in {specs[0].course_id if specs else '-'}"
          f", student in {world.other_course_id}")
    print(f"  designer-token        user {world.designer_id}, designer in the first course")
    print(f"  other-teacher-token   user {world.other_teacher_id}, teaches only {world.other_course_id}")
    for s in specs:
        ids = world.student_ids(s.course_id)
        if ids:
            print(f"  student-token-{ids[0]:<7} first of {len(ids)} students in {s.course_id} "
                  f"(student-token-{ids[0]} .. student-token-{ids[-1]})")
    print("Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
