"""CanvasClient, hosts and snapshot against the Canvas sandbox over real loopback HTTP.

The sandbox runs in this module (a small world, no latency unless a test sets it); every test
resets the sandbox's counters, faults and throttle state first.
"""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from conftest import make_config
from knowgap.canvas.client import CanvasClient, next_link
from knowgap.canvas.errors import (CanvasBadResponse, CanvasNotFound, CanvasPermissionDenied,
                                   CanvasTokenInvalid, CanvasUnavailable)
from knowgap.canvas.hosts import canvas_base_url, host_allowed, same_origin
from knowgap.canvas.roles import course_roles, is_instructor_of
from knowgap.canvas.runner import run_sync
from knowgap.canvas.snapshot import CourseSnapshot, fetch_course_snapshot
from knowgap.core.errors import AppError
from tests.canvas_sandbox import CourseSpec, SandboxServer, build_world

COURSE = 101
N_STUDENTS = 120
N_QUIZZES = 3
FAST = dict(backoff_base=0.01, backoff_cap=0.05, throttle_backoff=0.01, request_timeout=2.0)


@pytest.fixture(scope="module")
def sandbox():
    world = build_world([CourseSpec(COURSE, "Biology", "BIO-1", N_STUDENTS, N_QUIZZES, 5,
                                    attempts=2)])
    with SandboxServer(world) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(sandbox):
    state = sandbox.state
    state.clear_faults()
    state.reset_counters()
    state.reset_throttle()
    saved = (state.latency_s, state.throttle_enabled, state.high_water, state.outflow_per_s)
    yield
    state.latency_s, state.throttle_enabled, state.high_water, state.outflow_per_s = saved
    state.clear_faults()


@pytest.fixture
def cfg(sandbox):
    return make_config(canvas_base_url=sandbox.base_url, canvas_allowed_hosts=(sandbox.host,),
                       canvas_max_retries=3)


def run(coro_factory, timeout=15):
    return run_sync(coro_factory, timeout=timeout)


def call(cfg, fn, token="teacher-token", **kw):
    async def main():
        async with CanvasClient(None, token, config=cfg, **{**FAST, **kw}) as c:
            return await fn(c)
    return run(main)


# ---------------------------------------------------------------- hosts
def test_host_rules():
    cfg = make_config(canvas_allowed_hosts=("canvas.example.edu", "*.instructure.com",
                                            "127.0.0.1:5123", "localhost:8900"))
    assert canvas_base_url("canvas.example.edu", cfg) == "https://canvas.example.edu"
    assert canvas_base_url("https://ucf.instructure.com/courses/1", cfg) == "https://ucf.instructure.com"
    assert canvas_base_url("http://127.0.0.1:5123/x", cfg) == "http://127.0.0.1:5123"
    assert canvas_base_url("http://localhost:8900", cfg) == "http://localhost:8900"
    for bad in ("instructure.com", "evil.com", "https://canvas.example.edu.evil.com",
                "http://canvas.example.edu",              # clear text to a real host
                "https://canvas.example.edu@evil.com", "http://localhost:8901",
                "http://127.0.0.1:5124", "https://canvas.example.edu:8443",
                "ftp://canvas.example.edu", "", "https://", "javascript:alert(1)"):
        with pytest.raises(AppError) as err:
            canvas_base_url(bad, cfg)
        assert err.value.status == 403 and err.value.error == "canvas_host_not_allowed", bad
    assert host_allowed("a.b.instructure.com", 443, ("*.instructure.com",))
    assert same_origin("http://127.0.0.1:5/api?page=2", "http://127.0.0.1:5")
    assert not same_origin("http://127.0.0.1:6/api", "http://127.0.0.1:5")
    assert not same_origin("http://evil.com:5/api", "http://127.0.0.1:5")


