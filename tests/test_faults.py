"""Fault injection: Canvas, OpenAI, YouTube and the database failing under the app.

Everything runs on loopback (Canvas sandbox, fake OpenAI/YouTube, a closed port for the
database) and every wait is bounded: Canvas clients here use short deadlines and few retries.
The rule checked everywhere: the client never gets a 500 or a stack trace; transient faults
are retried and succeed; persistent ones give a readable reason (and a failed/re-queued job).
"""
from __future__ import annotations

import datetime as dt
import itertools
import socket
import time

import pytest

from knowgap.core import db as dbmod
from knowgap.jobs import queue
from knowgap.jobs.worker import Worker, run_pending
from tests.conftest import ai_settings, canvas_settings, make_config

ENVELOPE = {"error", "message", "statusCode"}
_emails = itertools.count()


# ------------------------------------------------------------------ helpers
def fast_canvas(server, **overrides):
    """Config against ``server`` with short Canvas deadlines so faults resolve quickly."""
    settings = dict(canvas_settings(server), canvas_timeout_seconds=2.0, canvas_max_retries=2)
    settings.update(overrides)
    return make_config(**settings)


def new_app(config, db):
    from knowgap import create_app
    from knowgap.core.extensions import limiter

    app = create_app(config, db=db)
    app.config["TESTING"] = True
    limiter.reset()
    return app


def assert_envelope(response, status=None):
    body = response.get_json()
    assert body is not None, response.data[:200]
    assert ENVELOPE <= set(body), body
    assert body["statusCode"] == response.status_code
    if status is not None:
        assert response.status_code == status, body
    assert body["message"].endswith("."), body
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    return body


def signup(client, token="teacher-token"):
    r = client.post("/auth/signup", json={
        "name": "Fault Tester", "email": f"fault{next(_emails)}@example.edu",
        "password": "Correct horse battery 9", "canvasApiToken": token})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ================================================================== database unreachable
@pytest.fixture
def down_app(sandbox):
    """An app whose real MongoDB URI points at a closed loopback port."""
    db = dbmod.connect(f"mongodb://127.0.0.1:{closed_port()}/?serverSelectionTimeoutMS=300",
                       "x")
    started = time.monotonic()
    app = new_app(make_config(**canvas_settings(sandbox)), db)
    assert time.monotonic() - started < 10, "start-up must not hang on a dead database"
    yield app
    db.client.close()


def test_uri_options_win_over_defaults():
    db = dbmod.connect(f"mongodb://127.0.0.1:{closed_port()}/?serverSelectionTimeoutMS=300", "x")
    try:
        assert db.client.options.server_selection_timeout == pytest.approx(0.3)
    finally:
        db.client.close()


def test_app_starts_with_database_down_and_retries_indexes(down_app):
    indexes = down_app.extensions["knowgap"].indexes
    assert indexes.ready is False
    client = down_app.test_client()
    r = client.get("/health")
    assert r.status_code == 503
    assert r.get_json() == {"status": "degraded", "database": "down", "embedded_database": False}


@pytest.mark.parametrize("method, path, body", [
    ("post", "/auth/login", {"email": "someone@example.edu", "password": "Whatever123"}),
    ("post", "/auth/signup", {"name": "A B", "email": "ab@example.edu",
                              "password": "Correct horse battery 9"}),
    ("post", "/get-course-videos", {"course_id": "101", "access_token": "teacher-token"}),
    ("post", "/update-course-db", {"course_id": "101", "access_token": "teacher-token"}),
    ("post", "/get-risk", {"course_id": "101", "access_token": "teacher-token"}),
])
def test_requests_get_503_envelope_when_database_down(down_app, method, path, body):
    client = down_app.test_client()
    started = time.monotonic()
    r = getattr(client, method)(path, json=body)
    assert time.monotonic() - started < 5
    payload = assert_envelope(r, 503)
    assert payload["error"] == "database_unavailable"
    assert "database" in payload["message"].lower()


def test_jwt_route_gets_503_when_database_down(down_app):
    from achieveup.auth.tokens import issue_access

    token, _ = issue_access(down_app.extensions["knowgap"].config, "0123456789abcdef01234567")
    client = down_app.test_client()
    r = client.get("/achieveup/matrix/course/101", headers={"Authorization": f"Bearer {token}"})
    assert_envelope(r, 503)


