"""Benchmark: item analysis and study plans on the 1,000-student benchmark course.

Builds the course of ``bench.analytics`` (1,000 students, 40 skills, 300 questions in 30
quizzes, 3 graded attempts each) and adds one 20-question multiple-choice quiz (4 choices per
question, 3 attempts per student: 60,000 result rows, stored through the sync's own
``store_results``). The item-response read model is built by the sync's own code
(``achieveup.insights.ingest.update_item_responses``) for all 31 quizzes, mastery and badges
by ``pipeline.recompute``, and one quiz submission per (student, quiz) is stored through
``ingest.store_quiz_submissions``. Then, over HTTP (``app.test_client()``, as an instructor
whose ownership is checked against a Canvas sandbox), 50 requests each:

* item analysis of the 20-question quiz (target p95 < 300 ms), against a baseline in the same
  process: the same analysis computed from the quiz's 60,000 stored result rows (what the route
  would cost without the read model);
* the study plans of the 50 students with the most skills still to master (the longest
  plans; target p95 < 300 ms);
* a student's engagement, the leaderboard, the course engagement list and the xlsx export
  (which now carries the item analysis of every quiz), for information;
* GET /auth/me as the floor of an authenticated request.

Run: ``.venv/bin/python -m bench.insights`` (from the repository root).
"""
from __future__ import annotations

import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import analytics  # noqa: E402

COURSE = analytics.COURSE
QUIZ = "29000"
N_CHOICE_QUESTIONS, N_CHOICES = 20, 4
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "50"))   # fewer on a busy machine


def seed_choice_quiz(db, now) -> list[dict]:
    """The 20-question multiple-choice quiz: questions (with answers), skills, result rows
    (stored like a sync stores them) and the students' evidence. Returns the result rows."""
    from achieveup.mastery import store
    from achieveup.sync import service as sync
    from knowgap.core.tenancy import key, where

    rng = random.Random(7)
    skills = [f"Skill {i:02d}" for i in range(analytics.N_SKILLS)]
    db[store.QUIZZES].insert_one({
        "_id": key(db, COURSE, QUIZ), **where(db, course_id=COURSE), "quiz_id": QUIZ,
        "title": "Midterm (multiple choice)", "assignment_id": "49000",
        "points_possible": float(N_CHOICE_QUESTIONS), "scoring_policy": "keep_latest",
        "source": "classic"})
    questions, difficulty = [], {}
    for k in range(N_CHOICE_QUESTIONS):
        qid = str(190000 + k)
        answers = [{"id": 1900000 + k * 10 + c, "text": f"Choice {c + 1} of question {k + 1}",
                    "weight": 100 if c == 0 else 0} for c in range(N_CHOICES)]
        questions.append({"id": qid, "quiz_id": QUIZ, "position": k + 1,
                          "question_type": "multiple_choice_question",
                          "question_text": f"<p>Question {k + 1} of the midterm?</p>",
                          "points_possible": 1.0, "answers": answers})
        difficulty[qid] = rng.random()
    db[store.QUESTIONS].insert_many(sync.question_docs(db, COURSE, {QUIZ: questions}, now))
    db[store.QUESTION_SKILLS].insert_many([
        where(db, course_id=COURSE, question_id=q["id"], quiz_id=QUIZ,
              skills=[skills[k % analytics.N_SKILLS]]) for k, q in enumerate(questions)])
    rows = []
    for s in range(analytics.N_STUDENTS):
        sid = str(1001 + s)
        ability = 0.2 + 0.75 * rng.random()
        for a in range(1, analytics.ATTEMPTS + 1):
            graded_at = f"2024-10-{a:02d}T12:00:00Z"
            for q in questions:
                p = min(0.98, max(0.02, ability + 0.6 * (0.5 - difficulty[q["id"]])
                                  + 0.08 * (a - 1)))
                right = rng.random() < p
                pick = q["answers"][0] if right else rng.choice(q["answers"][1:3])
                rows.append({"_id": store.result_id(db, COURSE, sid, QUIZ, q["id"], a),
                             **where(db, course_id=COURSE), "student_id": sid, "quiz_id": QUIZ,
                             "question_id": q["id"], "attempt": a,
                             "graded_at": store.parse_time(graded_at),
                             "credit": 1.0 if right else 0.0, "points": 1.0 if right else 0.0,
                             "points_possible": 1.0, "correct": right, "source": "classic",
                             "answer_ids": [str(pick["id"])]})
    sync.store_results(db, COURSE, rows, now)          # the students' evidence too
    return rows


def seed_read_models(db, now) -> tuple[float, float]:
    """Item responses of the 30 quizzes of ``bench.analytics`` (from the stored evidence, the
    same rows a sync stored) and one quiz submission per (student, quiz), every 7th late.
    Returns the seconds the two sync steps took."""
    from achieveup.insights import ingest
    from achieveup.mastery import store

    quizzes = store.quizzes_of(db, COURSE)
    assignment = {q["quiz_id"]: q["assignment_id"] for q in quizzes}
    by_quiz: dict = {}
    submissions = []
    for sid, answers in store.course_answers(db, COURSE).items():
        last: dict = {}
        for quiz, question, attempt, graded_at, credit, _ in answers:
            if quiz != QUIZ:
                by_quiz.setdefault(quiz, []).append({
                    "student_id": sid, "quiz_id": quiz, "question_id": question,
                    "attempt": attempt, "credit": credit, "answer_ids": []})
            if attempt >= last.get(quiz, (0, None))[0]:
                last[quiz] = (attempt, graded_at)
        for quiz, (attempt, graded_at) in last.items():
            submissions.append({"assignment_id": assignment[quiz], "user_id": int(sid),
                                "attempt": attempt, "submitted_at": graded_at,
                                "workflow_state": "graded",
                                "late": (int(sid) + int(quiz)) % 7 == 0, "missing": False,
                                "excused": False})
    t = time.perf_counter()
    for quiz, rows in by_quiz.items():
        ingest.update_item_responses(db, COURSE, rows, now, full=True)
    t_responses = time.perf_counter() - t
    t = time.perf_counter()
    ingest.store_quiz_submissions(db, COURSE, submissions, quizzes, now)
    return t_responses, time.perf_counter() - t


