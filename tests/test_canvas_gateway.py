"""CanvasGateway: Mongo cache (hit/miss/TTL), stale copies on Canvas failure, deadlines,
host refusal, and running from threads and from inside an event loop."""
from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask, g

from conftest import make_config
from knowgap.canvas.errors import CanvasError, CanvasTokenInvalid, CanvasUnavailable
from knowgap.canvas.gateway import CACHE, CanvasGateway
from knowgap.core.crypto import TokenCipher
from knowgap.core.db import IndexManager
from knowgap.core.errors import AppError
from knowgap.core.services import Services
from tests.canvas_sandbox import CourseSpec, SandboxServer, build_world

COURSE = 101
FAST = dict(backoff_base=0.01, backoff_cap=0.05, throttle_backoff=0.01, request_timeout=2.0)


@pytest.fixture(scope="module")
def sandbox():
    world = build_world([CourseSpec(COURSE, "Biology", "BIO-1", 20, 2, 4)])
    with SandboxServer(world) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.state.clear_faults()
    sandbox.state.reset_counters()
    sandbox.state.reset_throttle()
    yield
    sandbox.state.clear_faults()


@pytest.fixture
def svc(sandbox, db):
    config = make_config(canvas_base_url=sandbox.base_url, canvas_allowed_hosts=(sandbox.host,),
                         canvas_max_retries=2, canvas_timeout_seconds=1.0)
    IndexManager(db).ensure()
    return Services(config=config, db=db, cipher=TokenCipher(config.token_encryption_key),
                    indexes=IndexManager(db))


def gw(svc, token="teacher-token", base_url=None):
    return CanvasGateway(svc, token, base_url, **FAST)


def age_cache(svc, seconds):
    svc.db[CACHE].update_many({}, {"$set": {
        "fetched_at": datetime.now(timezone.utc) - timedelta(seconds=seconds)}})


def test_miss_then_hit_makes_no_request(sandbox, svc):
    gateway = gw(svc)
    quizzes = gateway.quizzes(COURSE)
    # one answer from the Classic and the New Quizzes lists (the course has no New Quizzes)
    assert len(quizzes) == 2 and sandbox.state.total_requests == 2
    doc = svc.db[CACHE].find_one()
    assert set(doc) >= {"scope", "key", "data", "fetched_at"}
    assert doc["scope"] == gateway.scope and "teacher-token" not in str(doc)
    assert gw(svc).quizzes(COURSE) == quizzes                   # a new gateway, same token
    assert sandbox.state.total_requests == 2 and not gateway.last_stale


def test_cache_is_per_token(sandbox, svc):
    gw(svc).self_user()
    other = gw(svc, "ta-token").self_user()
    assert other["id"] == sandbox.world.ta_id and sandbox.state.total_requests == 2


def test_expired_entry_is_refetched(sandbox, svc):
    gateway = gw(svc)
    gateway.course(COURSE)
    age_cache(svc, svc.config.canvas_cache_ttl_seconds + 1)
    gateway.course(COURSE)
    assert sandbox.state.total_requests == 2
    gateway.course(COURSE, refresh=True)
    assert sandbox.state.total_requests == 3


def test_stale_copy_served_when_canvas_fails(sandbox, svc):
    gateway = gw(svc)
    fresh = gateway.students(COURSE)
    age_cache(svc, 3600)
    sandbox.inject("503", count=10)
    app = Flask(__name__)
    with app.test_request_context("/"):
        assert gateway.students(COURSE) == fresh
        assert gateway.last_stale is True and g.canvas_stale is True
    assert sandbox.state.total_requests == 1 + 1 + svc.config.canvas_max_retries
    sandbox.state.clear_faults()
    gateway.students(COURSE)
    assert gateway.last_stale is False                  # reset on the next call


def test_stale_copy_served_on_deadline(sandbox, svc):
    gateway = gw(svc)
    gateway.quizzes(COURSE)
    age_cache(svc, 3600)
    sandbox.inject("timeout", count=10, delay_s=10)
    started = time.monotonic()
    assert len(gateway.quizzes(COURSE)) == 2 and gateway.last_stale
    assert time.monotonic() - started < svc.config.canvas_timeout_seconds + 1


