"""``/canvas`` routes and the ownership guards, against the Canvas sandbox."""
from __future__ import annotations

import pytest


PASSWORD = "Correct-Horse-9"
SECRETS = ("teacher-token", "ta-token", "student-token-", "other-teacher-token",
           "password_hash", "canvas_token_enc", "$2b$", "bcrypt-sha256")


@pytest.fixture
def world(canvas_world):
    return canvas_world


@pytest.fixture
def login(client):
    """``login(canvas_token)`` -> Authorization headers of a fresh account with that token."""
    counter = iter(range(1000))

    def make(token=None, role=None):
        email = f"user{next(counter)}@example.edu"
        body = {"name": "U", "email": email, "password": PASSWORD}
        if token:
            body["canvasApiToken"] = token
        response = client.post("/auth/signup", json=body)
        assert response.status_code == 201, response.get_json()
        if role:
            client.application.extensions["knowgap"].db.AchieveUp_Users.update_one(
                {"email_lower": email}, {"$set": {"role": role}})
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    return make


def get(client, path, headers):
    response = client.get(path, headers=headers)
    raw = response.get_data(as_text=True)
    for secret in SECRETS:
        assert secret not in raw, secret
    return response


def envelope(response, status, error=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["statusCode"] == status and body["message"].endswith(".")
    if error:
        assert body["error"] == error
    return body


# ---------------------------------------------------------------- /canvas (any user)


def test_courses_for_teacher_and_student(client, login, world):
    teacher = get(client, "/canvas/courses", login("teacher-token"))
    assert teacher.status_code == 200
    courses = teacher.get_json()
    assert {c["id"] for c in courses} == {"101", "102"}
    bio = next(c for c in courses if c["id"] == "101")
    assert bio == {"id": "101", "name": "Introduction to Biology", "code": "BIO-101", "term": 1}

    student = get(client, "/canvas/courses", login(f"student-token-{world.plain_student_id}"))
    assert {c["id"] for c in student.get_json()} == {"101", str(world.other_course_id)}


def test_course_quizzes_for_enrolled_student(client, login, world):
    headers = login(f"student-token-{world.plain_student_id}")
    response = get(client, "/canvas/courses/101/quizzes", headers)
    assert response.status_code == 200
    quizzes = response.get_json()
    assert len(quizzes) == 4
    assert all(set(q) == {"id", "title", "course_id"} and q["course_id"] == "101"
               and isinstance(q["id"], str) for q in quizzes)
    envelope(get(client, "/canvas/courses/102/quizzes", headers), 403, "not_enrolled")


def test_quiz_questions(client, login, world):
    headers = login("teacher-token")
    quiz_id = str(world.course_quizzes(101)[0].id)
    response = get(client, f"/canvas/quizzes/{quiz_id}/questions?course_id=101", headers)
    assert response.status_code == 200
    questions = response.get_json()
    assert len(questions) == 10
    first = questions[0]
    assert set(first) == {"id", "question_text", "quiz_id", "question_type", "points"}
    assert first["quiz_id"] == quiz_id and isinstance(first["id"], str)
    # without course_id the quiz is found among the caller's courses
    found = get(client, f"/canvas/quizzes/{quiz_id}/questions", headers)
    assert found.get_json() == questions
    envelope(get(client, "/canvas/quizzes/1/questions", headers), 404)
    envelope(get(client, f"/canvas/quizzes/{quiz_id}/questions?course_id=999", headers), 403)
    assert get(client, f"/canvas/quizzes/{quiz_id}/questions?course_id=$ne",
               headers).status_code == 422


def test_test_connection(client, login):
    ok = get(client, "/canvas/test-connection", login("teacher-token")).get_json()
    assert ok["connected"] is True and ok["user_info"]["id"] == "1"
    none = get(client, "/canvas/test-connection", login()).get_json()
    assert none["connected"] is False and "Settings" in none["message"]


def test_test_connection_is_not_fooled_by_a_cached_answer(client, login, sandbox):
    headers = login("teacher-token")                 # caches /users/self for this token
    sandbox.state.inject("503", count=50, path="/users/self")
    down = get(client, "/canvas/test-connection", headers).get_json()
    assert down["connected"] is False and "not answering" in down["message"]


def test_invalid_stored_canvas_token_is_400_not_401(app, client, login):
    headers = login("teacher-token")
    db = app.extensions["knowgap"].db
    user = db.AchieveUp_Users.find_one({"canvas_user_id": "1"})
    bogus = app.extensions["knowgap"].cipher.encrypt("revoked-token", owner=str(user["_id"]))
    db.AchieveUp_Users.update_one({"_id": user["_id"]}, {"$set": {"canvas_token_enc": bogus}})
    envelope(get(client, "/canvas/courses", headers), 400, "canvas_token_invalid")
    conn = get(client, "/canvas/test-connection", headers).get_json()
    assert conn["connected"] is False and "invalid" in conn["message"]
    assert client.get("/auth/me", headers=headers).status_code == 200


def test_canvas_routes_need_login_and_token(client, login):
    for path in ("/canvas/courses", "/canvas/courses/101/quizzes", "/canvas/test-connection",
                 "/canvas/instructor/courses", "/canvas/instructor/courses/101/quizzes"):
        envelope(client.get(path), 401)
    envelope(get(client, "/canvas/courses", login()), 400, "canvas_token_missing")


@pytest.mark.parametrize("path", ["/canvas/courses/abc/quizzes", "/canvas/courses/1.1/quizzes",
                                  "/canvas/instructor/courses/x/quizzes",
                                  "/canvas/instructor/courses/101/quizzes/-1/questions",
                                  "/canvas/quizzes/..:x/questions"])
def test_bad_ids_rejected(client, login, path):
    response = client.get(path, headers=login("teacher-token"))
    assert response.status_code in (404, 422)


# ---------------------------------------------------------------- /canvas/instructor


def test_instructor_courses(client, login):
    response = get(client, "/canvas/instructor/courses", login("teacher-token"))
    assert response.status_code == 200
    courses = response.get_json()
    assert {c["id"] for c in courses} == {"101", "102"}
    chem = next(c for c in courses if c["id"] == "102")
    assert chem["term"] == 2 and chem["code"] == "CHEM-110"
    ta = get(client, "/canvas/instructor/courses", login("ta-token")).get_json()
    assert {c["id"] for c in ta} == {"101", "102"}
    designer = get(client, "/canvas/instructor/courses", login("designer-token")).get_json()
    assert {c["id"] for c in designer} == {"101"}
    dual = get(client, "/canvas/instructor/courses", login("dual-role-token")).get_json()
    assert {c["id"] for c in dual} == {"101"}          # not course 999 where they are a student


def test_instructor_quizzes_and_questions(client, login, world):
    headers = login("teacher-token")
    quizzes = get(client, "/canvas/instructor/courses/102/quizzes", headers).get_json()
    assert len(quizzes) == 3 and all(q["course_id"] == "102" for q in quizzes)
    questions = get(client, f"/canvas/instructor/courses/102/quizzes/{quizzes[0]['id']}/questions",
                    headers)
    assert questions.status_code == 200 and len(questions.get_json()) == 8
    assert any("<" in q["question_text"] for q in questions.get_json())


def test_instructor_routes_refuse_other_teacher_and_students(client, login, world):
    quiz_id = world.course_quizzes(101)[0].id
    other = login("other-teacher-token")
    envelope(get(client, "/canvas/instructor/courses/101/quizzes", other), 403,
             "not_course_instructor")
    envelope(get(client, f"/canvas/instructor/courses/101/quizzes/{quiz_id}/questions", other),
             403, "not_course_instructor")
    dual = login("dual-role-token")            # a student (not teacher) in course 999
    envelope(get(client, f"/canvas/instructor/courses/{world.other_course_id}/quizzes", dual),
             403, "not_course_instructor")
    student = login(f"student-token-{world.plain_student_id}")
    envelope(get(client, "/canvas/instructor/courses", student), 403, "forbidden_role")
    envelope(get(client, "/canvas/instructor/courses/101/quizzes", student), 403,
             "forbidden_role")


def test_role_tampering_in_db_is_not_enough(app, client, login, world):
    """A 'student' whose role was forced to instructor still needs Canvas to agree."""
    headers = login(f"student-token-{world.plain_student_id}", role="instructor")
    envelope(get(client, "/canvas/instructor/courses/101/quizzes", headers), 403,
             "not_course_instructor")


def test_admin_passes_course_checks(client, login):
    headers = login("other-teacher-token", role="admin")
    assert get(client, "/canvas/instructor/courses/999/quizzes", headers).status_code == 200


# ---------------------------------------------------------------- guards


@pytest.fixture
def as_user(app, client, login):
    """Run guard checks inside a request as the account behind ``token``."""
    from achieveup.auth import guards

    def run(token, fn, role=None):
        headers = login(token, role=role)
        with app.test_request_context("/", headers=headers):
            guards.authenticate()
            return fn(guards)

    return run


def test_require_student_access(as_user, world):
    from knowgap.core.errors import Forbidden

    me = world.plain_student_id
    other = world.student_ids(101)[1]
    chem_student = world.student_ids(102)[0]
    stoken = f"student-token-{me}"
    assert as_user(stoken, lambda gd: gd.require_student_access(me)) is None
    assert as_user(stoken, lambda gd: gd.require_student_access(str(me), "101")) is None
    with pytest.raises(Forbidden):
        as_user(stoken, lambda gd: gd.require_student_access(other, "101"))
    with pytest.raises(Forbidden):
        as_user(stoken, lambda gd: gd.require_student_access(other))

    # instructor: course given -> must teach it
    assert as_user("teacher-token", lambda gd: gd.require_student_access(other, 101)) is None
    with pytest.raises(Forbidden):
        as_user("other-teacher-token", lambda gd: gd.require_student_access(other, 101))
    # instructor: no course -> must teach a course the student is in
    assert as_user("teacher-token", lambda gd: gd.require_student_access(chem_student)) is None
    assert as_user("other-teacher-token", lambda gd: gd.require_student_access(me)) is None
    with pytest.raises(Forbidden):
        as_user("other-teacher-token", lambda gd: gd.require_student_access(chem_student))
    # dual-role instructor may read their own student data
    assert as_user("dual-role-token",
                   lambda gd: gd.require_student_access(world.dual_role_id, 999)) is None
    # admin passes everything
    assert as_user("other-teacher-token", lambda gd: gd.require_student_access(chem_student),
                   role="admin") is None


def test_require_course_instructor_and_helpers(as_user):
    from knowgap.core.errors import Forbidden

    assert as_user("teacher-token", lambda gd: gd.require_course_instructor(101)) is None
    assert as_user("ta-token", lambda gd: gd.require_course_instructor("102")) is None
    with pytest.raises(Forbidden):
        as_user("teacher-token", lambda gd: gd.require_course_instructor(999))
    assert as_user("teacher-token", lambda gd: gd.taught_course_ids()) == {"101", "102"}
    assert as_user("teacher-token", lambda gd: gd.current_user()["role"]) == "instructor"
    gateway_user = as_user("teacher-token", lambda gd: gd.user_gateway().self_user())
    assert str(gateway_user["id"]) == "1"


def test_user_gateway_without_token(as_user):
    from knowgap.core.errors import AppError

    with pytest.raises(AppError) as info:
        as_user(None, lambda gd: gd.user_gateway())
    assert info.value.status == 400 and info.value.error == "canvas_token_missing"


def test_guards_use_the_canvas_cache(app, login, sandbox):
    from achieveup.auth import guards

    headers = login("teacher-token")

    def checks():
        with app.test_request_context("/", headers=headers):
            guards.authenticate()
            guards.require_course_instructor(101)
            guards.require_course_instructor(102)
            guards.require_student_access(1001)

    checks()
    before = sandbox.state.total_requests
    checks()                                   # a later request: all from the Mongo cache
    assert sandbox.state.total_requests == before
