"""Benchmark: mastery/badge recompute and the analytics endpoints on a large course.

Seeds one course (1,000 students, 40 skills, 300 questions in 30 quizzes, 3 graded attempts
each = 900,000 question results) straight into the embedded database, then prints:
the time of a full recompute (mastery for every student + badge awards), p50/p95 of
student-analytics, export?format=xlsx, export?format=csv (the same rows: the xlsx/csv ratio
holds on a loaded machine) and the dashboard over HTTP (app.test_client(), 50 requests each,
as a real instructor whose ownership is checked against a Canvas sandbox that teaches the
course), and peak memory (ru_maxrss).

What is seeded: the packed per-student evidence (``AchieveUp_Student_Evidence``, exactly what a
sync writes and what the recompute reads), quizzes, students, matrix and question->skill map.
The 900,000 per-question audit rows (``AchieveUp_Question_Results``) are NOT seeded: the
recompute never reads them, and the embedded engine would need ~1 GB to hold them.

Run: ``.venv/bin/python -m bench.analytics`` (from the repository root).
"""
from __future__ import annotations

import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COURSE = "501"
N_STUDENTS, N_SKILLS, N_QUIZZES, Q_PER_QUIZ, ATTEMPTS = 1000, 40, 30, 10, 3
REQUESTS = 50