def timed(client, paths, headers) -> tuple[float, float]:
    times = []
    for path in paths:
        t = time.perf_counter()
        r = client.get(path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
    return statistics.median(times), analytics.percentile(times, 0.95)


def main():
    from achieveup.insights import ingest, service as insights
    from achieveup.insights import store as istore
    from achieveup import pipeline
    from achieveup.mastery import store
    from achieveup.mastery.summaries import skills_of, summaries_of_course
    from knowgap import create_app
    with analytics.bench_sandbox() as sandbox:
        config = analytics.bench_config(sandbox)
        raw, db = analytics.bench_db(sandbox, "bench_insights")
        app = create_app(config, db=raw)
        now = store.utcnow()
        t = time.perf_counter()
        analytics.seed(db)
        rows = seed_choice_quiz(db, now)
        print(f"seeded {analytics.N_STUDENTS} students x "
              f"{analytics.N_QUIZZES * analytics.Q_PER_QUIZ} questions x {analytics.ATTEMPTS} "
              f"attempts + a {N_CHOICE_QUESTIONS}-question multiple-choice quiz "
              f"({len(rows):,} stored result rows) in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        written = ingest.update_item_responses(db, COURSE, rows, now, full=True)
        print(f"sync step: item responses of the {N_CHOICE_QUESTIONS}-question quiz from its "
              f"{len(rows):,} rows: {(time.perf_counter() - t) * 1000:.0f} ms "
              f"({written} documents)")
        t_resp, t_subs = seed_read_models(db, now)
        print(f"sync steps: item responses of the other {analytics.N_QUIZZES} quizzes "
              f"{t_resp:.1f} s; {analytics.N_STUDENTS * (analytics.N_QUIZZES + 1):,} quiz "
              f"submissions {t_subs:.1f} s")
        with app.app_context():
            t = time.perf_counter()
            pipeline.recompute(db, config, COURSE)
            print(f"mastery + badges recompute (with the engagement risk factor): "
                  f"{time.perf_counter() - t:.1f} s")

        headers = analytics.instructor_headers(app, config, sandbox)
        client = app.test_client()
        # the heaviest plans: the students with the most skills still to master
        open_skills = {d["student_id"]: sum(1 for e in skills_of(d)
                                            if not e["mastered"])
                       for d in summaries_of_course(db, COURSE)}
        students = sorted(open_skills, key=lambda s: (-open_skills[s], s))[:REQUESTS]
        base = "/achieveup/instructor/courses"
        item_path = f"{base}/{COURSE}/quizzes/{QUIZ}/item-analysis"
        body = client.get(item_path, headers=headers).get_json()
        assert len(body["items"]) == N_CHOICE_QUESTIONS and body["students"] == 1000, body
        plans = [client.get(f"/achieveup/study-plan/{s}/{COURSE}", headers=headers).get_json()
                 for s in students]
        print(f"study plans of the {REQUESTS} students with the most open skills: "
              f"{statistics.mean(len(p['skills']) for p in plans):.1f} skills and "
              f"{statistics.mean(sum(len(s['questions']) for s in p['skills']) for p in plans):.1f}"
              f" missed questions on average")

        quiz = istore.quiz_of(db, COURSE, QUIZ)
        questions = istore.questions_of(db, COURSE, QUIZ)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            result_rows = istore.results_of_quiz(db, COURSE, QUIZ)
            by_question = ingest.answers_by_question(ingest.latest_attempts(result_rows)[QUIZ])
            insights.analyze(quiz, questions,
                             {qid: istore.stored_columns(istore.columns(rows))
                              for qid, rows in by_question.items()})
            times.append((time.perf_counter() - t) * 1000)
        baseline = statistics.median(times)

        p50, p95 = timed(client, [item_path] * REQUESTS, headers)
        print(f"item analysis ({N_CHOICE_QUESTIONS} questions, 1,000 students): p50 {p50:.0f} "
              f"ms, p95 {p95:.0f} ms (target p95 < 300 ms); baseline from the "
              f"{len(rows):,} result rows {baseline:.0f} ms (median of 5): "
              f"{baseline / p50:.1f}x faster")
        p50, p95 = timed(client, [f"/achieveup/study-plan/{s}/{COURSE}" for s in students],
                         headers)
        print(f"study plan ({REQUESTS} different students): p50 {p50:.0f} ms, p95 {p95:.0f} "
              f"ms (target p95 < 300 ms)")
        for name, paths in (
                ("student engagement", [f"/achieveup/engagement/{s}/{COURSE}"
                                        for s in students]),
                ("leaderboard", [f"/achieveup/leaderboard/{COURSE}"] * REQUESTS),
                ("course engagement (1,000 students)",
                 [f"{base}/{COURSE}/engagement"] * 10),
                ("export xlsx with items", [f"/achieveup/export/{COURSE}?format=xlsx"] * 10),
                ("GET /auth/me (floor)", ["/auth/me"] * REQUESTS)):
            p50, p95 = timed(client, paths, headers)
            print(f"{name}: p50 {p50:.0f} ms, p95 {p95:.0f} ms ({len(paths)} requests)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MB")


if __name__ == "__main__":
    main()
