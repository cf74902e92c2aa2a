"""KnowGap course sync over HTTP: the Canvas sandbox, the fake OpenAI and fake YouTube."""
from __future__ import annotations

import datetime as dt

from knowgap.courses import store
from knowgap.courses.jobs import schedule_due_syncs
from knowgap.jobs.worker import run_pending
from knowgap.topics.text import question_hash
from tests.conftest import sandbox_db
from tests.knowgap_support import TEACHER, config, kg_config, post, student_token, sync  # noqa: F401

COURSE = 102          # 3 quizzes x 8 questions, 25% question-bank duplicates, 2 attempts


def expected_incorrect(world, course_id):
    """(student, quiz) -> set of question ids wrong (False or partial) on the latest attempt."""
    out = {}
    for quiz in world.course_quizzes(course_id):
        for sid in world.student_ids(course_id):
            work = world.work.get((quiz.id, sid))
            if work and work.attempts:
                out[(str(sid), str(quiz.id))] = {
                    str(e["question_id"]) for e in work.attempts[-1].submission_data
                    if e["correct"] is False or e["correct"] == "partial"}
    return out


def distinct_texts(world, course_id):
    return {question_hash(q.question_text) for quiz in world.course_quizzes(course_id)
            for q in world.questions[quiz.id] if q.question_type != "text_only_question"}


def test_instructor_sync_stores_questions_and_wrong_answers(client, app, canvas_world):
    body = sync(client, COURSE)
    world = canvas_world
    n_questions = sum(len(world.questions[q.id]) for q in world.course_quizzes(COURSE))
    assert body["mode"] == "instructor" and body["questions"] == n_questions
    db = sandbox_db(app)
    stored = {q["question_id"]: q for q in db[store.QUESTIONS].find({"course_id": str(COURSE)})}
    assert len(stored) == n_questions
    html_q = next(q for q in stored.values() if "<" in q["question_html"])
    assert "<" not in html_q["question_text"] and html_q["question_text"]

    expected = expected_incorrect(world, COURSE)
    got = {(d["student_id"], qid): set(entry["incorrect"])
           for d in db[store.INCORRECT].find({"course_id": str(COURSE)})
           for qid, entry in d["quizzes"].items()}
    assert got == expected
    # across types: partial answers are counted, essays/file uploads/text-only never are
    latest = [e for quiz in world.course_quizzes(COURSE) for sid in world.student_ids(COURSE)
              for e in world.work[(quiz.id, sid)].attempts[-1].submission_data]
    partial = {str(e["question_id"]) for e in latest if e["correct"] == "partial"}
    ungraded = {str(e["question_id"]) for e in latest if e["correct"] in ("undefined", "no_score")}
    all_wrong = set().union(*got.values())
    assert partial and partial <= all_wrong
    assert ungraded and not (ungraded & all_wrong)


def test_one_ai_call_per_distinct_question_text(client, openai_fake, youtube_fake, canvas_world):
    body = sync(client, COURSE)
    texts = distinct_texts(canvas_world, COURSE)
    n_questions = body["questions"]
    assert len(texts) < n_questions              # the course really has duplicates
    assert openai_fake.calls == len(texts) == body["topics"]["ai_calls"]
    assert youtube_fake.calls == body["videos"]["youtube_calls"] == body["topics"]["distinct"]
    calls = openai_fake.calls, youtube_fake.calls
    sync(client, COURSE)                         # nothing changed: no new calls at all
    assert (openai_fake.calls, youtube_fake.calls) == calls


def test_student_sync_uses_own_token_and_stored_questions(client, app, sandbox, canvas_world):
    sync(client, COURSE)
    sid = canvas_world.student_ids(COURSE)[1]
    sandbox.reset_counters()
    body = sync(client, COURSE, student_token(sid))
    assert body["mode"] == "student" and body["students"] == 1 and body["questions"] > 0
    student_paths = [e["path"] for e in sandbox.state.request_log
                     if e["token"] == student_token(sid)]
    assert not [p for p in student_paths if p.endswith("/questions")]
    assert all(e["status"] < 400 for e in sandbox.state.request_log)


