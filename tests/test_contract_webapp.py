"""The AchieveUp web app, call by call, as its pages send each call.

Client: ``TheMconquer/achieveup-frontend`` at commit 5fab9c0d412d (2026-07-30, the newest).
``src/App.tsx`` mounts Login, Signup, StudentPublicBadges, RoleHome, Settings,
InstructorDashboard, SkillMatrixCreator, SkillAssignmentInterface, StudentProgress (with
BadgesDashboard), StudentBadgesTest and StudentDashboard; ``AuthContext`` wraps them all. Every
call those pages make goes through the axios instance of ``src/services/api.ts:32-51``: JSON,
no ``/api`` prefix, ``Authorization: Bearer <token from localStorage>`` on every request
(public pages included). ``WebApp`` below is that instance; each of its methods is one
``api.ts`` function (line given), sending the same method, path and body field names.

Each test names the ``file:line`` of the page's call and asserts the status the page treats
as success (axios: any 2xx, unless the page checks one) and every field the page reads.

Things the app does that the server must live with: it keeps the token it got at sign-in or
login and never calls ``/auth/refresh`` (its 401 handler, api.ts:58, never fires: axios sets
``error.code`` on every 4xx), so a session must outlive a working day and survive a password
change; it sends ``""`` for "no quiz/matrix selected" (SkillAssignmentInterface.tsx:138-141).
"""
from __future__ import annotations

import itertools
import time

import jwt
import pytest

from achieveup.mastery import store as mastery
from config import load_config
from knowgap.jobs.worker import run_pending

COURSE = "101"
OTHER_COURSE = "102"
PASSWORD = "Correct-Horse-9"
SKILLS = ["Cells", "Energy", "Genetics"]
_emails = itertools.count()


