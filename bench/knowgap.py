"""KnowGap benchmark: topics and videos for a large course, against 200 ms AI/YouTube fakes.

Course: 300 students x 15 quizzes x 20 questions, 30% of questions (outside the first quiz)
drawn from question banks (exact duplicate texts). The Canvas sandbox, the fake OpenAI and the
fake YouTube run on loopback over real HTTP. The course is synced first (timed separately),
then all topics and videos are generated (the figure that matters), then generated again to
show the cache (no calls).

Targets: AI calls == distinct question texts; YouTube calls == distinct topics; wall time of
generation <= (AI calls + YouTube calls) x latency / 8 (8 concurrent calls per service).

Run: ``.venv/bin/python bench/knowgap.py [--latency 0.2]``
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import load_config, new_encryption_key  # noqa: E402
from knowgap.core import db as dbmod  # noqa: E402
from knowgap.courses import store  # noqa: E402
from knowgap.courses.service import sync_course  # noqa: E402
from knowgap.identity.canvas_access import CanvasAccess  # noqa: E402
from knowgap.topics.pipeline import AI_CONCURRENCY, generate_course_content  # noqa: E402
from knowgap.videos.store import topic_cache_key  # noqa: E402
from tests.canvas_sandbox import CourseSpec, SandboxServer, build_world  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402
from tests.fakes.youtube_server import FakeYouTubeServer  # noqa: E402

COURSE_ID = 501


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="AI/YouTube latency (s)")
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--quizzes", type=int, default=15)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--dup", type=float, default=0.3, help="duplicate_bank_ratio")
    args = parser.parse_args()

    spec = CourseSpec(COURSE_ID, "Benchmark Course", "BENCH-501", n_students=args.students,
                      n_quizzes=args.quizzes, n_questions_per_quiz=args.questions,
                      duplicate_bank_ratio=args.dup)
    world = build_world([spec], seed=11)
    from knowgap import create_app

    with SandboxServer(world, throttle=True) as canvas, \
            FakeOpenAIServer(latency_s=args.latency) as ai, \
            FakeYouTubeServer(latency_s=args.latency) as yt:
        config = load_config(environ={}, app_env="bench", log_level="WARNING",
                             jwt_secret_key="bench-jwt-secret-key-long-enough-0123456789",
                             token_encryption_key=new_encryption_key(), badge_salt="b",
                             run_worker_thread=False, canvas_base_url=canvas.base_url,
                             canvas_allowed_hosts=(canvas.host,), openai_api_key="bench",
                             openai_base_url=ai.base_url, openai_timeout_seconds=30.0,
                             youtube_api_key="bench", youtube_base_url=yt.base_url)
        app = create_app(config, db=dbmod.connect("", "bench"))
        svc = app.extensions["knowgap"].scoped(canvas.host)    # the sandbox's records
        access = CanvasAccess(canvas.base_url, "teacher-token", config)

        t0 = time.perf_counter()
        synced = sync_course(svc, access, str(COURSE_ID), instructor=True, generate=False)
        sync_s = time.perf_counter() - t0

        ai.reset()
        yt.reset()
        t0 = time.perf_counter()
        summary = generate_course_content(svc, str(COURSE_ID))
        wall = time.perf_counter() - t0
        ai_calls, yt_calls = ai.calls, yt.calls
        ai_peak, yt_peak = ai.max_in_flight, yt.max_in_flight

        questions = [q for q in svc.db[store.QUESTIONS].find({"course_id": str(COURSE_ID)})
                     if q["question_type"] not in store.NO_TOPIC_TYPES]
        distinct_texts = len({q["text_hash"] for q in questions})
        distinct_topics = len({topic_cache_key(q["core_topic"]) for q in questions})
        with_video = sum(1 for q in questions if q.get("video"))

        ai.reset()
        yt.reset()
        t0 = time.perf_counter()
        generate_course_content(svc, str(COURSE_ID))
        rerun_s = time.perf_counter() - t0
        rerun_calls = ai.calls + yt.calls

    calls = ai_calls + yt_calls
    budget = calls * args.latency / AI_CONCURRENCY
    ai_only_floor = -(-ai_calls // AI_CONCURRENCY) * args.latency
    checks = {
        "AI calls == distinct question texts": ai_calls == distinct_texts,
        "YouTube calls == distinct topics": yt_calls == distinct_topics,
        f"wall <= calls x {args.latency * 1000:.0f} ms / 8 ({budget:.2f} s)": wall <= budget,
    }
    print(f"course: {args.students} students x {args.quizzes} quizzes x {args.questions} "
          f"questions, duplicate_bank_ratio={args.dup}, AI/YouTube latency "
          f"{args.latency * 1000:.0f} ms")
    print(f"canvas sync (quizzes, questions, {synced['students']} students' submissions): "
          f"{sync_s:.2f} s; {synced['questions']} questions, "
          f"{synced['incorrect_answers']} incorrect answers stored")
    print(f"generation wall time:   {wall:.2f} s")
    print(f"AI calls:               {ai_calls} (peak in flight {ai_peak})")
    print(f"YouTube calls:          {yt_calls} (peak in flight {yt_peak})")
    print(f"questions with topics:  {len(questions)} (text-only items excluded)")
    print(f"distinct question texts:{distinct_texts:>5}")
    print(f"distinct topics:        {distinct_topics}")
    print(f"questions with a video: {with_video}")
    print(f"lower bound for AI alone: ceil({ai_calls}/8) x {args.latency:.1f} s = "
          f"{ai_only_floor:.2f} s")
    print(f"second run (all cached): {rerun_s:.2f} s, {rerun_calls} calls")
    print(f"summary: {summary['topics']} {summary['videos']}")
    for name, ok in checks.items():
        print(f"[{'PASS' if ok else 'FAIL'}] {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