def test_student_cannot_sync_for_another_student(client, canvas_world):
    a, b = canvas_world.student_ids(COURSE)[:2]
    r = post(client, "/update-course-db", student_token(a), course_id=COURSE, student_id=b)
    assert r.status_code == 403 and r.get_json()["error"] == "not_your_record"


def test_foreign_host_refused_before_any_request(client, sandbox):
    sandbox.reset_counters()
    r = post(client, "/update-course-db", TEACHER, course_id=COURSE,
             link="https://canvas.evil.example.com")
    assert r.status_code == 403
    assert r.get_json()["error"] == "canvas_host_not_allowed"
    assert sandbox.state.total_requests == 0


def test_token_required_and_bodies_validated(client, sandbox):
    r = post(client, "/update-course-db", course_id=COURSE)
    assert r.status_code == 401 and r.get_json()["error"] == "canvas_token_missing"
    r = post(client, "/update-course-db", TEACHER, course_id=COURSE, extra=1)
    assert r.status_code == 422 and "extra" in r.get_json()["details"]
    r = post(client, "/update-course-db", TEACHER, course_id={"$ne": None})
    assert r.status_code == 422
    r = post(client, "/update-course-db", "not-a-token", course_id=COURSE)
    assert r.status_code == 401 and r.get_json()["error"] == "canvas_token_invalid"


def test_bearer_header_and_identity_cache(client, sandbox):
    headers = {"Authorization": f"Bearer {TEACHER}"}
    assert client.post("/get-course-videos", json={"course_id": COURSE},
                       headers=headers).status_code == 200
    before = sandbox.state.count("/users/self")
    assert client.post("/get-course-videos", json={"course_id": COURSE},
                       headers=headers).status_code == 200
    assert sandbox.state.count("/users/self") == before       # cached identity


def test_instructor_actions_refused_to_others(client, canvas_world):
    sid = canvas_world.student_ids(COURSE)[0]
    r = post(client, "/update-course-context", student_token(sid), course_id=COURSE,
             course_context="Chemistry")
    assert r.status_code == 403 and r.get_json()["error"] == "instructor_required"
    r = post(client, "/update-course-context", "other-teacher-token", course_id=COURSE,
             course_context="Chemistry")
    assert r.status_code == 403 and r.get_json()["error"] == "not_enrolled"


def test_ai_down_or_slow_falls_back_to_offline_topics(sandbox, openai_fake, youtube_fake, db):
    from knowgap import create_app

    for mode in ("500", "timeout"):
        openai_fake.mode = mode
        openai_fake.reset()
        app = create_app(kg_config(sandbox, openai_fake, youtube_fake,
                                   openai_timeout_seconds=0.3), db=db)
        body = sync(app.test_client(), COURSE)
        assert body["topics"]["heuristic"] > 0 and body["topics"]["ai_failures"] > 0
        assert openai_fake.calls <= 8 + 3      # breaker: AI treated as down after 3 failures
        topics = [q for q in db[store.QUESTIONS].find({"course_id": str(COURSE)})
                  if q["question_type"] != "text_only_question"]
        assert all(q["core_topic"] and q["topic_source"] == "heuristic" for q in topics)
    openai_fake.mode = "ok"                       # AI back: heuristic topics are upgraded
    app = create_app(kg_config(sandbox, openai_fake, youtube_fake), db=db)
    sync(app.test_client(), COURSE)
    assert all(q["topic_source"] == "ai" for q in db[store.QUESTIONS].find(
        {"course_id": str(COURSE), "question_type": {"$ne": "text_only_question"}}))


def test_add_token_then_scheduled_sync_job(client, app, canvas_world):
    r = post(client, "/add-token", TEACHER, user_id=canvas_world.teacher_id,
             course_ids=[COURSE])
    assert r.status_code == 200 and r.get_json()["course_ids"] == [str(COURSE)]
    svc = app.extensions["knowgap"]
    stored = svc.db["knowgap_tokens"].find_one({"canvas_user_id": str(canvas_world.teacher_id)})
    assert TEACHER not in str(stored) and stored["token_enc"].startswith("v1:")
    now = dt.datetime.now(dt.timezone.utc)
    jobs = schedule_due_syncs(svc, now)
    assert len(jobs) == 1
    assert schedule_due_syncs(svc, now) == []           # not due again until the interval
    assert run_pending(app) == 1
    assert svc.db["jobs"].find_one({"_id": jobs[0]})["state"] == "succeeded"
    assert svc.db[store.QUESTIONS].count_documents({"course_id": str(COURSE)}) > 0
    later = now + dt.timedelta(minutes=svc.config.knowgap_sync_minutes + 1)
    assert len(schedule_due_syncs(svc, later)) == 1