def seed(db):
    """``db`` is scoped to the sandbox's Canvas host (``knowgap.core.tenancy``)."""
    from achieveup.mastery import store
    from knowgap.core.tenancy import key, where

    rng = random.Random(42)
    skills = [f"Skill {i:02d}" for i in range(N_SKILLS)]
    db[store.MATRICES].insert_one(where(db, course_id=COURSE, instructor_id="bench",
                                        matrix_name="Bench", name_lower="bench",
                                        skills=skills, description="",
                                        created_at=store.utcnow(), updated_at=store.utcnow()))
    questions = []
    quizzes = []
    for qz in range(N_QUIZZES):
        quiz_id = str(20000 + qz)
        quizzes.append({"_id": key(db, COURSE, quiz_id), **where(db, course_id=COURSE),
                        "quiz_id": quiz_id,
                        "title": f"Quiz {qz}", "assignment_id": str(40000 + qz),
                        "points_possible": 10.0,
                        "scoring_policy": "keep_highest" if qz % 2 == 0 else "keep_latest"})
        for k in range(Q_PER_QUIZ):
            qid = str(100000 + qz * Q_PER_QUIZ + k)
            questions.append((quiz_id, qid, rng.random()))
    db[store.QUIZZES].insert_many(quizzes)
    db[store.QUESTION_SKILLS].insert_many([
        where(db, course_id=COURSE, question_id=qid, quiz_id=quiz_id,
              skills=[skills[i % N_SKILLS]]) for i, (quiz_id, qid, _) in enumerate(questions)])
    students, evidence = [], []
    for s in range(N_STUDENTS):
        sid = str(1001 + s)
        ability = 0.2 + 0.75 * rng.random()
        students.append({"_id": key(db, COURSE, sid), **where(db, course_id=COURSE, student_id=sid),
                         "name": f"Student {sid}", "email": f"s{sid}@example.edu",
                         "current_score": round(100 * ability, 1)})
        rows = []
        for quiz_n, (quiz_id, qid, difficulty) in enumerate(questions):
            for a in range(1, ATTEMPTS + 1):
                p = min(0.98, max(0.02, ability + 0.6 * (0.5 - difficulty) + 0.08 * (a - 1)))
                credit = 1.0 if rng.random() < p else 0.0
                day = 2 + (quiz_n // Q_PER_QUIZ) + a
                rows.append([quiz_id, qid, a, f"2024-09-{min(day, 28):02d}T12:00:00Z", credit, 1.0])
        evidence.append({"_id": key(db, COURSE, sid), **where(db, course_id=COURSE, student_id=sid),
                         "count": len(rows), "packed": store.pack_evidence(rows)})
    db[store.STUDENTS].insert_many(students)
    db[store.EVIDENCE].insert_many(evidence)


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def timed_requests(client, path, headers):
    times = []
    for _ in range(REQUESTS):
        t = time.perf_counter()
        r = client.get(path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
    return statistics.median(times), percentile(times, 0.95)


def bench_sandbox():
    """A Canvas sandbox where the bench teacher (``teacher-token``) teaches ``COURSE``."""
    from tests.canvas_sandbox import CourseSpec, SandboxServer, build_world

    return SandboxServer(build_world(
        courses=[CourseSpec(int(COURSE), "Bench Course", "BENCH-501", 2, 1, 2)]))


def bench_db(sandbox, name: str):
    """(the embedded database, the same scoped to the sandbox's Canvas host)."""
    from knowgap.canvas.hosts import canvas_host
    from knowgap.core import db as dbmod
    from knowgap.core.tenancy import scoped

    db = dbmod.connect("", name)
    return db, scoped(db, canvas_host(sandbox.base_url))


def bench_config(sandbox):
    from tests.conftest import make_config

    # the access token outlives the run (50 exports on a slow or busy machine take a while)
    return make_config(canvas_base_url=sandbox.base_url, canvas_allowed_hosts=(sandbox.host,),
                       log_level="ERROR", jwt_access_minutes=24 * 60)


def instructor_headers(app, config, sandbox) -> dict:
    """The Authorization header of an instructor account holding the bench teacher's token."""
    from bson import ObjectId

    from achieveup.auth import tokens

    uid = ObjectId()
    app.extensions["knowgap"].db["AchieveUp_Users"].insert_one({
        "_id": uid, "name": "Bench Teacher", "email": "bench@example.edu",
        "email_lower": "bench@example.edu", "role": "instructor",
        "canvas_token_enc": app.extensions["knowgap"].cipher.encrypt("teacher-token",
                                                                     owner=str(uid)),
        "canvas_user_id": "1", "canvas_base_url": sandbox.base_url,
        "canvas_host": sandbox.host,
        "created_at": None, "updated_at": None})
    access, _ = tokens.issue_access(config, str(uid))
    return {"Authorization": f"Bearer {access}"}


def main():
    from achieveup.badges import service as badges
    from achieveup.mastery import service as mastery
    from achieveup.mastery import store
    from knowgap import create_app
    with bench_sandbox() as sandbox:
        config = bench_config(sandbox)
        raw, db = bench_db(sandbox, "bench")
        app = create_app(config, db=raw)
        t = time.perf_counter()
        seed(db)
        print(f"seeded {N_STUDENTS} students x {N_QUIZZES * Q_PER_QUIZ} questions x {ATTEMPTS} "
              f"attempts = {N_STUDENTS * N_QUIZZES * Q_PER_QUIZ * ATTEMPTS:,} results "
              f"in {time.perf_counter() - t:.1f} s")

        with app.app_context():
            # the same steps as mastery.recompute_course (what a sync runs), timed one by one
            t = time.perf_counter()
            with store.course_lock(db, COURSE):
                docs = mastery.compute_course(db, config, COURSE)
                t_compute = time.perf_counter() - t
                awarded = badges.apply_awards(db, config, COURSE, docs)
                t_badges = time.perf_counter() - t - t_compute
                mastery.write_summaries(db, COURSE, docs)
            total = time.perf_counter() - t
            print(f"full recompute (mastery + badges): {total:.2f} s "
                  f"[compute {t_compute:.2f} s, badges {t_badges:.2f} s "
                  f"({len(awarded):,} awarded), write summaries "
                  f"{total - t_compute - t_badges:.2f} s] target < 5 s")
            t = time.perf_counter()
            _, again = mastery.recompute_course(db, config, COURSE)
            print(f"second recompute (nothing new): {time.perf_counter() - t:.2f} s, "
                  f"{len(again)} new badges")
            t = time.perf_counter()
            again = badges.award_for_course(db, config, COURSE)
            print(f"badges/generate on stored summaries (nothing new): "
                  f"{time.perf_counter() - t:.2f} s, {len(again)} new badges")
            assert db[store.BADGES].count_documents({}) == len(awarded)

        headers = instructor_headers(app, config, sandbox)
        client = app.test_client()
        path = f"/achieveup/instructor/courses/{COURSE}/student-analytics"
        t = time.perf_counter()
        assert client.get(path, headers=headers).status_code == 200
        print(f"student-analytics, first request after the recompute (builds the cached "
              f"body): {(time.perf_counter() - t) * 1000:.0f} ms")
        p50s = {}
        for name, path, target in (
                ("student-analytics", f"/achieveup/instructor/courses/{COURSE}/student-analytics",
                 "p95 < 300 ms"),
                ("export xlsx", f"/achieveup/export/{COURSE}?format=xlsx", "< 3 s"),
                ("export csv", f"/achieveup/export/{COURSE}?format=csv", "-"),
                ("dashboard", "/achieveup/instructor/dashboard", "-")):
            p50s[name], p95 = timed_requests(client, path, headers)
            print(f"{name}: p50 {p50s[name]:.0f} ms, p95 {p95:.0f} ms ({REQUESTS} requests; "
                  f"target {target})")
        # the CSV export writes the same rows with the csv module: the xlsx/csv ratio compares
        # runs on machines of different speed or load
        print(f"export xlsx / export csv (same rows, p50): "
              f"{p50s['export xlsx'] / p50s['export csv']:.1f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MB (target < 500 MB)")


if __name__ == "__main__":
    main()