def test_index_retry_is_rate_limited_and_recovers(monkeypatch):
    """``ensure_due`` retries at most every ``retry_seconds`` and succeeds once the DB is back."""
    calls = []

    class FlakyCollection:
        def create_index(self, keys, **options):
            calls.append(keys)
            if flaky["down"]:
                import pymongo.errors
                raise pymongo.errors.ServerSelectionTimeoutError("down")

    class FlakyDb:
        def __getitem__(self, name):
            return FlakyCollection()

    flaky = {"down": True}
    manager = dbmod.IndexManager(FlakyDb(), retry_seconds=60)
    assert manager.ensure() is False and len(calls) == 1
    assert manager.ensure_due() is False and len(calls) == 1       # too soon: no attempt
    flaky["down"] = False
    monkeypatch.setattr(manager, "_last_attempt", time.monotonic() - 61)
    assert manager.ensure_due() is True and manager.ready
    n = len(calls)
    assert manager.ensure_due() is True and len(calls) == n         # ready: no more work


# ================================================================== KnowGap /update-course-db
KG_COURSE = 102


def kg_sync(client, token="teacher-token", course=KG_COURSE):
    return client.post("/update-course-db", json={"course_id": course, "access_token": token})


@pytest.fixture
def kg_client(sandbox, db):
    return new_app(fast_canvas(sandbox), db).test_client()


@pytest.mark.parametrize("fault", ["500", "503", "timeout", "throttle", "reset"])
def test_knowgap_sync_retries_transient_canvas_faults(kg_client, sandbox, fault):
    sandbox.inject(fault, count=1, path="/quizzes", delay_s=3 if fault == "timeout" else None)
    r = kg_sync(kg_client)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["questions"] > 0
    assert not sandbox.state.pending_faults


def test_knowgap_sync_persistent_canvas_outage_is_a_readable_502(kg_client, sandbox):
    kg_sync(kg_client)                                   # warm the identity cache
    sandbox.inject("503", count=100, path="/quizzes")
    r = kg_sync(kg_client)
    body = assert_envelope(r)
    assert r.status_code in (502, 503, 504) and body["error"] == "canvas_unavailable"


def test_knowgap_sync_persistent_timeout_is_bounded(kg_client, sandbox):
    kg_sync(kg_client)
    sandbox.inject("timeout", count=100, path="/quizzes", delay_s=5)
    started = time.monotonic()
    r = kg_sync(kg_client)
    assert time.monotonic() - started < 8
    body = assert_envelope(r)
    assert r.status_code in (502, 504) and body["error"] == "canvas_unavailable"


def test_knowgap_sync_throttling_storm_is_survived(sandbox, db):
    client = new_app(fast_canvas(sandbox, canvas_timeout_seconds=20.0), db).test_client()
    sandbox.inject("403", count=6, path="/api/v1/courses/102")
    r = kg_sync(client)
    assert r.status_code == 200, r.get_json()


def test_knowgap_sync_malformed_json(kg_client, sandbox):
    kg_sync(kg_client)
    sandbox.inject("malformed_json", count=1, path="/quizzes")
    r = kg_sync(kg_client)
    if r.status_code != 200:                             # a truncated body may not be retried
        body = assert_envelope(r, 502)
        assert body["error"] in ("canvas_bad_response", "canvas_unavailable")
    assert kg_sync(kg_client).status_code == 200         # and the next sync works


def test_knowgap_sync_token_revoked_mid_sync_says_token_invalid(kg_client, sandbox):
    kg_sync(kg_client)                                   # identity check is now cached
    sandbox.inject("401", count=100, path="/quizzes")
    r = kg_sync(kg_client)
    body = assert_envelope(r, 401)
    assert body["error"] == "canvas_token_invalid"
    assert "Canvas token is invalid" in body["message"]


# ================================================================== OpenAI / YouTube down
@pytest.mark.parametrize("ai_mode, yt_mode", [("500", "ok"), ("timeout", "ok"), ("ok", "500"),
                                              ("ok", "timeout"), ("500", "500"),
                                              ("timeout", "timeout")])