def test_host_refused_before_any_request(sandbox, cfg):
    with pytest.raises(AppError) as err:
        CanvasClient("https://evil.example.com", "teacher-token", config=cfg)
    assert err.value.error == "canvas_host_not_allowed"
    with pytest.raises(AppError):                      # loopback, but not on the list
        CanvasClient(f"http://localhost:{sandbox.port}", "teacher-token", config=cfg)
    default_cfg = make_config(canvas_base_url=sandbox.base_url)   # allow-list lacks 127.0.0.1
    with pytest.raises(AppError):
        CanvasClient(None, "teacher-token", config=default_cfg)
    assert sandbox.state.total_requests == 0


def test_link_header_parsing():
    header = ('<https://c.edu/api/v1/x?page=1&per_page=100>; rel="current",'
              '<https://c.edu/api/v1/x?page=bookmark:WzJd&per_page=100>; rel="next",'
              '<https://c.edu/api/v1/x?page=first>; rel="first"')
    assert next_link(header) == "https://c.edu/api/v1/x?page=bookmark:WzJd&per_page=100"
    assert next_link('<https://c.edu/a>; rel="last"') is None
    assert next_link(None) is None


def test_roles_normalised():
    course = {"enrollments": [{"type": "teacher", "role": "TeacherEnrollment",
                               "enrollment_state": "active"},
                              {"type": "StudentEnrollment"}]}
    assert course_roles(course) == {"teacher", "student"}
    assert is_instructor_of(course)
    assert course_roles([{"type": "DesignerEnrollment"}]) == {"designer"}
    assert not is_instructor_of({"enrollments": [{"type": "student"}]})
    assert not is_instructor_of({"enrollments": [{"type": "teacher", "enrollment_state": "completed"}]})


# ---------------------------------------------------------------- pagination
def test_pagination_follows_next_links_over_many_pages(sandbox, cfg):
    assignment_ids = [q.assignment_id for q in sandbox.world.course_quizzes(COURSE)]
    subs = call(cfg, lambda c: c.list_submissions_with_history(COURSE, assignment_ids))
    assert len(subs) == N_STUDENTS * N_QUIZZES == 360
    assert len({(s["assignment_id"], s["user_id"]) for s in subs}) == 360
    assert all(s["submission_history"] for s in subs)
    log = [e for e in sandbox.state.request_log if e["path"].endswith("/students/submissions")]
    assert len(log) == 4                                          # 100 + 100 + 100 + 60
    assert all("per_page=100" in e["query"] for e in log)
    assert sum("page=bookmark" in e["query"] for e in log) == 3  # followed verbatim
    assert all(e["query"].count("assignment_ids") == N_QUIZZES for e in log)


def test_get_all_unwraps_object_pages(sandbox, cfg):
    quiz = sandbox.world.course_quizzes(COURSE)[0]
    rows = call(cfg, lambda c: c.get_all(f"/courses/{COURSE}/quizzes/{quiz.id}/submissions",
                                         key="quiz_submissions"))
    assert len(rows) == N_STUDENTS and sandbox.state.total_requests == 2


def test_next_link_to_foreign_host_is_refused(sandbox, cfg):
    async def main():
        async with CanvasClient(None, "teacher-token", config=cfg, **FAST) as c:
            # The sandbox builds Link URLs from the Host header: make it name another host.
            c._session.headers["Host"] = f"evil.example.com:{sandbox.port}"
            return await c.list_students(COURSE)

    with pytest.raises(CanvasBadResponse):
        run(main)
    assert sandbox.state.total_requests == 1       # the foreign next page was never requested


# ---------------------------------------------------------------- throttling & concurrency
def test_throttling_is_retried_until_every_request_completes(sandbox, cfg):
    state = sandbox.state
    state.latency_s = 0.02
    state.high_water = 300.0           # room for ~6 in flight: the client starts above that

    async def main():
        async with CanvasClient(None, "teacher-token", config=cfg, initial_concurrency=12,
                                **FAST) as c:
            results = await asyncio.gather(*[c.get(f"/courses/{COURSE}/quizzes")
                                             for _ in range(60)])
            return results, c

    results, client = run(main)
    assert len(results) == 60 and all(len(r) == N_QUIZZES for r in results)
    assert state.throttled > 0 and client.stats["throttled"] == state.throttled
    assert state.status_counts.get(200) == 60
    assert client.limiter.limit < 12               # the window shrank
    assert state.max_in_flight["teacher-token"] <= 12