def test_add_token_refuses_someone_elses_id_or_course(client, canvas_world):
    r = post(client, "/add-token", TEACHER, user_id=canvas_world.other_teacher_id,
             course_ids=[COURSE])
    assert r.status_code == 403
    r = post(client, "/add-token", TEACHER, user_id=canvas_world.teacher_id,
             course_ids=[canvas_world.other_course_id])
    assert r.status_code == 403


def test_quizzes_questions_and_grade(client, canvas_world):
    sync(client, COURSE)
    sid, other = canvas_world.student_ids(COURSE)[:2]
    r = post(client, "/get-course-quizzes", student_token(sid), course_id=COURSE)
    quizzes = r.get_json()["quizzes"]
    assert r.status_code == 200 and set(quizzes) == {str(q.id) for q in
                                                     canvas_world.course_quizzes(COURSE)}
    r = client.post(f"/get-questions-by-course/{COURSE}",
                    headers={"Authorization": f"Bearer {TEACHER}"})
    data = r.get_json()["data"]
    assert r.status_code == 200 and data["course_id"] == str(COURSE) and data["questions"]
    r = post(client, "/get-student-grade", student_token(sid), course_id=COURSE, user_id=sid)
    grade = r.get_json()["grade"]
    enrollment = next(e for e in canvas_world.enrollments
                      if e.user_id == sid and e.course_id == COURSE)
    assert grade == {"current_score": enrollment.grades["current_score"],
                     "final_score": enrollment.grades["final_score"]}
    r = post(client, "/get-student-grade", student_token(sid), course_id=COURSE, user_id=other)
    assert r.status_code == 403
    r = post(client, "/get-student-grade", TEACHER, course_id=COURSE, user_id=other)
    assert r.status_code == 200


# ------------------------------------------------------------------ incremental instructor sync
def _state(db, course_id=COURSE):
    return db[store.SYNC_STATE].find_one({"course_id": str(course_id)})


def _incorrect_map(db, course_id=COURSE):
    return {(d["student_id"], qid): set(entry["incorrect"])
            for d in db[store.INCORRECT].find({"course_id": str(course_id)})
            for qid, entry in d["quizzes"].items()}


def _private(sandbox_factory, openai_fake, youtube_fake, db, world=None):
    """A private sandbox (its world may be mutated), a KnowGap app talking to it, and the
    database as that Canvas sees it."""
    from knowgap import create_app

    server = sandbox_factory(world)
    app = create_app(kg_config(server, openai_fake, youtube_fake), db=db)
    return server, app.test_client(), sandbox_db(app)


def test_unchanged_resync_is_quiz_list_and_one_cursor_page(client, app, sandbox):
    """Course 102 (3 quizzes, 12 students): first sync 10 requests (2 identity + the Classic
    and the New Quizzes lists + 3 question lists + 3 submission chains of one page); an
    unchanged re-sync is exactly the two quiz lists (1 page each) + the ``graded_since``
    submissions query (1 empty page) = 3 requests. 10% of 10 is below the quiz-list requests
    that every sync needs, hence the exact count; ``test_unchanged_resync_of_a_larger_course``
    shows the ratio on a bigger course."""
    sandbox.state.reset_counters()
    first_body = sync(client, COURSE)
    first = sandbox.state.total_requests
    assert first == 10
    db = sandbox_db(app)
    state = _state(db)
    assert state["mode"] == "full" and state["cursor"]

    sandbox.state.reset_counters()
    body = sync(client, COURSE)
    log = sandbox.state.request_log
    quiz_pages = [e for e in log if e["path"].endswith("/quizzes")]
    sub_pages = [e for e in log if e["path"].endswith("/students/submissions")]
    assert sorted(e["path"].split("/courses/")[0] for e in quiz_pages) == ["/api/quiz/v1",
                                                                          "/api/v1"]
    assert len(sub_pages) == 1
    assert sandbox.state.total_requests == len(quiz_pages) + len(sub_pages) == 3
    assert "graded_since" in str(sub_pages[0]["query"])
    assert sandbox.state.count("/questions") == 0
    # same response shape and the same totals as the full sync
    assert set(body) == set(first_body)
    for key in ("quizzes", "questions", "students", "incorrect_answers"):
        assert body[key] == first_body[key]
    after = _state(db)
    assert after["mode"] == "incremental" and after["cursor"] == state["cursor"]
    assert after["full_synced_at"] == state["full_synced_at"]
    assert _incorrect_map(db) == expected_incorrect(sandbox.world, COURSE)