class WebApp:
    """One browser running the web app: the axios instance (api.ts:32) and localStorage."""

    def __init__(self, client):
        self.client = client
        self.token: str | None = None          # localStorage 'token'

    def _send(self, method, path, body=None, **kwargs):
        headers = {"Content-Type": "application/json"}
        if self.token:                          # api.ts:40-46
            headers["Authorization"] = f"Bearer {self.token}"
        return self.client.open(path, method=method, json=body, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self._send("GET", path, **kwargs)

    def post(self, path, body=None):
        return self._send("POST", path, body)

    def put(self, path, body):
        return self._send("PUT", path, body)

    def delete(self, path):
        return self._send("DELETE", path)

    # ---- authAPI (api.ts:195-210) and AuthContext
    def signup(self, canvas_token, email=None):
        """Signup.tsx:37-44 -> AuthContext.tsx:127 authAPI.signup, :130 stores the token, :134
        authAPI.me."""
        body = {"name": "Ada Instructor", "email": email or f"w{next(_emails)}@example.edu",
                "password": PASSWORD, "canvasApiToken": canvas_token}
        r = self.post("/auth/signup", body)
        assert r.status_code == 201, r.get_json()
        self.token = r.get_json()["token"]
        return self.me()

    def login(self, email, password=PASSWORD):
        """AuthContext.tsx:84 authAPI.login, :87 stores ``data.token``, :92 authAPI.me."""
        r = self.post("/auth/login", {"email": email, "password": password})
        assert r.status_code == 200, r.get_json()
        self.token = r.get_json()["token"]
        return self.me()

    def me(self):
        """AuthContext.tsx:53/:92/:134/:167 authAPI.me; reads ``data.user``."""
        r = self.get("/auth/me")
        assert r.status_code == 200, r.get_json()
        return r.get_json()["user"]


def contract_user(user: dict) -> None:
    """The ``User`` fields the pages read (types/index.ts:2-15; Settings.tsx:236-393,
    Navigation.tsx:32, RequireRole/RoleHome: ``role``)."""
    assert {"id", "name", "email", "role", "hasCanvasToken", "canvasTokenType",
            "has_student_access"} <= set(user)
    assert isinstance(user["id"], str) and user["role"] in ("instructor", "student")


@pytest.fixture
def instructor(client):
    app = WebApp(client)
    app.user = app.signup("teacher-token")
    return app


@pytest.fixture
def student(client):
    app = WebApp(client)
    app.user = app.signup("student-token-1001")
    return app


def map_every_question(app: WebApp, course=COURSE) -> dict:
    """The instructor's skill mapping as the pages do it: SkillMatrixCreator.tsx:586 creates
    the matrix, SkillAssignmentInterface.tsx:402/:782 list quizzes and questions, :977 assigns
    a skill to every question. Returns ``{question_id: [skill]}``."""
    r = app.post("/achieveup/matrix/create", {"course_id": course, "matrix_name": "Core",
                                              "skills": SKILLS, "description": "Core skills"})
    assert r.status_code == 201, r.get_json()
    mapping = {}
    for quiz in app.get(f"/canvas/instructor/courses/{course}/quizzes").get_json():
        questions = app.get(f"/canvas/instructor/courses/{course}/quizzes/{quiz['id']}"
                            "/questions").get_json()
        for q in questions:
            mapping[q["id"]] = [SKILLS[len(mapping) % len(SKILLS)]]
    r = app.post("/achieveup/skills/assign", {"course_id": course, "question_skills": mapping})
    assert r.status_code == 200, r.get_json()
    return mapping


def force_sync(app: WebApp, flask_app, course=COURSE):
    """StudentProgress.tsx:193 instructorAPI.forceSyncCourse (api.ts:284, POST, no body),
    then the job runs."""
    r = app.post(f"/achieveup/instructor/course/{course}/force-sync")
    assert r.status_code == 202, r.get_json()
    run_pending(flask_app)
    return r


# ------------------------------------------------------------------ AuthContext, Signup, Login


def test_signup_tsx_37_and_authcontext_127_134(client):
    """Signup.tsx:37 sends {name, email, password, canvasApiToken}; AuthContext.tsx:129 needs
    ``data.token``, :134 reads ``me``'s ``user`` (the role decides the dashboard, RoleHome)."""
    app = WebApp(client)
    user = app.signup("teacher-token")
    contract_user(user)
    assert user["role"] == "instructor" and user["hasCanvasToken"] is True
    student = WebApp(client).signup("student-token-1001")
    assert student["role"] == "student" and student["canvas_student_id"] == "1001"


def test_authcontext_84_login_and_53_app_load(client, instructor):
    """AuthContext.tsx:84 POST /auth/login {email, password} -> ``data.token`` (:86); a new
    tab loads the app with the stored token: AuthContext.tsx:53 GET /auth/me -> ``user``."""
    again = WebApp(client)
    user = again.login(instructor.user["email"])
    assert user == instructor.user
    tab = WebApp(client)
    tab.token = again.token
    assert tab.me() == instructor.user


# ------------------------------------------------------------------ sessions that last


def test_access_token_outlives_a_working_day_by_default():
    """The app never refreshes (api.ts:58): the default lifetime is 24 h (was 15 min)."""
    assert load_config(environ={}).jwt_access_minutes == 24 * 60


def test_a_session_sixteen_minutes_old_still_works(client, app, instructor):
    """An instructor working 16 minutes (the old lifetime was 15) keeps getting answers: the
    app's token, issued 16 minutes ago with the configured lifetime, is accepted."""
    config = app.extensions["knowgap"].config
    claims = jwt.decode(instructor.token, config.jwt_secret_key, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == pytest.approx(24 * 3600, abs=1)
    issued = time.time() - 16 * 60
    instructor.token = jwt.encode({**claims, "iat": issued,
                                   "exp": int(issued + config.jwt_access_minutes * 60)},
                                  config.jwt_secret_key, algorithm="HS256")
    r = instructor.get("/canvas/instructor/courses")
    assert r.status_code == 200 and len(r.get_json()) == 2


# ------------------------------------------------------------------ Settings


def test_settings_58_update_profile_then_refresh_user(instructor):
    """Settings.tsx:58 PUT /auth/profile {name, email}; then :59 refreshUser (AuthContext.tsx
    :167 me) shows the new values."""
    r = instructor.put("/auth/profile", {"name": "Ada L.", "email": "ada.l@example.edu"})
    assert r.status_code == 200, r.get_json()
    user = instructor.me()
    assert user["name"] == "Ada L." and user["email"] == "ada.l@example.edu"


def test_settings_73_validate_and_96_test_connection(instructor):
    """Settings.tsx:73 POST /auth/validate-canvas-token {canvasApiToken, canvasTokenType} ->
    ``valid``, ``message`` (:77-81); :96 GET /canvas/test-connection -> ``connected``,
    ``message`` (:98-101, :363-378)."""
    r = instructor.post("/auth/validate-canvas-token", {"canvasApiToken": "teacher-token",
                                                        "canvasTokenType": "instructor"})
    assert r.status_code == 200 and r.get_json()["valid"] is True and r.get_json()["message"]
    r = instructor.post("/auth/validate-canvas-token", {"canvasApiToken": "wrong-token",
                                                        "canvasTokenType": "instructor"})
    assert r.status_code == 200 and r.get_json()["valid"] is False and r.get_json()["message"]
    r = instructor.get("/canvas/test-connection")
    assert r.status_code == 200
    assert r.get_json()["connected"] is True and r.get_json()["message"]


def test_settings_133_set_and_155_clear_the_canvas_token(student):
    """Settings.tsx:133 PUT /auth/profile {name, email, canvasApiToken, canvasTokenType} (after
    :126 validated it); :155 PUT /auth/profile {name, email, canvasApiToken: ""} clears it.
    The page reads ``hasCanvasToken`` and ``canvasTokenType`` (:236-238) after refreshUser."""
    user = student.user
    r = student.put("/auth/profile", {"name": user["name"], "email": user["email"],
                                      "canvasApiToken": "teacher-token",
                                      "canvasTokenType": "instructor"})
    assert r.status_code == 200, r.get_json()
    me = student.me()
    assert me["hasCanvasToken"] is True and me["canvasTokenType"] == "instructor"
    r = student.put("/auth/profile", {"name": user["name"], "email": user["email"],
                                      "canvasApiToken": ""})
    assert r.status_code == 200, r.get_json()
    me = student.me()
    assert me["hasCanvasToken"] is False
    # no Canvas token: Canvas pages say so with a 400, never a 401 (which means "signed out")
    r = student.get("/canvas/courses")
    assert r.status_code == 400 and r.get_json()["error"] == "canvas_token_missing"
    assert student.get("/canvas/test-connection").get_json()["connected"] is False


def test_settings_190_password_change_keeps_the_app_working(client, instructor):
    """Settings.tsx:190 PUT /auth/password {currentPassword, newPassword}; the page only needs
    a 2xx (:194) and keeps the token it has. Every page must keep working with it: the
    instructor dashboard's calls (InstructorDashboard.tsx:66, :75, :91) answer as before —
    not "0 courses". The same account signed in elsewhere is signed out."""
    elsewhere = WebApp(client)
    elsewhere.login(instructor.user["email"])
    r = instructor.put("/auth/password", {"currentPassword": PASSWORD,
                                          "newPassword": "New-Passw0rd-1"})
    assert r.status_code == 200 and r.get_json()["message"]
    courses = instructor.get("/canvas/instructor/courses")
    assert courses.status_code == 200 and len(courses.get_json()) == 2
    for course in courses.get_json():
        assert instructor.get(f"/achieveup/matrix/course/{course['id']}").status_code == 200
    assert instructor.get("/achieveup/instructor/dashboard").status_code == 200
    assert instructor.me()["email"] == instructor.user["email"]
    r = elsewhere.get("/auth/me")
    assert r.status_code == 401 and "password was changed" in r.get_json()["message"]
    assert WebApp(client).login(instructor.user["email"], "New-Passw0rd-1")


# ------------------------------------------------------------------ dashboards


def test_instructordashboard_66_75_91(instructor, canvas_world):
    """InstructorDashboard.tsx:66 GET /canvas/instructor/courses (reads ``id``, ``name``,
    ``code``: :495-508); :75 GET /achieveup/matrix/course/{id} per course (``data.length``);
    :91 GET /achieveup/instructor/dashboard (``students``, ``averageProgress``)."""
    r = instructor.get("/canvas/instructor/courses")
    assert r.status_code == 200
    courses = r.get_json()
    assert {c["id"] for c in courses} == {COURSE, OTHER_COURSE}
    assert all(isinstance(c["name"], str) and c["code"] for c in courses)
    for course in courses:
        r = instructor.get(f"/achieveup/matrix/course/{course['id']}")
        assert r.status_code == 200 and r.get_json() == []
    r = instructor.get("/achieveup/instructor/dashboard")
    assert r.status_code == 200
    body = r.get_json()
    enrolled = set(canvas_world.student_ids(101)) | set(canvas_world.student_ids(102))
    assert body["students"] == len(enrolled)
    assert isinstance(body["averageProgress"], (int, float))


def test_studentdashboard_22(student, canvas_world):
    """StudentDashboard.tsx:22 GET /canvas/courses (reads ``id``, ``name``, ``code``: :130-139)."""
    r = student.get("/canvas/courses")
    assert r.status_code == 200
    courses = r.get_json()
    expected = {str(e.course_id) for e in canvas_world.enrollments_of(1001)}
    assert {c["id"] for c in courses} == expected
    assert all(c["name"] and c["code"] for c in courses)


# ------------------------------------------------------------------ SkillMatrixCreator


def test_skillmatrixcreator_calls(instructor):
    """SkillMatrixCreator.tsx, in the order an instructor meets them: :217 courses; :289
    matrices of the course and :292 import status (``matrices_imported``); :157 and :412 the
    saved description (``description``), :191 saving it; :432 AI skill suggestions (array of
    ``{skill, relevance, description}``); :586 create (``_id``, ``matrix_name``); :126 update
    {skills, matrix_name} (merged into the list by ``_id``); :367 import from a past course
    (``imported_count``); :519 delete."""
    courses = instructor.get("/canvas/instructor/courses").get_json()
    course = next(c for c in courses if c["id"] == COURSE)
    r = instructor.get(f"/achieveup/matrix/course/{COURSE}")
    assert r.status_code == 200 and r.get_json() == []
    r = instructor.get(f"/achieveup/import-status/{COURSE}")
    assert r.status_code == 200 and r.get_json()["matrices_imported"] is False
    r = instructor.get(f"/achieveup/course-description/{COURSE}")
    assert r.status_code == 200 and r.get_json()["description"] == ""
    r = instructor.put(f"/achieveup/course-description/{COURSE}",
                       {"description": "Cells, energy and genetics for first-year students."})
    assert r.status_code == 200
    description = instructor.get(f"/achieveup/course-description/{COURSE}").get_json()[
        "description"]
    assert description.startswith("Cells, energy")
    r = instructor.post("/achieveup/ai/suggest-skills", {
        "courseId": COURSE, "courseName": course["name"], "courseCode": course["code"],
        "courseDescription": description})
    assert r.status_code == 200, r.get_json()
    suggestions = r.get_json()
    assert isinstance(suggestions, list) and suggestions
    assert all(s["skill"] and 0 <= s["relevance"] <= 1 and "description" in s
               for s in suggestions)
    skills = [s["skill"] for s in suggestions][:4]
    r = instructor.post("/achieveup/matrix/create", {"course_id": COURSE, "matrix_name": "Core",
                                                     "skills": skills, "description": ""})
    assert r.status_code == 201, r.get_json()
    matrix = r.get_json()
    assert isinstance(matrix["_id"], str) and matrix["matrix_name"] == "Core"
    r = instructor.put(f"/achieveup/matrix/{matrix['_id']}", {"skills": skills[:2],
                                                               "matrix_name": "Core 2"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["_id"] == matrix["_id"] and r.get_json()["skills"] == skills[:2]
    listed = instructor.get(f"/achieveup/matrix/course/{COURSE}").get_json()
    assert [m["matrix_name"] for m in listed] == ["Core 2"]
    r = instructor.post("/achieveup/matrix/import", {"source_course_id": COURSE,
                                                     "target_course_id": OTHER_COURSE})
    assert r.status_code in (200, 201), r.get_json()
    assert r.get_json()["imported_count"] == 1
    assert instructor.get(f"/achieveup/import-status/{OTHER_COURSE}").get_json()[
        "matrices_imported"] is True
    r = instructor.delete(f"/achieveup/matrix/delete/{matrix['_id']}")
    assert r.status_code == 200
    assert instructor.get(f"/achieveup/matrix/course/{COURSE}").get_json() == []


# ------------------------------------------------------------------ SkillAssignmentInterface


def test_skillassignmentinterface_calls(instructor, canvas_world):
    """SkillAssignmentInterface.tsx: :385 courses; :402 quizzes (``id``, ``title``); :409
    ``assignments_imported``; :503 matrices (``_id``, first auto-selected); :782 questions
    (``id``, ``question_text``, ``question_type``, ``points``); :798 saved assignments
    (``question_skills``); :977 assign; :467 import from a past course (``imported_count``)
    and :475 the status again."""
    r = instructor.post("/achieveup/matrix/create", {"course_id": COURSE, "matrix_name": "Core",
                                                     "skills": SKILLS})
    assert r.status_code == 201
    assert [c["id"] for c in instructor.get("/canvas/instructor/courses").get_json()]
    quizzes = instructor.get(f"/canvas/instructor/courses/{COURSE}/quizzes").get_json()
    assert [q["id"] for q in quizzes] == [str(q.id) for q in canvas_world.course_quizzes(101)]
    assert all(q["title"] for q in quizzes)
    assert instructor.get(f"/achieveup/import-status/{COURSE}").get_json()[
        "assignments_imported"] is False
    matrices = instructor.get(f"/achieveup/matrix/course/{COURSE}").get_json()
    assert matrices[0]["skills"] == SKILLS and matrices[0]["_id"]
    quiz = quizzes[0]
    questions = instructor.get(f"/canvas/instructor/courses/{COURSE}/quizzes/{quiz['id']}"
                               "/questions").get_json()
    assert questions and all({"id", "question_text", "question_type", "points"} <= set(q)
                             for q in questions)
    ids = [q["id"] for q in questions]
    r = instructor.get("/achieveup/skills/assignments",
                       query_string=[("course_id", COURSE)] + [("question_id", i) for i in ids])
    assert r.status_code == 200 and r.get_json()["question_skills"] == {}
    chosen = {ids[0]: ["Cells"], ids[1]: ["Energy", "Genetics"]}
    r = instructor.post("/achieveup/skills/assign", {"course_id": COURSE,
                                                     "question_skills": chosen})
    assert r.status_code == 200, r.get_json()
    saved = instructor.get("/achieveup/skills/assignments", query_string=[
        ("course_id", COURSE)] + [("question_id", i) for i in ids]).get_json()["question_skills"]
    assert saved == chosen
    instructor.post("/achieveup/matrix/create", {"course_id": OTHER_COURSE,
                                                 "matrix_name": "Core", "skills": SKILLS})
    r = instructor.post("/achieveup/skills/import", {"source_course_id": COURSE,
                                                     "target_course_id": OTHER_COURSE})
    assert r.status_code == 200, r.get_json()
    assert isinstance(r.get_json()["imported_count"], int)
    r = instructor.get(f"/achieveup/import-status/{OTHER_COURSE}")
    assert r.status_code == 200 and isinstance(r.get_json()["assignments_imported"], bool)


@pytest.mark.parametrize("quiz_id,matrix_id", [("", ""), ("quiz", ""), ("", "matrix"),
                                               ("quiz", "matrix")])
def test_skillassignmentinterface_151_analyze_questions(instructor, quiz_id, matrix_id):
    """SkillAssignmentInterface.tsx:151 POST /achieveup/ai/analyze-questions {courseId, quizId,
    matrixId, questions: [{id, text, type, points}]} (:138-147). Right after loading questions
    the page still holds ``""`` for the quiz and, with no matrix, for the matrix: ``""`` means
    none. The page reads ``questionId`` and ``suggestedSkills`` (:159-162) and falls back to
    invented suggestions when the call fails or suggests nothing (:186-204)."""
    matrix = instructor.post("/achieveup/matrix/create", {
        "course_id": COURSE, "matrix_name": "Core", "skills": SKILLS}).get_json()
    quizzes = instructor.get(f"/canvas/instructor/courses/{COURSE}/quizzes").get_json()
    questions = instructor.get(f"/canvas/instructor/courses/{COURSE}/quizzes/"
                               f"{quizzes[0]['id']}/questions").get_json()
    body = {"courseId": COURSE,
            "quizId": quizzes[0]["id"] if quiz_id else "",
            "matrixId": matrix["_id"] if matrix_id else "",
            "questions": [{"id": q["id"], "text": q["question_text"],
                           "type": q["question_type"] or "multiple_choice",
                           "points": q["points"] or 1} for q in questions]}
    r = instructor.post("/achieveup/ai/analyze-questions", body)
    assert r.status_code == 200, r.get_json()
    analyses = r.get_json()
    assert {a["questionId"] for a in analyses} == {q["id"] for q in questions}
    assert sum(len(a["suggestedSkills"]) for a in analyses) > 0
    assert all(set(a["suggestedSkills"]) <= set(SKILLS) for a in analyses)


def test_empty_optional_ids_are_absent_but_required_ones_are_not(instructor):
    """``""`` for an optional id means absent in every schema (the shared ``Id`` field);
    a required id may not be empty."""
    q = [{"id": "1", "text": "What does the mitochondrion make?"}]
    r = instructor.post("/achieveup/ai/analyze-questions", {"courseId": "", "questions": q})
    assert r.status_code == 422 and "courseId" in r.get_json()["details"]
    r = instructor.post("/achieveup/questions/analyze", {"course_id": "", "matrix_id": "",
                                                         "questions": q})
    assert r.status_code == 200, r.get_json()
    r = instructor.post("/achieveup/skills/suggest", {"question_text": "What is ATP?",
                                                      "course_id": ""})
    assert r.status_code == 200, r.get_json()


# ------------------------------------------------------------------ StudentProgress, badges


@pytest.fixture
def synced_course(client, app, instructor):
    map_every_question(instructor)
    force_sync(instructor, app)
    return instructor


def test_studentprogress_193_force_sync_202(app, instructor):
    """StudentProgress.tsx:193 POST force-sync; the page polls on 202 (:195) and otherwise
    reads ``details.progress_synced`` (:215): the 202 carries ``details`` too (all 0: the
    counts come from the job)."""
    map_every_question(instructor)
    r = instructor.post(f"/achieveup/instructor/course/{COURSE}/force-sync")
    assert r.status_code == 202
    body = r.get_json()
    assert body["message"] and body["job_id"]
    assert body["details"] == {"total_quizzes": 0, "total_synced": 0, "progress_synced": 0,
                               "total_errors": 0}
    run_pending(app)
    job = instructor.get(f"/achieveup/jobs/{body['job_id']}").get_json()
    assert job["state"] == "succeeded"


def test_studentprogress_50_71_and_badgesdashboard_47(synced_course, canvas_world):
    """StudentProgress.tsx:50 instructor courses (``id``, ``name``, ``code``); :71 and
    BadgesDashboard.tsx:47 GET student-analytics: ``students[]`` with ``id``, ``name``,
    ``skillsMastered``, ``badgesEarned``, ``progress``, ``riskLevel``, ``skillBreakdown{skill:
    {score, level, questionsAttempted, questionsCorrect, badgeLevel?, badgeEarnedAt?}}``,
    ``totalQuestionsAttempted`` (StudentProgress.tsx:78-107, BadgesDashboard.tsx:113-126),
    ``skillDistribution``, ``averageScores``."""
    app = synced_course
    assert app.get("/canvas/instructor/courses").status_code == 200
    r = app.get(f"/achieveup/instructor/courses/{COURSE}/student-analytics")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(SKILLS) <= set(body["skillDistribution"]) | set(body["averageScores"])
    students = body["students"]
    assert len(students) == len(canvas_world.student_ids(101))
    for s in students:
        assert {"id", "name", "skillsMastered", "badgesEarned", "progress", "riskLevel",
                "skillBreakdown", "totalQuestionsAttempted"} <= set(s)
        assert s["riskLevel"] in ("low", "medium", "high")
        for item in s["skillBreakdown"].values():
            assert {"score", "level", "questionsAttempted", "questionsCorrect"} <= set(item)
    earned = [item for s in students for item in s["skillBreakdown"].values()
              if item.get("badgeLevel")]
    assert earned and all(item["badgeEarnedAt"] for item in earned)
    assert sum(s["badgesEarned"] for s in students) >= len(earned)


def test_studentbadgestest_34(synced_course, app):
    """StudentBadgesTest.tsx:34 GET /achieveup/badges/student/{sid}/earned: ``badges`` and
    ``total_badges`` (:35-38); each badge's ``badge_id``, ``badge_level``, ``badge_name``,
    ``course_name``, ``earned_at``, ``progress_percentage`` (:120-149)."""
    db = app.extensions["knowgap"].db
    sid = db[mastery.BADGES].find_one({"course_id": COURSE})["student_id"]
    r = synced_course.get(f"/achieveup/badges/student/{sid}/earned")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total_badges"] == len(body["badges"]) > 0
    for badge in body["badges"]:
        assert badge["badge_id"] and badge["badge_name"] and badge["course_name"]
        assert badge["badge_level"] in ("beginner", "intermediate", "advanced", "expert")
        assert badge["earned_at"] and isinstance(badge["progress_percentage"], (int, float))


def test_studentpublicbadges_49(client, app, synced_course):
    """StudentPublicBadges.tsx:49 GET /achieveup/public/badges/student/{sid}/earned, a public
    page: sent with whatever token the browser holds (api.ts:40-46), or none. Reads
    ``badges`` and ``student_name`` (:50-54); each badge's ``badge_id``, ``badge_level``,
    ``badge_name``, ``skill_name``, ``earned_at``, ``progress_percentage`` (:169-207)."""
    db = app.extensions["knowgap"].db
    badge = db[mastery.BADGES].find_one({"course_id": COURSE})
    owner = WebApp(client)
    owner.signup(f"student-token-{badge['student_id']}")
    r = owner.put(f"/achieveup/badges/{badge['public_id']}/share", {"public": True})
    assert r.status_code == 200, r.get_json()
    visitor_signed_in, visitor = synced_course, WebApp(client)
    for browser in (visitor_signed_in, visitor):
        r = browser.get(f"/achieveup/public/badges/student/{badge['student_id']}/earned")
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        # no name until the student chooses to show it (issue 17, finding 4); the page then
        # titles itself "Student Achievements" (:53 reads student_name only when it is set)
        assert body["student_name"] == ""
        shown = [b for b in body["badges"] if b["badge_id"] == badge["public_id"]]
        assert len(shown) == 1
        item = shown[0]
        assert item["badge_name"] and item["skill_name"] and item["earned_at"]
        assert item["badge_level"] == badge["level"]
        assert isinstance(item["progress_percentage"], (int, float))
    assert owner.put("/achieveup/badge-profile", {"show_name": True}).status_code == 200
    assert visitor.get(f"/achieveup/public/badges/student/{badge['student_id']}/earned"
                       ).get_json()["student_name"]