def test_never_more_than_12_in_flight_even_across_clients(sandbox):
    cfg = make_config(canvas_base_url=sandbox.base_url, canvas_allowed_hosts=(sandbox.host,),
                      canvas_max_concurrency=50)          # a misconfiguration is capped too
    sandbox.state.latency_s = 0.03
    sandbox.state.throttle_enabled = False
    errors = []

    def worker():
        try:
            call(cfg, lambda c: asyncio.gather(*[c.get_self() for _ in range(40)]),
                 initial_concurrency=12)
        except Exception as exc:                       # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sandbox.state.total_requests == 120
    assert sandbox.state.max_in_flight["teacher-token"] == 12


# ---------------------------------------------------------------- faults
@pytest.mark.parametrize("kind", ["500", "502", "503", "reset"])
def test_transient_faults_are_retried(sandbox, cfg, kind):
    sandbox.inject(kind, count=2, path="/quizzes")
    quizzes = call(cfg, lambda c: c.list_quizzes(COURSE))
    assert len(quizzes) == N_QUIZZES
    assert sandbox.state.count("/quizzes") == 3


@pytest.mark.parametrize("kind", ["403", "429"])
def test_injected_rate_limit_responses_are_retried(sandbox, cfg, kind):
    sandbox.state.outflow_per_s = 100.0            # 429 then says Retry-After: 1
    sandbox.inject(kind, count=1, path="/users/self")
    started = time.monotonic()
    me = call(cfg, lambda c: c.get_self())
    elapsed = time.monotonic() - started
    assert me["id"] == sandbox.world.teacher_id
    assert sandbox.state.total_requests == 2
    if kind == "429":
        assert 0.9 <= elapsed < 3                  # Retry-After honoured
    else:
        assert elapsed < 1                         # 403 throttle: short backoff


def test_timeout_is_retried(sandbox, cfg):
    sandbox.inject("timeout", count=1, path="/users/self", delay_s=5)
    started = time.monotonic()
    me = call(cfg, lambda c: c.get_self(), request_timeout=0.3)
    assert me["id"] == sandbox.world.teacher_id
    assert time.monotonic() - started < 2


def test_deadline_bounds_a_hanging_canvas(sandbox, cfg):
    sandbox.inject("timeout", count=20, path="/users/self", delay_s=10)

    async def main():
        async with CanvasClient(None, "teacher-token", config=cfg, **FAST) as c:
            return await c.get_self()

    started = time.monotonic()
    with pytest.raises(CanvasUnavailable) as err:
        run_sync(main, timeout=0.5)
    assert err.value.status == 504
    assert time.monotonic() - started < 2


def test_exhausted_retries_raise_unavailable(sandbox, cfg):
    sandbox.inject("503", count=10, path="/users/self")
    with pytest.raises(CanvasUnavailable) as err:
        call(cfg, lambda c: c.get_self())
    assert err.value.status == 502 and err.value.error == "canvas_unavailable"
    assert sandbox.state.total_requests == 1 + cfg.canvas_max_retries


def test_malformed_json_is_a_bad_response(sandbox, cfg):
    sandbox.inject("malformed_json", count=1, path="/users/self")
    with pytest.raises(CanvasBadResponse):
        call(cfg, lambda c: c.get_self())