def test_no_cache_and_canvas_down_raises(sandbox, svc):
    sandbox.inject("timeout", count=10, delay_s=10)
    started = time.monotonic()
    with pytest.raises(CanvasUnavailable) as err:
        gw(svc).self_user()
    assert time.monotonic() - started < svc.config.canvas_timeout_seconds + 1
    assert err.value.status in (502, 504)


def test_token_errors_are_not_masked_by_the_cache(sandbox, svc):
    gateway = gw(svc)
    gateway.self_user()
    age_cache(svc, 3600)
    sandbox.inject("401", count=1)
    with pytest.raises(CanvasTokenInvalid):
        gateway.self_user()
    assert gateway.last_stale is False


def test_host_refused_before_any_request(sandbox, svc):
    with pytest.raises(AppError) as err:
        CanvasGateway(svc, "teacher-token", "https://169.254.169.254")
    assert err.value.status == 403 and err.value.error == "canvas_host_not_allowed"
    assert sandbox.state.total_requests == 0


def test_typed_calls(sandbox, svc):
    world = sandbox.world
    gateway = gw(svc)
    assert gateway.self_user()["id"] == world.teacher_id
    assert {c["id"] for c in gateway.courses()} == {COURSE}
    assert [c["id"] for c in gateway.instructor_courses()] == [COURSE]
    assert [c["id"] for c in gateway.teacher_courses()] == [COURSE]
    quiz = gateway.quizzes(COURSE)[0]
    assert len(gateway.questions(COURSE, quiz["id"])) == 4
    assert {e["type"] for e in gateway.enrollments(COURSE)} >= {"TeacherEnrollment"}
    student = world.student_ids(COURSE)[0]
    grade = gateway.student_grade(COURSE, student)
    assert grade["current_score"] is not None and "final_score" in grade
    assert gateway.run(lambda c: c.get_self())["id"] == world.teacher_id


def test_runs_from_threads_and_inside_an_event_loop(sandbox, svc):
    results, errors = [], []

    def worker():
        try:
            results.append(gw(svc).run(lambda c: c.get_self())["id"])
        except Exception as exc:               # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [sandbox.world.teacher_id] * 4

    async def inside_loop():
        return gw(svc).self_user()["id"]        # sync facade called from async code
    assert asyncio.run(inside_loop()) == sandbox.world.teacher_id


def test_student_ids_of_shares_the_students_cache_and_reports_each_failure(sandbox, svc):
    world = sandbox.world
    gateway = gw(svc)
    assert gateway.students(COURSE)[0]["user"]                # the whole roster is cached
    sandbox.state.reset_counters()
    found = gateway.student_ids_of([COURSE, world.other_course_id])
    assert found[str(COURSE)] == {str(s) for s in world.student_ids(COURSE)}
    assert isinstance(found[str(world.other_course_id)], CanvasError)   # not the teacher's
    assert sandbox.state.total_requests == 1 and not gateway.last_stale
    sandbox.state.reset_counters()
    assert gateway.student_ids_of([COURSE]) == {str(COURSE): found[str(COURSE)]}
    assert sandbox.state.total_requests == 0
    assert gateway.students(COURSE)[0]["user"]                # still whole for other readers


def test_student_ids_of_fetches_the_missing_courses_in_one_concurrent_run(sandbox, svc):
    ta = gw(svc, "ta-token")                   # TA of 101; 999 is not theirs: two rosters asked
    sandbox.state.latency_s = 0.05
    try:
        ta.student_ids_of([COURSE, sandbox.world.other_course_id])
    finally:
        sandbox.state.latency_s = 0.0
    assert sandbox.state.max_in_flight["ta-token"] == 2


def test_student_ids_of_stale_copy_and_outage(sandbox, svc):
    gateway = gw(svc)
    fresh = gateway.student_ids_of([COURSE])
    age_cache(svc, 3600)
    sandbox.inject("503", count=100)
    assert gateway.student_ids_of([COURSE]) == fresh and gateway.last_stale
    svc.db[CACHE].delete_many({})
    assert isinstance(gateway.student_ids_of([COURSE])[str(COURSE)], CanvasUnavailable)


def test_student_ids_of_raises_for_a_rejected_token(sandbox, svc):
    sandbox.inject("401", count=10)
    with pytest.raises(CanvasTokenInvalid):
        gw(svc).student_ids_of([COURSE])