def test_unchanged_resync_of_a_larger_course(sandbox_factory, db):
    from knowgap import create_app
    from knowgap.courses.service import sync_course
    from knowgap.identity.canvas_access import CanvasAccess
    from tests.canvas_sandbox import CourseSpec, build_world

    world = build_world([CourseSpec(601, "Big Course", "BIG-601", n_students=150, n_quizzes=10,
                                    n_questions_per_quiz=4)], seed=5)
    server = sandbox_factory(world)
    app = create_app(kg_config(server), db=db)
    svc = app.extensions["knowgap"].scoped(server.host)
    access = CanvasAccess(server.base_url, TEACHER, svc.config)
    server.state.reset_counters()
    first_body = sync_course(svc, access, "601", instructor=True, generate=False)
    first = server.state.total_requests
    server.state.reset_counters()
    body = sync_course(svc, access, "601", instructor=True, generate=False)
    again = server.state.total_requests
    # both quiz lists + 10 question lists + 10 two-page submission chains -> both quiz lists
    # and one cursor page: 32 -> 3 requests, 9%
    assert (first, again) == (2 + 10 + 10 * 2, 3)
    assert again <= 0.1 * first
    assert first_body["full"] is True and body == {**first_body, "full": False}


def test_new_graded_attempt_is_picked_up(sandbox_factory, openai_fake, youtube_fake, db):
    server, client, db = _private(sandbox_factory, openai_fake, youtube_fake, db)
    world = server.world
    sync(client, COURSE)
    before_state = _state(db)
    quiz = world.course_quizzes(COURSE)[1]
    sid, other = world.student_ids(COURSE)[2], world.student_ids(COURSE)[3]
    other_doc = db[store.INCORRECT].find_one({"course_id": str(COURSE), "student_id": str(other)})
    ai_calls = openai_fake.calls

    attempt = world.add_attempt(COURSE, quiz.id, sid)
    server.state.reset_counters()
    sync(client, COURSE)
    assert server.state.total_requests == 3              # quiz lists + one cursor page
    assert server.state.count("/questions") == 0
    new_wrong = {str(e["question_id"]) for e in attempt.submission_data
                 if e["correct"] is False or e["correct"] == "partial"}
    rows = {r["quiz_id"]: r for r in store.incorrect_of(db, str(COURSE), str(sid))}
    assert set(rows[str(quiz.id)]["incorrect"]) == new_wrong
    assert rows[str(quiz.id)]["attempt"] == len(world.work[(quiz.id, sid)].attempts)
    assert _incorrect_map(db) == expected_incorrect(world, COURSE)
    # only the affected student's record was written; no new AI call (no new question)
    assert db[store.INCORRECT].find_one({"course_id": str(COURSE),
                                         "student_id": str(other)}) == other_doc
    assert openai_fake.calls == ai_calls
    state = _state(db)
    assert state["mode"] == "incremental" and state["cursor"] > before_state["cursor"]

    # the student's own sync still works and leaves the instructor's state alone
    body = sync(client, COURSE, student_token(sid))
    assert body["mode"] == "student" and body["students"] == 1
    rows = {r["quiz_id"]: r for r in store.incorrect_of(db, str(COURSE), str(sid))}
    assert set(rows[str(quiz.id)]["incorrect"]) == new_wrong
    assert _state(db)["rev"] == state["rev"]