def test_invalid_token_and_permission_errors(sandbox, cfg):
    sandbox.inject("401", count=1, path="/users/self")
    with pytest.raises(CanvasTokenInvalid) as err:
        call(cfg, lambda c: c.get_self())
    assert err.value.status == 401 and "Settings" in err.value.message
    with pytest.raises(CanvasTokenInvalid):
        call(cfg, lambda c: c.get_self(), token="not-a-real-token")
    with pytest.raises(CanvasPermissionDenied) as err:      # 401 without WWW-Authenticate
        call(cfg, lambda c: c.list_quizzes(COURSE), token="other-teacher-token")
    assert err.value.message == "Canvas says you do not have permission for this course or resource."
    student = sandbox.world.student_ids(COURSE)[0]
    with pytest.raises(CanvasPermissionDenied):
        call(cfg, lambda c: c.list_questions(COURSE, sandbox.world.course_quizzes(COURSE)[0].id),
             token=f"student-token-{student}")
    with pytest.raises(CanvasNotFound):
        call(cfg, lambda c: c.get_course(424242))
    with pytest.raises(CanvasNotFound):
        call(cfg, lambda c: c.get_course("../users/self"))
    assert sandbox.state.total_requests == 5          # the bad id never left the process


def test_token_never_logged(sandbox, cfg, caplog):
    caplog.set_level("DEBUG", logger="knowgap.canvas")
    sandbox.inject("503", count=10, path="/users/self")
    with pytest.raises(CanvasUnavailable):
        call(cfg, lambda c: c.get_self())
    client = CanvasClient(None, "teacher-token", config=cfg)
    assert "teacher-token" not in caplog.text and "teacher-token" not in repr(client)
    assert client.fp in caplog.text


# ---------------------------------------------------------------- snapshot
def test_snapshot_and_incremental_graded_since(sandbox, cfg):
    world = sandbox.world
    progress = []
    snap = call(cfg, lambda c: fetch_course_snapshot(c, COURSE, on_progress=progress.append))
    assert snap.course["id"] == COURSE and len(snap.quizzes) == N_QUIZZES
    assert {len(v) for v in snap.questions.values()} == {5}
    assert set(snap.questions) == {q["id"] for q in snap.quizzes}
    assert len(snap.students) == N_STUDENTS and all("grades" in s for s in snap.students)
    assert len(snap.submissions) == N_STUDENTS * N_QUIZZES
    assert all(len(s["submission_history"]) == 2 for s in snap.submissions)
    assert progress and progress[-1] == 1.0
    paths = [e["path"] for e in sandbox.state.request_log]
    assert not any("quiz_submissions" in p for p in paths)
    assert snap.requests == sandbox.state.total_requests

    # a few new graded attempts, then an incremental sync
    quiz = world.course_quizzes(COURSE)[1]
    students = world.student_ids(COURSE)[:2]
    for sid in students:
        world.add_attempt(COURSE, quiz.id, sid)
    sandbox.state.reset_counters()
    stored = snap.to_dict()                       # what a consumer would keep in Mongo
    inc = call(cfg, lambda c: fetch_course_snapshot(
        c, COURSE, graded_since=snap.next_graded_since, previous=stored))
    assert inc.incremental
    assert sorted(s["user_id"] for s in inc.submissions) == sorted(students)
    assert all(len(s["submission_history"]) == 3 for s in inc.submissions)
    assert len(inc.reused_question_quizzes) == N_QUIZZES
    assert inc.questions == snap.questions
    assert len(inc.students) == N_STUDENTS
    queries = [e["query"] for e in sandbox.state.request_log if "submissions" in e["path"]]
    assert queries and all("graded_since=" in q for q in queries)
    assert sandbox.state.total_requests <= 5      # quizzes, submissions, 2 grades
    assert inc.next_graded_since > snap.next_graded_since


def test_snapshot_round_trips_through_dict():
    snap = CourseSnapshot("1", {"id": 1}, [{"id": 7}], {7: [{"id": 70}]}, [], [])
    assert CourseSnapshot.from_dict(snap.to_dict()) == snap