def test_knowgap_generation_falls_back_when_ai_or_youtube_down(
        sandbox, db, openai_fake, youtube_fake, monkeypatch, ai_mode, yt_mode):
    from knowgap.courses import store
    from knowgap.videos import youtube

    monkeypatch.setattr(youtube, "TIMEOUT_SECONDS", 0.5)
    openai_fake.mode, youtube_fake.mode = ai_mode, yt_mode
    config = fast_canvas(sandbox, **{**ai_settings(openai_fake, youtube_fake),
                                     "openai_timeout_seconds": 0.5})
    client = new_app(config, db).test_client()
    started = time.monotonic()
    r = kg_sync(client)
    assert time.monotonic() - started < 30
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    qs = list(db[store.QUESTIONS].find({"course_id": str(KG_COURSE),
                                        "question_type": {"$ne": "text_only_question"}}))
    assert qs and all(q.get("core_topic") for q in qs)   # heuristic topics when the AI is down
    if yt_mode != "ok":
        assert body["videos"]["with_video"] == 0 and body["video_status"]
    r = client.post("/get-course-videos", json={"course_id": KG_COURSE,
                                                "access_token": "teacher-token"})
    assert r.status_code == 200, r.get_json()


@pytest.fixture
def ai_client(sandbox, db, openai_fake):
    config = fast_canvas(sandbox, **{**ai_settings(openai_fake), "openai_timeout_seconds": 0.5})
    return new_app(config, db).test_client()