def test_failed_sync_does_not_advance_cursor(sandbox_factory, openai_fake, youtube_fake, db):
    server, client, db = _private(sandbox_factory, openai_fake, youtube_fake, db)
    world = server.world
    sync(client, COURSE)
    state = _state(db)
    quiz, sid = world.course_quizzes(COURSE)[0], world.student_ids(COURSE)[0]
    attempt = world.add_attempt(COURSE, quiz.id, sid)
    server.state.inject("401", count=1, path="/students/submissions")
    r = post(client, "/update-course-db", TEACHER, course_id=COURSE)
    assert r.status_code == 401
    assert _state(db) == state                            # nothing advanced
    sync(client, COURSE)
    rows = {r["quiz_id"]: r for r in store.incorrect_of(db, str(COURSE), str(sid))}
    assert set(rows[str(quiz.id)]["incorrect"]) == {
        str(e["question_id"]) for e in attempt.submission_data
        if e["correct"] is False or e["correct"] == "partial"}
    assert _state(db)["cursor"] > state["cursor"]


def test_changed_quiz_refetches_only_its_questions(sandbox_factory, openai_fake, youtube_fake,
                                                   db):
    server, client, db = _private(sandbox_factory, openai_fake, youtube_fake, db)
    world = server.world
    sync(client, COURSE)
    quiz = world.course_quizzes(COURSE)[2]
    question = next(q for q in world.questions[quiz.id]
                    if q.question_type not in store.NO_TOPIC_TYPES)
    with world.lock:
        question.question_text = "<p>Which gas law relates pressure and volume at fixed T?</p>"
        quiz.question_count += 1                          # what the signature sees
    world.touch()
    ai_calls = openai_fake.calls
    server.state.reset_counters()
    sync(client, COURSE)
    paths = [e["path"] for e in server.state.request_log if e["path"].endswith("/questions")]
    assert paths == [f"/api/v1/courses/{COURSE}/quizzes/{quiz.id}/questions"]
    stored = store.find_question(db, quiz.id, question.id, str(COURSE))
    assert stored["question_text"].startswith("Which gas law")
    assert openai_fake.calls == ai_calls + 1              # topic only for the new text
    assert _state(db)["mode"] == "incremental"


def test_removed_quiz_forces_full_sync_and_drops_its_data(sandbox_factory, openai_fake,
                                                          youtube_fake, db):
    server, client, db = _private(sandbox_factory, openai_fake, youtube_fake, db)
    world = server.world
    sync(client, COURSE)
    gone = world.course_quizzes(COURSE)[0]
    assert db[store.QUESTIONS].count_documents({"course_id": str(COURSE),
                                                "quiz_id": str(gone.id)}) > 0
    with world.lock:
        del world.quizzes[gone.id]
    world.touch()
    server.state.reset_counters()
    body = sync(client, COURSE)
    assert body["quizzes"] == 2
    assert server.state.count("/questions") == 2          # full: every remaining quiz
    assert _state(db)["mode"] == "full"
    assert db[store.QUESTIONS].count_documents({"course_id": str(COURSE),
                                                "quiz_id": str(gone.id)}) == 0
    assert db[store.QUIZZES].count_documents({"course_id": str(COURSE),
                                              "quiz_id": str(gone.id)}) == 0
    assert not [k for k in _incorrect_map(db) if k[1] == str(gone.id)]
    assert _incorrect_map(db) == expected_incorrect(world, COURSE)


def test_full_sync_when_last_full_is_older_than_24h(client, app, sandbox):
    from knowgap.courses.service import FULL_SYNC_MAX_AGE

    sync(client, COURSE)
    db = sandbox_db(app)
    old = _state(db)["full_synced_at"] - FULL_SYNC_MAX_AGE - dt.timedelta(minutes=1)
    db[store.SYNC_STATE].update_one({"course_id": str(COURSE)},
                                    {"$set": {"full_synced_at": old}})
    sandbox.state.reset_counters()
    sync(client, COURSE)
    assert sandbox.state.count("/questions") == 3
    assert not [e for e in sandbox.state.request_log if "graded_since" in str(e["query"])]
    state = _state(db)
    assert state["mode"] == "full" and state["full_synced_at"] > old
