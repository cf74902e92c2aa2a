"""Tests of the Canvas sandbox itself (world generator + fake HTTP server).

The sandbox is what the rest of the suite trusts to behave like Canvas, so these tests pin the
behaviours clients depend on: determinism, pagination via opaque Link URLs, the two kinds of
401, throttling under concurrency, injected faults and incremental ``graded_since`` sync.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections import Counter

import aiohttp
import pytest

from tests.canvas_sandbox import CourseSpec, SandboxServer, World, build_world
from tests.canvas_sandbox.content import QUESTION_TYPES
from tests.canvas_sandbox.new_quizzes import SLUGS, entry_ids
from tests.canvas_sandbox.world import iso

TEACHER = {"Authorization": "Bearer teacher-token"}


# ------------------------------------------------------------------ fixtures / helpers


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture(scope="module")
def _server(world):
    with SandboxServer(world) as srv:
        yield srv


@pytest.fixture
def sandbox(_server):
    """Shared read-only server, reset to defaults for each test."""
    st = _server.state
    st.clear_faults()
    st.reset_throttle()
    st.reset_counters()
    st.latency_s, st.throttle_enabled, st.throttle_status = 0.0, True, 403
    yield _server
    st.clear_faults()


def get(srv: SandboxServer, path: str, token: str | None = "teacher-token", timeout: float = 5):
    """Blocking GET -> (status, headers, parsed JSON or raw text)."""
    url = path if path.startswith("http") else srv.api_url + path
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=timeout) as r:
            status, hdrs, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = raw.decode()
    return status, hdrs, body


def links(header: str | None) -> dict[str, str]:
    out = {}
    for part in (header or "").split(","):
        url, rel = part.split(";")
        out[rel.strip()[5:-1]] = url.strip()[1:-1]
    return out


def get_all(srv, path, token="teacher-token", key=None):
    """Follow rel="next" verbatim; returns (items, number of pages, every Link dict)."""
    items, pages, seen = [], 0, []
    url = srv.api_url + path
    while url:
        status, hdrs, body = get(srv, url, token)
        assert status == 200, body
        items.extend(body[key] if key else body)
        pages += 1
        seen.append(links(hdrs["Link"]))
        url = seen[-1].get("next")
    return items, pages, seen


# ------------------------------------------------------------------ world


def test_world_is_deterministic():
    a, b = build_world(seed=7), build_world(seed=7)
    assert a == b
    assert a != build_world(seed=8)
    assert a.tokens == b.tokens


def test_world_users_tokens_and_roles(world):
    t = world.tokens
    assert t["teacher-token"] == world.teacher_id == 1
    assert t["other-teacher-token"] == world.other_teacher_id
    assert t["ta-token"] == world.ta_id and t["dual-role-token"] == world.dual_role_id
    sid = world.plain_student_id
    assert t[f"student-token-{sid}"] == sid
    for cid in (101, 102):
        assert "TeacherEnrollment" in world.roles(cid, world.teacher_id)
        assert world.roles(cid, world.ta_id) == {"TaEnrollment"}
        assert not world.roles(cid, world.other_teacher_id)
    assert world.roles(world.other_course_id, world.other_teacher_id) == {"TeacherEnrollment"}
    assert world.roles(101, world.dual_role_id) == {"TeacherEnrollment"}
    assert world.roles(world.other_course_id, world.dual_role_id) == {"StudentEnrollment"}
    assert not any(e.type != "StudentEnrollment" for e in world.enrollments_of(sid))
    assert len(world.student_ids(101)) == 30 and len(world.student_ids(102)) == 12


def test_world_questions_and_answers_look_like_canvas(world):
    questions = [q for qs in world.questions.values() for q in qs]
    assert {q.question_type for q in questions} == set(QUESTION_TYPES)
    assert all(q.question_text.startswith("<p>") for q in questions)
    for q in questions:
        if q.question_type in ("multiple_choice_question", "true_false_question"):
            assert sorted(a["weight"] for a in q.answers)[-1] == 100
            assert sum(a["weight"] == 100 for a in q.answers) == 1
    for quiz in world.quizzes.values():
        qs = world.questions[quiz.id]
        assert quiz.question_count == len(qs)
        assert quiz.points_possible == pytest.approx(sum(q.points_possible for q in qs))
        assert quiz.scoring_policy in ("keep_highest", "keep_latest")

    corrects = Counter()
    for w in world.work.values():
        quiz = world.quizzes[w.quiz_id]
        pts = {q.id: q.points_possible for q in world.questions[w.quiz_id]}
        for a in w.attempts:
            assert a.score == pytest.approx(sum(e["points"] for e in a.submission_data))
            for e in a.submission_data:
                corrects[str(e["correct"])] += 1
                assert 0 <= e["points"] <= pts[e["question_id"]]
                if e["correct"] is True:
                    assert e["points"] == pts[e["question_id"]]
                if e["correct"] in (False, "undefined", "no_score"):
                    assert e["points"] == 0
        expected = (max(a.score for a in w.attempts) if quiz.scoring_policy == "keep_highest"
                    else w.attempts[-1].score)
        assert w.kept_score(quiz.scoring_policy) == expected
    assert set(corrects) == {"True", "False", "partial", "undefined", "no_score"}

    scores = [e.grades["current_score"] for e in world.enrollments_in(101)
              if e.type == "StudentEnrollment"]
    assert max(scores) - min(scores) > 30          # strong and weak students exist
    assert all(w.attempts and len(w.attempts) == 2 for w in world.work.values() if w.course_id == 102)


def test_duplicate_bank_ratio():
    spec = CourseSpec(1, "C", "C-1", 3, 5, 10)
    plain = build_world([spec])
    texts = [q.question_text for qz in plain.course_quizzes(1) for q in plain.questions[qz.id]]
    assert len(texts) == len(set(texts)) == 50

    banked = build_world([CourseSpec(1, "C", "C-1", 3, 5, 10, duplicate_bank_ratio=0.4)])
    qs = [q for qz in banked.course_quizzes(1) for q in banked.questions[qz.id]]
    dupes = len(qs) - len({q.question_text for q in qs})
    assert dupes == 16                                   # 4 later quizzes x 40% of 10
    by_text = {}
    for q in qs:
        by_text.setdefault(q.question_text, set()).add(q.assessment_question_id)
    assert all(len(ids) == 1 for ids in by_text.values())  # same bank question, same id


def test_big_world_has_the_requested_size():
    w = build_world([CourseSpec(500, "Big", "BIG-1", 300, 15, 20)])
    assert len(w.student_ids(500)) == 300 and len(w.course_quizzes(500)) == 15
    assert sum(len(w.questions[q.id]) for q in w.course_quizzes(500)) == 300
    assert sum(1 for k in w.work if w.quizzes[k[0]].course_id == 500) == 300 * 15


def test_add_attempt_appends_later_graded_attempt():
    w = build_world([CourseSpec(1, "C", "C-1", 4, 2, 6)])
    quiz = w.course_quizzes(1)[0]
    sid = w.student_ids(1)[0]
    before = w.work[(quiz.id, sid)].latest.graded_at
    att = w.add_attempt(1, quiz.id, sid)
    assert att.attempt == 2 and att.graded_at > before
    assert w.work[(quiz.id, sid)].attempts[-1] is att
    with pytest.raises(KeyError):
        w.add_attempt(1, quiz.id, w.teacher_id)


# ------------------------------------------------------------------ server: basics


def test_users_self_and_rate_headers(sandbox, world):
    status, hdrs, body = get(sandbox, "/users/self")
    assert status == 200
    assert body["id"] == 1 and body["name"] == world.users[1].name
    assert {"sortable_name", "short_name", "login_id", "avatar_url"} <= set(body)
    assert float(hdrs["X-Request-Cost"]) > 0
    assert 0 < float(hdrs["X-Rate-Limit-Remaining"]) <= 600


def test_invalid_or_missing_token_is_401_with_www_authenticate(sandbox):
    for token in ("nope", None):
        status, hdrs, body = get(sandbox, "/users/self", token=token)
        assert status == 401
        assert hdrs["WWW-Authenticate"] == 'Bearer realm="canvas-lms"'
        assert body == {"errors": [{"message": "Invalid access token."}]}


def test_no_permission_is_401_without_www_authenticate_and_unknown_is_404(sandbox, world):
    status, hdrs, body = get(sandbox, f"/courses/{world.other_course_id}")
    assert status == 401 and "WWW-Authenticate" not in hdrs
    assert body == {"errors": [{"message": "user not authorized to perform that action"}]}
    status, _, body = get(sandbox, "/courses/424242")
    assert status == 404
    assert body == {"errors": [{"message": "The specified resource does not exist."}]}
    status, _, body = get(sandbox, "/courses/101?include[]=syllabus_body")
    assert status == 200 and "<p>" in body["syllabus_body"]


def test_courses_only_where_enrolled(sandbox, world):
    status, _, body = get(sandbox, "/courses?enrollment_type=teacher&enrollment_state=active"
                                   "&include[]=total_students&include[]=term")
    assert [c["id"] for c in body] == [101, 102]
    assert body[0]["total_students"] == 30 and body[0]["term"]["id"] == 1
    assert body[0]["enrollments"][0]["type"] == "teacher"
    _, _, other = get(sandbox, "/courses", token="other-teacher-token")
    assert [c["id"] for c in other] == [world.other_course_id]
    _, _, dual = get(sandbox, "/courses", token="dual-role-token")
    types = {c["id"]: [e["type"] for e in c["enrollments"]] for c in dual}
    assert types == {101: ["teacher"], world.other_course_id: ["student"]}
    _, _, as_student = get(sandbox, "/courses?enrollment_type=student", token="dual-role-token")
    assert [c["id"] for c in as_student] == [world.other_course_id]


# ------------------------------------------------------------------ server: pagination


def test_pagination_follows_opaque_next_links(sandbox, world):
    items, pages, seen = get_all(sandbox, "/courses/101/enrollments?type[]=StudentEnrollment&per_page=7")
    assert pages == 5
    assert [e["user_id"] for e in items] == world.student_ids(101)
    assert all(e["type"] == "StudentEnrollment" and "grades" in e for e in items)
    first = seen[0]
    assert {"current", "next", "first", "last"} <= set(first)
    assert first["next"].startswith(sandbox.base_url + "/api/v1/")
    assert "page=bookmark:" in first["next"] and "per_page=7" in first["next"]
    assert "next" not in seen[-1]


def test_default_and_clamped_page_sizes(sandbox):
    _, _, body = get(sandbox, "/courses/101/enrollments")
    assert len(body) == 10
    _, _, body = get(sandbox, "/courses/101/students/submissions?student_ids[]=all&per_page=1000")
    assert len(body) == 100                               # 30 students x 4 quizzes = 120 rows
    _, _, body = get(sandbox, "/courses/101/enrollments?per_page=0")
    assert len(body) == 1


def test_submission_lists_have_no_rel_last(sandbox, world):
    quiz = world.course_quizzes(101)[0]
    items, pages, seen = get_all(sandbox, f"/courses/101/quizzes/{quiz.id}/submissions?per_page=10",
                                 key="quiz_submissions")
    assert pages == 3 and len(items) == 30
    assert all("last" not in s for s in seen)
    rows, pages, seen = get_all(sandbox, "/courses/101/students/submissions?student_ids[]=all"
                                         f"&assignment_ids[]={quiz.assignment_id}"
                                         "&include[]=submission_history&per_page=12")
    assert pages == 3 and len(rows) == 30
    assert all("last" not in s for s in seen)
    row = rows[0]
    assert row["workflow_state"] == "graded" and row["submission_type"] == "online_quiz"
    hist = row["submission_history"][-1]
    assert {"question_id", "correct", "points", "answer_id", "text"} <= set(hist["submission_data"][0])
    assert hist["score"] == pytest.approx(sum(e["points"] for e in hist["submission_data"]))


# ------------------------------------------------------------------ server: permissions


def test_students_cannot_list_questions_but_staff_can(sandbox, world):
    quiz = world.course_quizzes(101)[0]
    sid = world.plain_student_id
    status, hdrs, _ = get(sandbox, f"/courses/101/quizzes/{quiz.id}/questions", f"student-token-{sid}")
    assert status == 401 and "WWW-Authenticate" not in hdrs
    for token in ("teacher-token", "ta-token"):
        status, _, body = get(sandbox, f"/courses/101/quizzes/{quiz.id}/questions?per_page=100", token)
        assert status == 200 and len(body) == quiz.question_count
        assert {"id", "quiz_id", "position", "question_name", "question_type", "question_text",
                "points_possible", "answers"} <= set(body[0])


def test_students_see_only_their_own_work(sandbox, world):
    sid = world.plain_student_id
    token = f"student-token-{sid}"
    _, _, ens = get(sandbox, "/courses/101/enrollments", token)
    assert [e["user_id"] for e in ens] == [sid] and ens[0]["grades"]["current_score"] is not None
    _, _, ens = get(sandbox, "/courses/101/enrollments?user_id=self", token)
    assert [e["user_id"] for e in ens] == [sid]
    status, _, _ = get(sandbox, "/courses/101/students/submissions?student_ids[]=all", token)
    assert status == 401
    other = world.student_ids(101)[1]
    status, _, _ = get(sandbox, f"/courses/101/students/submissions?student_ids[]={other}", token)
    assert status == 401
    for ids in ("student_ids[]=self", f"student_ids[]={sid}", ""):
        status, _, rows = get(sandbox, f"/courses/101/students/submissions?{ids}&per_page=50", token)
        assert status == 200 and {r["user_id"] for r in rows} == {sid} and len(rows) == 4
    quiz = world.course_quizzes(101)[0]
    _, _, qs = get(sandbox, f"/courses/101/quizzes/{quiz.id}/submissions", token)
    assert [s["user_id"] for s in qs["quiz_submissions"]] == [sid]


# ------------------------------------------------------------------ server: incremental sync


def test_graded_since_filters_and_sees_new_attempts():
    w = build_world([CourseSpec(1, "C", "C-1", 5, 2, 4)])
    quiz = w.course_quizzes(1)[0]
    base = f"/courses/1/students/submissions?student_ids[]=all&include[]=submission_history&per_page=100"
    with SandboxServer(w) as srv:
        _, _, rows = get(srv, base)
        assert len(rows) == 10
        cursor = max(r["graded_at"] for r in rows)
        _, _, none = get(srv, base + f"&graded_since={cursor}")
        assert none == []
        sid = w.student_ids(1)[2]
        att = w.add_attempt(1, quiz.id, sid)
        _, _, new = get(srv, base + f"&graded_since={cursor}")
        assert [(r["user_id"], r["assignment_id"]) for r in new] == [(sid, quiz.assignment_id)]
        assert new[0]["attempt"] == 2 and new[0]["graded_at"] == iso(att.graded_at)
        assert [h["attempt"] for h in new[0]["submission_history"]] == [1, 2]
        status, _, _ = get(srv, base + "&graded_since=yesterday")
        assert status == 400


def test_missing_submissions_are_unsubmitted_rows():
    w = build_world([CourseSpec(1, "C", "C-1", 20, 1, 3, missing_ratio=0.3)])
    with SandboxServer(w) as srv:
        _, _, rows = get(srv, "/courses/1/students/submissions?student_ids[]=all&per_page=100")
    states = Counter(r["workflow_state"] for r in rows)
    assert len(rows) == 20 and states["unsubmitted"] > 0 and states["graded"] > 0
    assert all(r["score"] is None for r in rows if r["workflow_state"] == "unsubmitted")


# ------------------------------------------------------------------ server: throttling


async def _burst(srv, n, path="/users/self", token="teacher-token"):
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
        async def one():
            async with s.get(srv.api_url + path) as r:
                return r.status, await r.text(), dict(r.headers)
        return await asyncio.gather(*(one() for _ in range(n)))


def test_concurrent_burst_is_throttled_with_403_then_recovers(sandbox):
    sandbox.state.latency_s = 0.3
    results = asyncio.run(_burst(sandbox, 20))
    statuses = Counter(s for s, _, _ in results)
    assert statuses[200] == 12 and statuses[403] == 8      # 600 / 50 up-front = 12 in flight
    body = next(t for s, t, _ in results if s == 403)
    assert "403 Forbidden (Rate Limit Exceeded)" in body
    assert all("X-Rate-Limit-Remaining" in h for _, _, h in results)
    assert sandbox.state.throttled == 8
    assert sandbox.state.max_in_flight["teacher-token"] >= 12
    time.sleep(0.2)
    sandbox.state.latency_s = 0.0
    assert get(sandbox, "/users/self")[0] == 200
    # Other tokens have their own bucket.
    assert asyncio.run(_burst(sandbox, 5, token="ta-token"))[0][0] == 200


def test_throttle_can_answer_429_with_retry_after_or_be_disabled(sandbox):
    sandbox.state.latency_s = 0.2
    sandbox.state.throttle_status = 429
    results = asyncio.run(_burst(sandbox, 15))
    limited = [h for s, _, h in results if s == 429]
    assert len(limited) == 3 and all(int(h["Retry-After"]) >= 1 for h in limited)
    sandbox.state.reset_throttle()
    sandbox.state.throttle_enabled = False
    assert all(s == 200 for s, _, _ in asyncio.run(_burst(sandbox, 15)))


def test_latency_is_concurrent(sandbox):
    sandbox.state.latency_s = 0.25
    t0 = time.perf_counter()
    results = asyncio.run(_burst(sandbox, 10))
    assert all(s == 200 for s, _, _ in results)
    assert time.perf_counter() - t0 < 1.0


# ------------------------------------------------------------------ server: faults


@pytest.mark.parametrize("kind,status", [("500", 500), ("502", 502), ("503", 503), ("504", 504),
                                         ("401", 401), ("429", 429), ("throttle", 403)])
def test_injected_status_faults(sandbox, kind, status):
    sandbox.state.inject(kind, count=2, path="/quizzes")
    assert get(sandbox, "/users/self")[0] == 200                 # path does not match
    for _ in range(2):
        got, hdrs, body = get(sandbox, "/courses/101/quizzes")
        assert got == status
    if kind == "401":
        assert hdrs["WWW-Authenticate"] == 'Bearer realm="canvas-lms"'
    if kind == "500":
        assert body["errors"][0]["message"]
    assert get(sandbox, "/courses/101/quizzes")[0] == 200      # count exhausted
    assert sandbox.state.pending_faults == []


def test_malformed_json_fault(sandbox):
    sandbox.state.inject("malformed_json")
    status, hdrs, body = get(sandbox, "/courses/101/quizzes")
    assert status == 200 and isinstance(body, str)              # not parseable
    assert hdrs["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(body)


def test_reset_fault_drops_connection(sandbox):
    sandbox.state.inject("reset")
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as sock:
        sock.sendall(b"GET /api/v1/users/self HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer teacher-token\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            sock.recv(1000)

    # aiohttp retries an idempotent request once on a dropped connection, hence count=2.
    sandbox.state.inject("reset", count=2)

    async def go():
        async with aiohttp.ClientSession(headers=TEACHER) as s:
            with pytest.raises(aiohttp.ClientError):
                async with s.get(sandbox.api_url + "/users/self") as r:
                    await r.read()
            async with s.get(sandbox.api_url + "/users/self") as r:
                return r.status

    assert asyncio.run(go()) == 200
    assert [e["status"] for e in sandbox.state.request_log] == ["reset"] * 3 + [200]


def test_timeout_fault_hangs_past_client_deadline(sandbox):
    sandbox.state.inject("timeout", path="/users/self")

    async def go():
        async with aiohttp.ClientSession(headers=TEACHER) as s:
            t0 = time.perf_counter()
            with pytest.raises(asyncio.TimeoutError):
                async with s.get(sandbox.api_url + "/users/self",
                                 timeout=aiohttp.ClientTimeout(total=0.3)) as r:
                    await r.read()
            return time.perf_counter() - t0

    assert asyncio.run(go()) < 1.0
    sandbox.state.inject("timeout", delay_s=0.1)
    status, _, _ = get(sandbox, "/users/self")                    # short hang -> gateway timeout
    assert status == 504


def test_counters_and_request_log(sandbox, world):
    get(sandbox, "/users/self")
    get(sandbox, "/courses/101/quizzes")
    get(sandbox, "/users/self", token="bogus")
    st = sandbox.state
    assert st.total_requests == 3
    assert st.requests_by_path == {"/api/v1/users/self": 2, "/api/v1/courses/101/quizzes": 1}
    log = st.request_log
    assert [e["status"] for e in log] == [200, 200, 401]
    assert log[0]["user_id"] == 1 and log[2]["user_id"] is None
    st.reset_counters()
    assert st.total_requests == 0 and st.request_log == []


def test_stop_releases_hung_requests():
    srv = SandboxServer(build_world([CourseSpec(1, "C", "C-1", 1, 1, 1)])).start()
    srv.state.inject("timeout")

    async def go():
        async with aiohttp.ClientSession(headers=TEACHER) as s:
            task = asyncio.create_task(s.get(srv.api_url + "/users/self"))
            await asyncio.sleep(0.2)
            t0 = time.perf_counter()
            await asyncio.to_thread(srv.stop)
            try:
                r = await asyncio.wait_for(task, 5)
                r.release()
            except aiohttp.ClientError:
                pass
            return time.perf_counter() - t0

    assert asyncio.run(go()) < 3.0


# ------------------------------------------------------------------ New Quizzes


@pytest.fixture(scope="module")
def nq_server():
    world = build_world([CourseSpec(501, "Mixed", "MIX-501", 4, 4, 12, attempts=2,
                                    engine="mixed", duplicate_bank_ratio=0.35,
                                    bank_draws=1)], seed=3)
    with SandboxServer(world) as srv:
        yield srv


def post_form(srv, path: str, form: dict, token: str = "teacher-token", body=None,
              content_type="application/x-www-form-urlencoded"):
    data = body if body is not None else "&".join(f"{k}={v}" for k, v in form.items()).encode()
    req = urllib.request.Request(srv.base_url + path, data=data, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


REPORT_FORM = {"quiz_report[report_type]": "student_analysis", "quiz_report[format]": "json"}


def test_new_quizzes_are_served_by_their_own_api_only(nq_server):
    srv, world = nq_server, nq_server.world
    new = world.course_quizzes(501, "new")
    classic = world.course_quizzes(501, "classic")
    assert len(new) == len(classic) == 2
    status, _, listed = get(srv, srv.base_url + "/api/quiz/v1/courses/501/quizzes")
    assert status == 200 and [q["id"] for q in listed] == [str(q.assignment_id) for q in new]
    assert listed[0]["quiz_settings"]["multiple_attempts"]["multiple_attempts_enabled"]
    status, _, classic_list = get(srv, "/courses/501/quizzes")
    assert [q["id"] for q in classic_list] == [q.id for q in classic]
    assert get(srv, f"/courses/501/quizzes/{new[0].id}/questions")[0] == 404
    student = f"student-token-{world.student_ids(501)[0]}"
    assert get(srv, srv.base_url + f"/api/quiz/v1/courses/501/quizzes/{new[0].assignment_id}"
                                   "/items", student)[0] == 401
    # New Quizzes' submissions have no per-question data
    status, _, subs = get(srv, f"/courses/501/students/submissions?student_ids[]=all"
                               f"&assignment_ids[]={new[0].assignment_id}"
                               "&include[]=submission_history")
    assert subs and all("submission_data" not in h for s in subs
                        for h in s["submission_history"])
    assert {s["submission_type"] for s in subs} == {"basic_lti_launch"}


def test_items_have_outer_and_entry_ids_bank_entries_and_banks(nq_server):
    srv, world = nq_server, nq_server.world
    kinds = Counter()
    for quiz in world.course_quizzes(501, "new"):
        status, _, items = get(srv, srv.base_url + f"/api/quiz/v1/courses/501/quizzes/"
                                                   f"{quiz.assignment_id}/items?per_page=100")
        assert status == 200
        source = world.questions[quiz.id]
        listed = [q for q in source if not q.bank_drawn]
        outer = [i["id"] for i in items if i["entry_type"] != "Bank"]
        assert outer == [str(q.id) for q in listed]
        for item in items:
            kinds[item["entry_type"]] += 1
            question = item["entry"].get("entry") if item["entry_type"] == "BankEntry" \
                else item["entry"]
            assert question["id"] != item["id"]                 # entry id != outer id
            assert "points_possible" not in question            # points: outer record only
            if question.get("interaction_type_slug") == "choice":
                value = question["scoring_data"]["value"]
                assert value in {c["id"] for c in question["interaction_data"]["choices"]}
        [bank] = [i for i in items if i["entry_type"] == "Bank"]
        assert bank["properties"]["sample_num"] == sum(q.bank_drawn for q in source) == 1
    assert kinds["Item"] and kinds["BankEntry"] and kinds["Bank"] == 2


def _download(srv, url):
    status, _, body = get(srv, url)                  # urllib follows the file's redirect
    return status, body


def test_reports_flow_progress_409_and_file(nq_server):
    srv, world = nq_server, nq_server.world
    srv.reports.reset()
    quiz = world.course_quizzes(501, "new")[0]
    path = f"/api/quiz/v1/courses/501/quizzes/{quiz.assignment_id}/reports"
    assert post_form(srv, path, {"quiz_report[report_type]": "nope"})[0] == 400
    # the parameters are read from a form only: a JSON body is refused
    assert post_form(srv, path, {}, body=json.dumps({"quiz_report": {
        "report_type": "student_analysis", "format": "json"}}).encode(),
        content_type="application/json")[0] == 400
    student = f"student-token-{world.student_ids(501)[0]}"
    assert post_form(srv, path, REPORT_FORM, student)[0] == 401
    status, answer = post_form(srv, path, REPORT_FORM)
    assert status == 201 and set(answer) == {"progress"}          # wrapped
    progress = answer["progress"]
    assert progress["workflow_state"] == "queued"
    assert post_form(srv, path, REPORT_FORM)[0] == 409 and srv.reports.conflicts == 1
    states = [get(srv, progress["url"])[2]["workflow_state"] for _ in range(3)]
    assert states == ["queued", "running", "completed"]
    done = get(srv, progress["url"])[2]
    assert done["results"]["url"].startswith(srv.base_url + "/api/v1/")   # on the Canvas host
    status, rows = _download(srv, done["results"]["url"])
    works = {s: world.work[(quiz.id, s)] for s in world.student_ids(501)}
    assert status == 200 and len(rows) == sum(len(w.attempts) for w in works.values())
    assert {r["student_data"]["attempt"] for r in rows} == {1, 2}
    assert set(rows[0]) == {"student_data", "item_responses"}
    assert set(rows[0]["student_data"]) == {"id", "name", "sis_id", "submitted", "elapsed",
                                            "attempt"}
    assert {tuple(sorted(i)) for r in rows for i in r["item_responses"]} == {
        ("answer", "item_id", "item_type", "score")}
    assert get(srv, done["results"]["url"].split("verifier=")[0] + "verifier=bad")[0] == 404
    srv.reports.behaviour[quiz.assignment_id] = "fail"
    _, answer = post_form(srv, path, REPORT_FORM)
    for _ in range(3):
        state = get(srv, answer["progress"]["url"])[2]["workflow_state"]
    assert state == "failed"
    srv.reports.reset()


def _report(srv, quiz, report_format="json"):
    path = f"/api/quiz/v1/courses/501/quizzes/{quiz.assignment_id}/reports"
    status, answer = post_form(srv, path, {**REPORT_FORM, "quiz_report[format]": report_format})
    assert status == 201, answer
    for _ in range(4):
        progress = get(srv, answer["progress"]["url"])[2]
    return _download(srv, progress["results"]["url"])[1]


def test_report_answers_are_texts_by_entry_id_with_ungraded_essays_and_bank_draws(nq_server):
    srv, world = nq_server, nq_server.world
    srv.reports.reset()
    checked = Counter()
    for quiz in world.course_quizzes(501, "new"):
        rows = _report(srv, quiz)
        _, _, items = get(srv, srv.base_url + f"/api/quiz/v1/courses/501/quizzes/"
                                              f"{quiz.assignment_id}/items?per_page=100")
        by_entry = {(i["entry"].get("entry") or i["entry"])["id"]: i["id"] for i in items}
        ids = entry_ids(world, quiz)
        for row in rows:
            sid, n = row["student_data"]["id"], row["student_data"]["attempt"]
            data = {e["question_id"]: e for e in world.work[(quiz.id, sid)].attempts[n - 1]
                    .submission_data}
            by_item = {r["item_id"]: r for r in row["item_responses"]}
            for q in world.questions[quiz.id]:
                if q.question_type == "text_only_question":
                    assert ids[q.id] not in by_item          # a stimulus is not answered
                    continue
                r = by_item[ids[q.id]]
                if q.bank_drawn:                             # only in the report
                    assert ids[q.id] not in by_entry and ids[q.id] not in by_item.values()
                    checked["drawn"] += 1
                else:
                    assert by_entry[ids[q.id]] == str(q.id) != ids[q.id]
                assert r["item_type"] == SLUGS[q.question_type]
                if data[q.id]["correct"] == "undefined":
                    assert r["score"] is None
                    checked["ungraded"] += 1
                else:
                    assert r["score"] == data[q.id]["points"]
                if q.question_type in ("multiple_choice_question", "true_false_question"):
                    chosen = next(a["text"] for a in q.answers
                                  if a["id"] == data[q.id]["answer_id"])
                    assert r["answer"] == chosen                # the option's text
                    checked["choice"] += 1
                if q.question_type == "multiple_answers_question":
                    assert r["answer"] == ", ".join(a["text"] for a in q.answers
                                                    if data[q.id][f"answer_{a['id']}"] == "1")
                    checked["multi"] += 1
    assert all(checked[k] for k in ("drawn", "ungraded", "choice", "multi")), checked
    srv.reports.reset()


def test_csv_form_refused_json_403_and_lost_students(nq_server):
    srv, world = nq_server, nq_server.world
    srv.reports.reset()
    quiz = world.course_quizzes(501, "new")[0]
    path = f"/api/quiz/v1/courses/501/quizzes/{quiz.assignment_id}/reports"
    text = _report(srv, quiz, "csv")
    header = text.splitlines()[0].split(",")
    assert header[:9] == ["Name", "ID", "SISID", "SectionIDs", "SectionNames",
                          "SectionSISIDs", "Submitted", "ElapsedTime", "Attempt"]
    assert header[-5:] == ["NumberOfCorrect", "NumberOfIncorrect", "NoResponse",
                           "PointsPossible", "OverallScore"]
    assert "NotGraded" in text and header.count("ItemID") >= 5
    srv.reports.refuse_json.add(quiz.assignment_id)
    assert post_form(srv, path, REPORT_FORM)[0] == 400
    assert post_form(srv, path, {**REPORT_FORM, "quiz_report[format]": "csv"})[0] == 201
    srv.reports.reset()
    srv.reports.restricted.add(quiz.assignment_id)              # a concluded enrollment
    assert post_form(srv, path, REPORT_FORM)[0] == 403
    srv.reports.reset()
    srv.reports.restricted_courses.add(501)
    assert get(srv, srv.base_url + "/api/quiz/v1/courses/501/quizzes")[0] == 403
    assert get(srv, "/courses/501/quizzes")[0] == 200           # Classic Quizzes still answer
    srv.reports.reset()
    srv.reports.drop[quiz.assignment_id] = 2
    rows = _report(srv, quiz)
    assert len({r["student_data"]["id"] for r in rows}) == len(world.student_ids(501)) - 2
    srv.reports.reset()