@pytest.mark.parametrize("mode", ["500", "timeout", "429", "malformed"])
def test_achieveup_ai_suggestions_fall_back(ai_client, openai_fake, mode):
    teacher = signup(ai_client)
    r = ai_client.post("/achieveup/matrix/create", headers=teacher, json={
        "course_id": "101", "matrix_name": "Core", "skills": ["Cells", "Energy", "Genetics"]})
    assert r.status_code == 201, r.get_json()
    openai_fake.mode = mode
    started = time.monotonic()
    r = ai_client.post("/achieveup/ai/suggest-skills", headers=teacher, json={
        "courseId": "101", "courseName": "Introduction to Biology", "courseCode": "BIO-101"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() and r.headers.get("X-Suggestion-Source") == "heuristic"
    r = ai_client.post("/achieveup/ai/analyze-questions", headers=teacher, json={
        "courseId": "101", "questions": [{"id": "1", "text": "How do cells make energy?"}]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()[0]["suggestedSkills"]
    r = ai_client.post("/achieveup/skills/suggest", headers=teacher, json={
        "question_text": "Which organelle holds the genetic material?", "course_id": "101"})
    assert r.status_code == 200, r.get_json()
    assert isinstance(r.get_json(), list)
    assert time.monotonic() - started < 15


# ================================================================== the outage proxy itself
def test_tcp_proxy_pipes_cuts_and_restores_on_the_same_port(sandbox):
    """tests/mongo_proxy.TcpProxy (used by test_real_mongo) checked against the sandbox."""
    import urllib.error
    import urllib.request

    from tests.mongo_proxy import TcpProxy

    def get():
        url = f"http://{proxy.address}/api/v1/users/self"
        req = urllib.request.Request(url, headers={"Authorization": "Bearer teacher-token"})
        with urllib.request.urlopen(req, timeout=3) as resp:
            return resp.status

    proxy = TcpProxy("127.0.0.1", sandbox.port)
    with proxy:
        assert get() == 200
        port = proxy.port
        proxy.stop()
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            get()
        proxy.start()
        assert proxy.port == port and get() == 200


# ================================================================== AchieveUp force-sync job
AU_COURSE = "101"
AU_SKILLS = ["Cells", "Energy", "Genetics"]


@pytest.fixture
def au(sandbox, db, canvas_world):
    """App + instructor with a matrix and every question of course 101 mapped to a skill."""
    app = new_app(fast_canvas(sandbox), db)
    client = app.test_client()
    teacher = signup(client)
    r = client.post("/achieveup/matrix/create", headers=teacher, json={
        "course_id": AU_COURSE, "matrix_name": "Core", "skills": AU_SKILLS})
    assert r.status_code == 201, r.get_json()
    qids = [str(q.id) for quiz in canvas_world.course_quizzes(int(AU_COURSE))
            for q in canvas_world.questions[quiz.id]]
    r = client.post("/achieveup/skills/assign", headers=teacher, json={
        "course_id": AU_COURSE,
        "question_skills": {q: [AU_SKILLS[i % 3]] for i, q in enumerate(qids)}})
    assert r.status_code == 200, r.get_json()

    class AU:
        pass

    au = AU()
    au.app, au.client, au.teacher, au.db = app, client, teacher, db
    return au


def start_sync(au) -> str:
    r = au.client.post(f"/achieveup/instructor/course/{AU_COURSE}/force-sync",
                       headers=au.teacher)
    assert r.status_code == 202, r.get_json()
    return r.get_json()["job_id"]


def job_state(au, job_id) -> dict:
    r = au.client.get(f"/achieveup/jobs/{job_id}", headers=au.teacher)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def run_jobs_at(app, later_seconds: float = 0, worker_id=None) -> int:
    """Run queued jobs as if ``later_seconds`` had passed (re-queued jobs wait run_after)."""
    now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=later_seconds)
    worker = Worker(app, worker_id=worker_id)
    ran = 0
    while worker.run_once(now=now):
        ran += 1
    return ran


def analytics(au) -> dict:
    r = au.client.get(f"/achieveup/instructor/courses/{AU_COURSE}/student-analytics",
                      headers=au.teacher)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def stored_state(au) -> tuple:
    from achieveup.mastery import store

    mastery = sorted((d["_id"], str(d.get("skills")), d.get("progress"))
                     for d in au.db[store.MASTERY].find({"course_id": AU_COURSE}))
    badges = sorted((str(d["_id"]), d.get("level"), str(d.get("earned_at")))
                    for d in au.db[store.BADGES].find({"course_id": AU_COURSE}))
    return mastery, badges


@pytest.mark.parametrize("fault, path", [
    ("500", "/quizzes"), ("503", "/submissions"), ("timeout", "/quizzes"),
    ("403", "/quizzes"), ("throttle", "/submissions"), ("reset", "/enrollments"),
])
def test_force_sync_retries_transient_canvas_faults(au, sandbox, fault, path):
    sandbox.inject(fault, count=1, path=path, delay_s=3 if fault == "timeout" else None)
    job_id = start_sync(au)
    run_pending(au.app)
    job = job_state(au, job_id)
    assert job["state"] == "succeeded", job
    assert job["counts"]["results_new"] > 0 and job["progress"] == 1.0
    assert not sandbox.state.pending_faults, "the fault was never hit"


def test_force_sync_malformed_json_is_retried_by_the_queue(au, sandbox):
    sandbox.inject("malformed_json", count=1, path="/quizzes")
    job_id = start_sync(au)
    run_pending(au.app)
    job = job_state(au, job_id)
    if job["state"] != "succeeded":              # not retried in the client: re-queued
        assert job["state"] == "queued" and job["reason"].endswith("."), job
        assert run_jobs_at(au.app, 3600) == 1
        job = job_state(au, job_id)
    assert job["state"] == "succeeded", job


def test_force_sync_persistent_outage_fails_with_readable_reason(au, sandbox):
    sandbox.inject("503", count=10_000, path="/api/v1/courses/101")
    job_id = start_sync(au)
    run_pending(au.app)
    job = job_state(au, job_id)
    assert job["state"] == "queued" and "Canvas" in job["reason"], job   # will be retried
    assert run_jobs_at(au.app, 3600) == queue.MAX_ATTEMPTS - 1           # backed-off retries
    job = job_state(au, job_id)
    assert job["state"] == "failed", job
    assert job["reason"] == "Canvas is not answering right now. Please try again in a few minutes."
    assert len(job["errors"]) == queue.MAX_ATTEMPTS
    assert run_jobs_at(au.app, 99_999) == 0                                # no 4th attempt


def test_force_sync_with_revoked_token_fails_at_once_with_clear_message(au, sandbox):
    sandbox.inject("401", count=10_000, path="/api/v1/courses/101/")
    job_id = start_sync(au)
    run_pending(au.app)
    job = job_state(au, job_id)
    assert job["state"] == "failed", job
    assert "Canvas token is invalid" in job["reason"]
    assert run_jobs_at(au.app, 3600) == 0                                 # not retried


def test_sync_failing_midway_keeps_previous_mastery_and_badges(au, sandbox):
    first = start_sync(au)
    run_pending(au.app)
    assert job_state(au, first)["state"] == "succeeded"
    before_db, before_http = stored_state(au), analytics(au)
    assert before_db[0] and before_db[1], "the first sync should give mastery and badges"

    # the next sync dies while paging submissions (after quizzes/questions were read)
    sandbox.inject("503", count=10_000, path="/submissions")
    second = start_sync(au)
    run_pending(au.app)
    job = job_state(au, second)
    assert job["state"] == "queued" and job["reason"], job
    assert stored_state(au) == before_db and analytics(au) == before_http

    sandbox.state.clear_faults()                 # Canvas is back: the retry completes
    assert run_jobs_at(au.app, 3600) == 1
    assert job_state(au, second)["state"] == "succeeded"
    assert queue.get_job(au.db, second)["attempts"] == 2
    assert stored_state(au) == before_db and analytics(au) == before_http


def test_job_whose_worker_died_is_taken_over_after_the_lease(au):
    first = start_sync(au)
    run_pending(au.app)
    before = stored_state(au)

    job_id = start_sync(au)
    config = au.app.extensions["knowgap"].config
    now = dt.datetime.now(dt.timezone.utc)
    claimed = queue.claim(au.db, "dead-worker", config.job_lease_seconds, now=now)
    assert claimed["_id"] == job_id and claimed["state"] == "running"
    # nobody else may take it while the lease holds
    assert run_jobs_at(au.app, config.job_lease_seconds - 5) == 0
    assert job_state(au, job_id)["state"] == "running"
    assert stored_state(au) == before

    assert run_jobs_at(au.app, config.job_lease_seconds + 1, worker_id="second-worker") == 1
    job = queue.get_job(au.db, job_id)
    assert job["state"] == "succeeded" and job["worker"] == "second-worker"
    assert job["attempts"] == 2
    # the dead worker, if it ever woke up, can no longer report on the job
    assert not queue.heartbeat(au.db, job_id, "dead-worker", 60, progress=0.5)
    assert job_state(au, first)["state"] == "succeeded"
    assert stored_state(au) == before


def test_job_abandoned_on_its_last_attempt_fails_instead_of_running_forever(au):
    from knowgap.jobs.worker import ABANDONED_REASON

    job_id = start_sync(au)
    lease = au.app.extensions["knowgap"].config.job_lease_seconds
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(queue.MAX_ATTEMPTS):               # every worker dies holding it
        now += dt.timedelta(seconds=lease + 1)
        assert queue.claim(au.db, f"dead-{i}", lease, now=now)["_id"] == job_id
    assert run_jobs_at(au.app, (now - dt.datetime.now(dt.timezone.utc)).total_seconds()
                       + lease + 1) == 0
    job = job_state(au, job_id)
    assert job["state"] == "failed", job
    assert job["reason"] == ABANDONED_REASON.format(n=queue.MAX_ATTEMPTS)
    again = start_sync(au)                            # the course can be synced again
    assert again != job_id
    run_pending(au.app)
    assert job_state(au, again)["state"] == "succeeded"


def test_instructor_pages_keep_working_from_cache_while_canvas_is_down(sandbox, db):
    """Ownership checks read Canvas through the cache: once expired, a stale copy is served
    (X-Cache-Stale) rather than failing every page while Canvas is down."""
    app = new_app(fast_canvas(sandbox, canvas_cache_ttl_seconds=1), db)
    client = app.test_client()
    teacher = signup(client)
    pages = ["/achieveup/matrix/course/101", "/achieveup/instructor/courses/101/student-analytics",
             "/achieveup/instructor/dashboard", "/achieveup/export/101?format=csv",
             "/canvas/instructor/courses"]
    for path in pages:
        assert client.get(path, headers=teacher).status_code == 200, path
    time.sleep(1.2)                                  # the cached copies are now expired
    sandbox.inject("503", count=100_000)
    for path in pages:
        r = client.get(path, headers=teacher)
        assert r.status_code == 200, (path, r.get_json(silent=True))
        assert r.headers.get("X-Cache-Stale") == "true", path
    r = client.post("/achieveup/matrix/create", headers=teacher, json={
        "course_id": "101", "matrix_name": "During outage", "skills": ["Cells"]})
    assert r.status_code == 201, r.get_json()