def test_snapshot_failure_propagates_as_canvas_error(sandbox, cfg):
    sandbox.inject("401", count=1, path="/questions")
    with pytest.raises(CanvasTokenInvalid):
        call(cfg, lambda c: fetch_course_snapshot(c, COURSE))


# ---------------------------------------------------------------- New Quizzes reports

@pytest.fixture
def nq(sandbox_factory):
    """A New Quizzes course of its own (reports mutate the sandbox's report desk)."""
    world = build_world([CourseSpec(301, "NQ", "NQ-1", 6, 2, 6, attempts=2, engine="new")],
                        seed=5)
    server = sandbox_factory(world)
    config = make_config(canvas_base_url=server.base_url, canvas_allowed_hosts=(server.host,),
                         canvas_max_retries=3)
    return server, config, world.course_quizzes(301, "new")[0]


def test_report_post_is_form_encoded_and_answered_wrapped(nq):
    """``client.py`` ``create_new_quiz_report``/``post``: the sandbox reads the parameters
    from a form only (a JSON body is a 400), and answers 201 ``{"progress": {...}}``."""
    from knowgap.canvas.errors import CanvasBadRequest

    server, config, quiz = nq
    answer = call(config, lambda c: c.create_new_quiz_report(301, quiz.assignment_id))
    assert set(answer) == {"progress"} and answer["progress"]["workflow_state"] == "queued"
    [entry] = [e for e in server.state.request_log if e["method"] == "POST"]
    assert entry["status"] == 201
    server.reports.reset()
    server.reports.refuse_json.add(quiz.assignment_id)
    with pytest.raises(CanvasBadRequest):
        call(config, lambda c: c.create_new_quiz_report(301, quiz.assignment_id))
    answer = call(config, lambda c: c.create_new_quiz_report(301, quiz.assignment_id,
                                                             report_format="csv"))
    assert answer["progress"]["url"] and server.reports.formats == ["csv"]


def test_a_report_file_behind_a_redirect_is_downloaded_as_bytes(nq):
    """``client.py`` ``get_url(raw=True)``: ``results.url`` answers 302 to the signed file
    (same origin here); the redirect is followed and the CSV arrives as bytes, not JSON."""
    server, config, quiz = nq

    async def fetch(c):
        progress = (await c.create_new_quiz_report(301, quiz.assignment_id,
                                                   report_format="csv"))["progress"]
        for _ in range(4):
            progress = await c.get_url(progress["url"])
        return progress, await c.get_url(progress["results"]["url"], raw=True)

    progress, body = call(config, fetch)
    assert progress["workflow_state"] == "completed"
    assert isinstance(body, bytes) and body.startswith(b"Name,ID,SISID,")
    statuses = [e["status"] for e in server.state.request_log if "/files/" in e["path"]]
    assert statuses == [302, 200]


def test_reports_fall_back_to_csv_and_403_is_restricted(nq):
    from knowgap.canvas import quiz_sources

    server, config, quiz = nq
    key = f"nq-{quiz.assignment_id}"
    server.reports.refuse_json.add(quiz.assignment_id)
    outcome = call(config, lambda c: quiz_sources.read_reports(
        c, 301, [key], wait_seconds=5, questions={}, submissions=None))
    assert outcome.csv == [key] and outcome.failed == {} and outcome.incomplete == {}
    assert outcome.results[key] and all(r.note is None and not r.question_id.startswith(
        "nq-item-") for r in outcome.results[key])            # joined to the fetched items
    server.reports.reset()
    server.reports.restricted.add(quiz.assignment_id)
    outcome = call(config, lambda c: quiz_sources.read_reports(
        c, 301, [key], wait_seconds=5, questions={}, submissions=None))
    assert outcome.results == {} and outcome.restricted == {key: quiz_sources.RESTRICTED}
    server.reports.reset()
    server.reports.restricted_courses.add(301)
    quizzes, refused = call(config, lambda c: quiz_sources.new_quiz_listing(c, 301))
    assert quizzes == [] and refused == quiz_sources.RESTRICTED
