"""Authorization matrix: every route × every kind of caller, generated from ``app.url_map``.

``MATRIX`` has one entry per (method, rule) of the app. A route added without an entry makes
``test_every_route_has_an_entry`` fail, so nobody ships an endpoint whose access rules were
never written down. Only the framework routes in ``NOT_IN_MATRIX`` are left out (static files,
the OpenAPI document and Swagger UI, the health probe — public by design; the OpenAPI/docs/health
ones are still checked to be reachable anonymously in ``test_framework_routes_are_public``).

Callers (``ACTORS``):

- ``anonymous``: no ``Authorization`` header (KnowGap: no Canvas token either);
- ``student``: AchieveUp JWT of a user signed up with ``student-token-1001`` (student 1001 of
  course 101); on KnowGap routes the Canvas token ``student-token-1001``;
- ``other``: ``other-teacher-token`` — an instructor, but only of course 999;
- ``instructor``: ``teacher-token`` — teaches 101 (and 102);
- ``foreign``: ``b-teacher-token`` — teaches course 101 too, but on *another* allowed Canvas
  host (host B, ``tests/tenancy_support.py``: same ids, other content and tokens). Its
  AchieveUp account belongs to host B; on KnowGap routes it sends ``link`` = host B. It may
  work on its own course 101 (so most cells are the instructor's) but reaches nothing of host
  A's course 101 by id: A's matrix, job, badge and quiz answer 404/403. That its reads and
  writes never see or change A's data is shown call by call in ``tests/test_tenancy.py``;
- ``admin``: created through ``flask create-admin`` (``app.test_cli_runner()``); admins hold no
  Canvas token, so routes that must talk to Canvas as the caller answer the documented
  ``400 canvas_token_missing``; KnowGap routes know no admins (a JWT is not a Canvas token →
  ``401``).

Expected values: an int status, a tuple of allowed statuses, or ``OK`` (any 2xx). Path ids are
real: course 101, student 1001, a quiz of 101, a matrix created in setup (a fresh one for each
DELETE), a job id from a force-sync, a badge id from a real sync + badge generation.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from knowgap import create_app
from knowgap.core import db as dbmod, swagger_ui
from knowgap.core.extensions import limiter
from tests.canvas_sandbox import SandboxServer, build_world
from tests.tenancy_support import foreign_world, two_host_config

PASSWORD = "Str0ngPassw0rd"
OK = "2xx"
ACTORS = ("anonymous", "student", "other", "instructor", "foreign", "admin")
CANVAS_TOKENS = {"student": "student-token-1001", "other": "other-teacher-token",
                 "instructor": "teacher-token", "foreign": "b-teacher-token"}
NOT_IN_MATRIX = {
    ("GET", "/static/<path:filename>"): "Flask's static files (none are served)",
    ("GET", "/openapi.json"): "public API document",
    ("GET", "/docs"): "public Swagger UI",
    ("GET", swagger_ui.URL + "<path:filename>"): "Swagger UI's static files (tests/test_docs.py)",
    ("GET", "/health"): "public health probe for the load balancer",
}
MISSING_TOKEN = 400          # AchieveUp: admin has no Canvas token ("canvas_token_missing")
_seq = itertools.count()


@dataclass
class Entry:
    path: str                              # format string over the context (see Ctx)
    expect: dict                           # actor -> OK | int | tuple
    body: object = None                    # dict / callable(ctx, actor) -> dict
    query: dict | None = None
    knowgap: bool = False                  # authenticate with the Canvas token
    fresh_user: bool = False               # a throw-away account for this actor (session-changing routes)
    why: str = ""


def access(anonymous=401, student=403, other=403, instructor=OK, admin=OK,
           foreign=None) -> dict:
    """``foreign`` defaults to the instructor's cell: host B's teacher teaches a course 101
    too (their own)."""
    return {"anonymous": anonymous, "student": student, "other": other,
            "instructor": instructor, "admin": admin,
            "foreign": instructor if foreign is None else foreign}


COURSE = access()                                        # instructor of the course (admin passes)
COURSE_CANVAS = access(admin=MISSING_TOKEN)              # ... and the route asks Canvas as caller
SIGNED_IN = access(student=OK, other=OK)                 # any signed-in user
PUBLIC = access(anonymous=OK, student=OK, other=OK)
KG_ENROLLED = access(student=OK, admin=401)              # KnowGap, anyone enrolled in 101
KG_INSTRUCTOR = access(admin=401)                        # KnowGap, instructors of 101 only
KG_SELF = access(student=OK, instructor=403, admin=401)  # KnowGap, the student themself only
NOT_ON_B = 404               # host A's matrix, quiz, badge: host B has no such record


def _unique(prefix: str) -> str:
    return f"{prefix} {next(_seq)}"


MATRIX: dict[tuple[str, str], Entry] = {
    # ----------------------------------------------------------------- auth
    ("POST", "/auth/signup"): Entry(
        "/auth/signup", PUBLIC,
        body=lambda ctx, actor: {"name": "New", "email": f"new{next(_seq)}@example.edu",
                                 "password": PASSWORD},
        why="public: creates an account"),
    ("POST", "/auth/login"): Entry(
        "/auth/login", PUBLIC,
        body=lambda ctx, actor: {"email": ctx.emails["instructor"], "password": PASSWORD},
        why="public: the password is the credential"),
    ("POST", "/auth/refresh"): Entry(
        "/auth/refresh", PUBLIC, body=lambda ctx, actor: {"refresh_token": ctx.refresh_token()},
        why="public: the refresh token is the credential"),
    ("POST", "/auth/logout"): Entry(
        "/auth/logout", PUBLIC, fresh_user=True,
        why="idempotent; revokes the presented session when there is one"),
    ("GET", "/auth/me"): Entry("/auth/me", SIGNED_IN),
    ("GET", "/auth/verify"): Entry("/auth/verify", SIGNED_IN),
    ("GET", "/auth/token-status"): Entry("/auth/token-status", SIGNED_IN),
    ("PUT", "/auth/profile"): Entry("/auth/profile", SIGNED_IN, body={"name": "Renamed"},
                                    fresh_user=True),
    ("PUT", "/auth/password"): Entry(
        "/auth/password", SIGNED_IN, fresh_user=True,
        body={"currentPassword": PASSWORD, "newPassword": "N3wPassw0rdX"}),
    ("POST", "/auth/validate-canvas-token"): Entry(
        "/auth/validate-canvas-token", PUBLIC, body={"canvasApiToken": "teacher-token"},
        why="public (rate limited): used on the sign-up form before an account exists"),
    # ----------------------------------------------------------------- canvas
    ("GET", "/canvas/courses"): Entry("/canvas/courses",
                                      access(student=OK, other=OK, admin=MISSING_TOKEN)),
    ("GET", "/canvas/courses/<course_id>/quizzes"): Entry(
        "/canvas/courses/101/quizzes", access(student=OK, admin=MISSING_TOKEN)),
    ("GET", "/canvas/quizzes/<quiz_id>/questions"): Entry(
        "/canvas/quizzes/{quiz}/questions", access(student=403, admin=MISSING_TOKEN),
        query={"course_id": "101"},
        why="Canvas itself refuses students the questions API (canvas_permission_denied)"),
    ("GET", "/canvas/test-connection"): Entry(
        "/canvas/test-connection", access(student=OK, other=OK, admin=(200, MISSING_TOKEN))),
    ("GET", "/canvas/instructor/courses"): Entry(
        "/canvas/instructor/courses", access(other=OK, admin=MISSING_TOKEN)),
    ("GET", "/canvas/instructor/courses/<course_id>/quizzes"): Entry(
        "/canvas/instructor/courses/101/quizzes", COURSE_CANVAS),
    ("GET", "/canvas/instructor/courses/<course_id>/quizzes/<quiz_id>/questions"): Entry(
        "/canvas/instructor/courses/101/quizzes/{quiz}/questions", COURSE_CANVAS),
    # ----------------------------------------------------------------- skills
    ("GET", "/achieveup/matrix/course/<string:course_id>"): Entry(
        "/achieveup/matrix/course/101", COURSE),
    ("GET", "/achieveup/matrix/<string:ref>"): Entry("/achieveup/matrix/101", COURSE),
    ("PUT", "/achieveup/matrix/<string:ref>"): Entry(
        "/achieveup/matrix/{matrix}", access(foreign=NOT_ON_B), body={"description": "Updated."}),
    ("POST", "/achieveup/matrix/create"): Entry(
        "/achieveup/matrix/create", COURSE,
        body=lambda ctx, actor: {"course_id": "101", "matrix_name": _unique("Matrix"),
                                 "skills": ["Cells"]}),
    ("DELETE", "/achieveup/matrix/delete/<string:matrix_id>"): Entry(
        "/achieveup/matrix/delete/{fresh_matrix}", access(foreign=NOT_ON_B)),
    ("POST", "/achieveup/matrix/import"): Entry(
        "/achieveup/matrix/import", COURSE,
        body={"source_course_id": "101", "target_course_id": "102"}),
    ("GET", "/achieveup/import-status/<string:course_id>"): Entry(
        "/achieveup/import-status/101", COURSE),
    ("GET", "/achieveup/course-description/<string:course_id>"): Entry(
        "/achieveup/course-description/101", COURSE),
    ("PUT", "/achieveup/course-description/<string:course_id>"): Entry(
        "/achieveup/course-description/101", COURSE, body={"description": "Biology."}),
    ("POST", "/achieveup/skills/assign"): Entry(
        "/achieveup/skills/assign", COURSE,
        body=lambda ctx, actor: {"course_id": "101",
                                 "question_skills": {ctx["question"]: ["Cells"]}}),
    ("GET", "/achieveup/skills/assignments"): Entry(
        "/achieveup/skills/assignments", COURSE, query={"course_id": "101"}),
    ("POST", "/achieveup/skills/import"): Entry(
        "/achieveup/skills/import", COURSE_CANVAS,
        body={"source_course_id": "101", "target_course_id": "102"}),
    # ----------------------------------------------------------------- AI
    ("POST", "/achieveup/ai/suggest-skills"): Entry(
        "/achieveup/ai/suggest-skills", COURSE,
        body={"courseId": "101", "courseName": "Biology", "courseCode": "BIO-101"}),
    ("POST", "/achieveup/ai/analyze-questions"): Entry(
        "/achieveup/ai/analyze-questions", COURSE,
        body={"courseId": "101", "questions": [{"id": "1", "text": "What is a cell?"}]}),
    ("POST", "/achieveup/questions/analyze"): Entry(
        "/achieveup/questions/analyze", COURSE,
        body={"course_id": "101", "questions": [{"id": "1", "text": "What is a cell?"}]}),
    ("POST", "/achieveup/skills/suggest"): Entry(
        "/achieveup/skills/suggest", COURSE,
        body={"course_id": "101", "question_text": "What is a cell?"}),
    # ----------------------------------------------------------------- sync, analytics
    ("POST", "/achieveup/instructor/course/<course_id>/force-sync"): Entry(
        "/achieveup/instructor/course/101/force-sync", COURSE),
    ("GET", "/achieveup/jobs/<job_id>"): Entry(
        "/achieveup/jobs/{job}", access(foreign=403),
        why="the job of an instructor of 101 (of host A: host B's instructors may not follow)"),
    ("POST", "/achieveup/instructor/course/<course_id>/new-quizzes/<quiz_id>/student-analysis"):
        Entry("/achieveup/instructor/course/101/new-quizzes/nq-1/student-analysis",
              access(instructor=422, admin=422),
              why="role and course are checked first; this JSON body has no file (422). "
                  "Uploads themselves: tests/test_new_quizzes.py"),
    ("GET", "/achieveup/instructor/dashboard"): Entry(
        "/achieveup/instructor/dashboard", access(other=OK, admin=(200, MISSING_TOKEN))),
    ("GET", "/achieveup/instructor/courses/<course_id>/student-analytics"): Entry(
        "/achieveup/instructor/courses/101/student-analytics", COURSE),
    ("GET", "/achieveup/progress/<student_id>/<course_id>"): Entry(
        "/achieveup/progress/1001/101", access(student=OK)),
    ("GET", "/achieveup/graphs/individual/<student_id>"): Entry(
        "/achieveup/graphs/individual/1001", access(student=OK), query={"course_id": "101"}),
    ("GET", "/achieveup/export/<course_id>"): Entry(
        "/achieveup/export/101", COURSE, query={"format": "json"}),
    ("POST", "/achieveup/import"): Entry(
        "/achieveup/import", COURSE, body=lambda ctx, actor: {"course_id": "101",
                                                               "data": ctx.export}),
    # ----------------------------------------------------------------- insights
    ("GET", "/achieveup/instructor/courses/<course_id>/quizzes/<quiz_id>/item-analysis"): Entry(
        "/achieveup/instructor/courses/101/quizzes/{quiz}/item-analysis",
        access(foreign=NOT_ON_B), why="host B's course 101 was never synced"),
    ("GET", "/achieveup/instructor/courses/<course_id>/engagement"): Entry(
        "/achieveup/instructor/courses/101/engagement", COURSE),
    ("GET", "/achieveup/engagement/<student_id>/<course_id>"): Entry(
        "/achieveup/engagement/1001/101", access(student=OK)),
    ("GET", "/achieveup/study-plan/<student_id>/<course_id>"): Entry(
        "/achieveup/study-plan/1001/101", access(student=OK)),
    ("GET", "/achieveup/leaderboard/<course_id>"): Entry(
        "/achieveup/leaderboard/101", access(student=OK),
        why="members of the course only: its students and instructors"),
    ("PUT", "/achieveup/instructor/courses/<course_id>/leaderboard"): Entry(
        "/achieveup/instructor/courses/101/leaderboard", COURSE, body={"enabled": True}),
    ("GET", "/achieveup/leaderboard-preferences"): Entry(
        "/achieveup/leaderboard-preferences", access(student=OK, other=OK, admin=MISSING_TOKEN),
        why="the caller's own Canvas account's setting"),
    ("PUT", "/achieveup/leaderboard-preferences"): Entry(
        "/achieveup/leaderboard-preferences", access(student=OK, other=OK, admin=MISSING_TOKEN),
        body={"leaderboard_opt_in": False}, why="the caller's own Canvas account's setting"),
    ("GET", "/achieveup/instructor/course/<course_id>/settings"): Entry(
        "/achieveup/instructor/course/101/settings", COURSE),
    ("PUT", "/achieveup/instructor/course/<course_id>/settings"): Entry(
        "/achieveup/instructor/course/101/settings", COURSE, body={"min_evidence": 1},
        why="changes the course's mastery model and queues its recompute"),
    # ----------------------------------------------------------------- xAPI delivery
    ("GET", "/achieveup/instructor/courses/<course_id>/xapi"): Entry(
        "/achieveup/instructor/courses/101/xapi", COURSE),
    ("PUT", "/achieveup/instructor/courses/<course_id>/xapi"): Entry(
        "/achieveup/instructor/courses/101/xapi", COURSE, body={"enabled": False},
        why="switches sending the course's learning events to the institution's LRS"),
    ("POST", "/achieveup/instructor/courses/<course_id>/xapi/retry"): Entry(
        "/achieveup/instructor/courses/101/xapi/retry", COURSE),
    ("GET", "/xapi/extensions/<name>"): Entry(
        "/xapi/extensions/attempt", PUBLIC,
        why="the published meaning of an xAPI extension IRI (xAPI Data 4.1)"),
    # ----------------------------------------------------------------- badges
    # ``other`` teaches 999, where student 1001 is also enrolled: a shared course, so 200 with
    # only that course's badges (none); see test_badges_of_unshared_students_are_forbidden.
    ("GET", "/achieveup/badges/student/<student_id>/earned"): Entry(
        "/achieveup/badges/student/1001/earned", access(student=OK, other=OK)),
    ("GET", "/achieveup/badges/<student_id>"): Entry(
        "/achieveup/badges/1001", access(student=OK, other=OK)),
    ("GET", "/achieveup/public/badges/student/<student_id>/earned"): Entry(
        "/achieveup/public/badges/student/1001/earned", PUBLIC),
    ("POST", "/achieveup/badges/generate"): Entry(
        "/achieveup/badges/generate", COURSE, body={"course_id": "101"}),
    ("PUT", "/achieveup/badges/<badge_id>/share"): Entry(
        "/achieveup/badges/{badge}/share", access(student=OK, instructor=403, admin=403,
                                                  foreign=NOT_ON_B),
        body={"public": True},
        why="sharing publishes the student's data: only the student who earned it consents"),
    ("GET", "/achieveup/public/badges/assertions/<badge_id>"): Entry(
        "/achieveup/public/badges/assertions/{badge}", PUBLIC),
    ("GET", "/achieveup/public/badges/classes/<course_id>/<skill_slug>/<level>"): Entry(
        "/achieveup/public/badges/classes/101/{badge_slug}/{badge_level}", PUBLIC),
    ("GET", "/achieveup/public/badges/student/<student_id>"): Entry(
        "/achieveup/public/badges/student/1001", PUBLIC),
    ("GET", "/achieveup/badge-profile"): Entry(
        "/achieveup/badge-profile", access(student=OK, other=OK, admin=MISSING_TOKEN),
        why="the caller's own Canvas account's setting"),
    ("PUT", "/achieveup/badge-profile"): Entry(
        "/achieveup/badge-profile", access(student=OK, other=OK, admin=MISSING_TOKEN),
        body={"show_name": False}, why="the caller's own Canvas account's setting"),
    ("GET", "/achieveup/public/badges/assertions/<badge_id>/image.png"): Entry(
        "/achieveup/public/badges/assertions/{badge}/image.png", PUBLIC),
    ("GET", "/achieveup/public/badges/credentials/<badge_id>/image.png"): Entry(
        "/achieveup/public/badges/credentials/{badge}/image.png", PUBLIC),
    ("GET", "/achieveup/public/badges/images/<level>.png"): Entry(
        "/achieveup/public/badges/images/beginner.png", PUBLIC),
    ("GET", "/achieveup/public/badges/issuer"): Entry("/achieveup/public/badges/issuer", PUBLIC),
    ("GET", "/achieveup/public/badges/images/<level>.svg"): Entry(
        "/achieveup/public/badges/images/beginner.svg", PUBLIC),
    # Open Badges 3.0: only the student who earned a badge downloads its credential (shared
    # or not); shared badges' credentials, the keys and the status list are public.
    ("GET", "/achieveup/badges/<badge_id>/credential"): Entry(
        "/achieveup/badges/{badge}/credential", access(student=OK, instructor=403, admin=403,
                                                       foreign=NOT_ON_B)),
    ("GET", "/achieveup/public/badges/credentials/<badge_id>"): Entry(
        "/achieveup/public/badges/credentials/{badge}", PUBLIC),
    ("GET", "/achieveup/public/badges/jwks.json"): Entry(
        "/achieveup/public/badges/jwks.json", PUBLIC),
    ("GET", "/achieveup/public/badges/keys/<kid>"): Entry(
        "/achieveup/public/badges/keys/{badge_kid}", PUBLIC),
    ("GET", "/achieveup/public/badges/status/<list_number>"): Entry(
        "/achieveup/public/badges/status/0", PUBLIC),
    ("POST", "/achieveup/badges/verify"): Entry(
        "/achieveup/badges/verify", PUBLIC, body={"credential": "a.b.c"},
        why="public (rate limited): anyone shown a badge may check it"),
    # ----------------------------------------------------------------- KnowGap
    ("POST", "/add-token"): Entry(
        "/add-token", access(student=OK, other=403, admin=401), knowgap=True,
        body=lambda ctx, actor: {"user_id": ctx.canvas_ids.get(actor, "1"),
                                 "course_ids": ["101"]},
        why="registers the caller's own token for courses the caller is enrolled in"),
    ("POST", "/update-course-context"): Entry(
        "/update-course-context", KG_INSTRUCTOR, knowgap=True,
        body={"course_id": "101", "course_context": "Cell biology."}),
    ("POST", "/sync-all-quizzes-questions"): Entry(
        "/sync-all-quizzes-questions", KG_INSTRUCTOR, knowgap=True, body={"course_id": "101"}),
    ("POST", "/get-student-profile"): Entry(
        "/get-student-profile", access(student=OK, other=OK, admin=401), knowgap=True, body={},
        why="the caller's own Canvas profile: any valid Canvas token"),
    ("POST", "/update-course-db"): Entry(
        "/update-course-db", KG_ENROLLED, knowgap=True, body={"course_id": "101"}),
    ("POST", "/get-course-quizzes"): Entry(
        "/get-course-quizzes", KG_ENROLLED, knowgap=True, body={"course_id": "101"}),
    ("POST", "/get-questions-by-course/<string:course_id>"): Entry(
        "/get-questions-by-course/101", KG_ENROLLED, knowgap=True, body={}),
    ("POST", "/get-student-grade"): Entry(
        "/get-student-grade", KG_ENROLLED, knowgap=True,
        body={"course_id": "101", "user_id": "1001"}),
    ("POST", "/get-assessment-videos"): Entry(
        "/get-assessment-videos", KG_ENROLLED, knowgap=True,
        body={"course_id": "101", "student_id": "1001"}),
    ("POST", "/get-course-videos"): Entry(
        "/get-course-videos", KG_INSTRUCTOR, knowgap=True, body={"course_id": "101"}),
    ("POST", "/update-video-link"): Entry(
        "/update-video-link", KG_INSTRUCTOR, knowgap=True,
        body=lambda ctx, actor: {**ctx.kg_question, "new_link": "https://youtu.be/abc"}),
    ("POST", "/add-video"): Entry(
        "/add-video", KG_INSTRUCTOR, knowgap=True,
        body=lambda ctx, actor: {**ctx.kg_question, "video_link": "https://youtu.be/abc"}),
    ("POST", "/remove-video"): Entry(
        "/remove-video", KG_INSTRUCTOR, knowgap=True,
        body=lambda ctx, actor: dict(ctx.kg_question)),
    ("POST", "/set-video-watched"): Entry(
        "/set-video-watched", KG_SELF, knowgap=True,
        body={"course_id": "101", "student_id": "1001", "video_link": "https://youtu.be/abc",
              "watched": True}),
    ("POST", "/vote-video"): Entry(
        "/vote-video", KG_SELF, knowgap=True,
        body={"course_id": "101", "student_id": "1001", "video_link": "https://youtu.be/abc",
              "vote": "up"}),
    ("POST", "/get-video-votes"): Entry(
        "/get-video-votes", KG_ENROLLED, knowgap=True,
        body={"course_id": "101", "video_link": "https://youtu.be/abc"}),
    ("POST", "/get-risk"): Entry(
        "/get-risk", KG_ENROLLED, knowgap=True, body={"course_id": "101", "student_id": "1001"}),
    ("GET", "/get-toggle-risk/<string:course_id>"): Entry(
        "/get-toggle-risk/101", access(anonymous=OK, student=OK, other=OK, admin=OK,
                                       foreign=OK),
        knowgap=True,
        why="a harmless switch the students' extension reads without a token (issue 22)"),
    ("POST", "/update-toggle-risk/<string:course_id>"): Entry(
        "/update-toggle-risk/101", KG_INSTRUCTOR, knowgap=True, body={"toggle_risk": True}),
    ("POST", "/get-support-video"): Entry(
        "/get-support-video", access(anonymous=OK, student=OK, other=OK, admin=OK),
        knowgap=True, body={"risk": "low"},
        why="generic study-skills content, documented as needing no token"),
    # ----------------------------------------------------------------- KnowGap tutor
    ("POST", "/tutor/sessions"): Entry(
        "/tutor/sessions", access(student=OK, instructor=404, admin=401), knowgap=True,
        body=lambda ctx, actor: dict(ctx.tutor_question),
        why="only the student who missed the question (the teacher has no graded answer: 404; "
            "other is not enrolled in 101: 403)"),
    ("GET", "/tutor/sessions"): Entry(
        "/tutor/sessions", access(student=OK, other=OK, admin=401), knowgap=True,
        why="everyone lists their own sessions only"),
    ("GET", "/tutor/sessions/<string:session_id>"): Entry(
        "/tutor/sessions/{tutor_session}", access(student=OK, other=404, instructor=404,
                                                   admin=401), knowgap=True,
        why="the student's own; nobody else learns that it exists"),
    ("POST", "/tutor/sessions/<string:session_id>/end"): Entry(
        "/tutor/sessions/{tutor_session_to_end}/end",
        access(student=OK, other=404, instructor=404, admin=401), knowgap=True),
    ("POST", "/tutor/sessions/<string:session_id>/messages"): Entry(
        "/tutor/sessions/{tutor_session}/messages",
        access(student=OK, other=404, instructor=404, admin=401), knowgap=True,
        body={"content": "Why was my answer wrong?"}),
    ("GET", "/tutor/courses/<string:course_id>/questions"): Entry(
        "/tutor/courses/101/questions", KG_INSTRUCTOR, knowgap=True,
        why="instructors see counts per question, never conversations"),
}


# ------------------------------------------------------------------ setup


class Ctx(dict):
    """Values for the path templates; ``fresh_matrix`` creates a new matrix on each use."""

    def __init__(self, client, headers):
        super().__init__()
        self.client = client
        self.headers = headers          # actor -> headers of the shared accounts
        self.emails: dict = {}
        self.canvas_ids = {"student": "1001", "other": "2", "instructor": "1"}

    def __missing__(self, key):
        if key == "fresh_matrix":
            response = self.client.post("/achieveup/matrix/create",
                                        headers=self.headers["instructor"],
                                        json={"course_id": "101",
                                              "matrix_name": _unique("Doomed"),
                                              "skills": ["Cells"]})
            assert response.status_code == 201, response.get_json()
            return response.get_json()["_id"]
        raise KeyError(key)

    def refresh_token(self) -> str:
        response = self.client.post("/auth/login", json={"email": self.emails["instructor"],
                                                         "password": PASSWORD})
        return response.get_json()["refresh_token"]


def _signup(client, canvas_token: str | None):
    email = f"authz{next(_seq)}@example.edu"
    body = {"name": "Matrix User", "email": email, "password": PASSWORD}
    if canvas_token:
        body["canvasApiToken"] = canvas_token
    response = client.post("/auth/signup", json=body)
    assert response.status_code == 201, response.get_json()
    return email, {"Authorization": f"Bearer {response.get_json()['token']}"}


def _make_admin(app, client):
    email = f"admin{next(_seq)}@example.edu"
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", email, "--name",
                                                "Ops", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    response = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["user"]["role"] == "admin"
    return email, {"Authorization": f"Bearer {response.get_json()['token']}"}


def _account(app, client, actor, foreign_client=None):
    if actor == "admin":
        return _make_admin(app, client)
    if actor == "foreign":          # signs up where host B is the Canvas: a host B account
        return _signup(foreign_client, CANVAS_TOKENS[actor])
    return _signup(client, CANVAS_TOKENS[actor])


@pytest.fixture(scope="module")
def authz_world():
    return build_world(seed=7)


@pytest.fixture(scope="module")
def authz(authz_world):
    from knowgap.jobs.worker import run_pending

    server = SandboxServer(authz_world, throttle=False).start()
    server_b = SandboxServer(foreign_world(), throttle=False).start()
    settings = dict(auth_rate_limit="100000/minute", badge_min_evidence=1)
    database = dbmod.connect("", "authz")
    app = create_app(two_host_config(server, server_b, **settings), db=database)
    app.config["TESTING"] = True
    app_b = create_app(two_host_config(server_b, server, **settings), db=database)
    limiter.reset()
    client, client_b = app.test_client(), app_b.test_client()
    headers, emails = {"anonymous": {}}, {}
    for actor in ("student", "other", "instructor", "foreign", "admin"):
        emails[actor], headers[actor] = _account(app, client, actor, client_b)
    ctx = Ctx(client, headers)
    ctx.emails = emails
    teacher = headers["instructor"]

    quiz = authz_world.course_quizzes(101)[0]
    ctx["quiz"] = str(quiz.id)
    ctx["question"] = str(authz_world.questions[quiz.id][0].id)
    matrix = client.post("/achieveup/matrix/create", headers=teacher, json={
        "course_id": "101", "matrix_name": "Biology skills",
        "skills": ["Cells", "Genetics", "Evolution"]})
    assert matrix.status_code == 201, matrix.get_json()
    ctx["matrix"] = matrix.get_json()["_id"]
    question_skills = {str(q.id): ["Cells", "Genetics"]
                       for qz in authz_world.course_quizzes(101)
                       for q in authz_world.questions[qz.id]}
    assigned = client.post("/achieveup/skills/assign", headers=teacher,
                           json={"course_id": "101", "question_skills": question_skills})
    assert assigned.status_code == 200, assigned.get_json()

    job = client.post("/achieveup/instructor/course/101/force-sync", headers=teacher)
    assert job.status_code == 202, job.get_json()
    ctx["job"] = job.get_json()["job_id"]
    run_pending(app)
    client.post("/achieveup/badges/generate", headers=teacher, json={"course_id": "101"})
    badges = client.get("/achieveup/badges/1001", headers=teacher).get_json()
    if isinstance(badges, list) and badges:
        ctx["badge"] = badges[0]["badge_id"]
        ctx["badge_level"] = badges[0]["badge_level"]
        share = client.put(f"/achieveup/badges/{ctx['badge']}/share",
                           headers=headers["student"], json={"public": True})
        assert share.status_code == 200, share.get_json()
        shared = client.get(f"/achieveup/public/badges/assertions/{ctx['badge']}").get_json()
        badge_class = shared.get("badge") if isinstance(shared, dict) else None
        slug = str(badge_class).rstrip("/").split("/")[-2] if badge_class else "cells"
        ctx["badge_slug"] = slug
    else:                                       # keeps the table honest: see test below
        ctx["badge"], ctx["badge_level"], ctx["badge_slug"] = "nobadge", "beginner", "cells"
    ctx["badge_kid"] = client.get("/achieveup/public/badges/jwks.json").get_json()[
        "keys"][0]["kid"].rsplit("/", 1)[-1]
    ctx.export = client.get("/achieveup/export/101?format=json", headers=teacher).get_json()

    # KnowGap: the course's questions are synced before instructors can override videos.
    synced = client.post("/update-course-db", json={"course_id": "101",
                                                    "access_token": "teacher-token"})
    assert synced.status_code == 200, synced.get_json()
    ctx.kg_question = {"course_id": "101", "quiz_id": ctx["quiz"],
                       "question_id": ctx["question"]}
    # KnowGap tutor: two questions student 1001 missed in quizzes closed to them
    missed = [(str(qz.id), str(e["question_id"])) for qz in authz_world.course_quizzes(101)
              for e in authz_world.work[(qz.id, 1001)].attempts[-1].submission_data
              if e["correct"] is False]
    student = {"Authorization": "Bearer student-token-1001"}
    sessions = []
    for quiz_id, question_id in missed[:2]:
        started = client.post("/tutor/sessions", headers=student, json={
            "course_id": "101", "quiz_id": quiz_id, "question_id": question_id})
        assert started.status_code == 201, started.get_json()
        sessions.append(started.get_json()["id"])
    ctx.tutor_question = {"course_id": "101", "quiz_id": missed[0][0],
                          "question_id": missed[0][1]}
    ctx["tutor_session"], ctx["tutor_session_to_end"] = sessions

    # host B's teacher works on B's own course 101 (same ids): its questions are synced and it
    # has a matrix with the skill the ``skills/assign`` row uses, so those cells do not depend
    # on which rows ran first
    ctx.link_b = server_b.host
    synced = client.post("/update-course-db", json={"course_id": "101", "link": ctx.link_b,
                                                    "access_token": CANVAS_TOKENS["foreign"]})
    assert synced.status_code == 200, synced.get_json()
    own = client.post("/achieveup/matrix/create", headers=headers["foreign"], json={
        "course_id": "101", "matrix_name": "Host B skills", "skills": ["Cells"]})
    assert own.status_code == 201, own.get_json()
    yield {"app": app, "client": client, "client_b": client_b, "ctx": ctx}
    limiter.reset()
    server.stop()
    server_b.stop()


def _rules(app) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


# ------------------------------------------------------------------ tests


def test_every_route_has_an_entry(authz):
    rules = _rules(authz["app"])
    missing = sorted(rules - set(MATRIX) - set(NOT_IN_MATRIX))
    stale = sorted(set(MATRIX) - rules)
    assert not missing, f"routes without an authorization entry in MATRIX: {missing}"
    assert not stale, f"MATRIX entries for routes that no longer exist: {stale}"
    assert set(NOT_IN_MATRIX) <= rules


def test_framework_routes_are_public(authz):
    client = authz["client"]
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/health").status_code in (200, 503)
    assert client.get("/docs").status_code == 200


def test_badge_fixture_is_real(authz):
    """The badge rows below are only meaningful with a real, shared badge."""
    assert authz["ctx"]["badge"] != "nobadge", "setup produced no badge for student 1001"


def test_badges_of_unshared_students_are_forbidden(authz):
    """``other`` shares course 999 with student 1001 but not 101: no 101 badge is visible, and
    a student of 101 only (1002) is off limits."""
    client, ctx = authz["client"], authz["ctx"]
    other = ctx.headers["other"]
    seen = client.get("/achieveup/badges/1001", headers=other).get_json()
    assert [b for b in seen if str(b.get("course_id")) == "101"] == []
    assert client.get("/achieveup/badges/1002", headers=other).status_code == 403
    assert client.get("/achieveup/badges/student/1002/earned", headers=other).status_code == 403
    assert client.get("/achieveup/badges/1002", headers=ctx.headers["student"]).status_code == 403
    assert client.get("/achieveup/progress/1002/101", headers=ctx.headers["student"]
                      ).status_code == 403


def _headers_for(authz, entry: Entry, actor: str) -> dict:
    if actor == "anonymous":
        return {}
    if entry.knowgap:
        if actor == "admin":     # a JWT is not a Canvas token
            return authz["ctx"].headers["admin"]
        return {"Authorization": f"Bearer {CANVAS_TOKENS[actor]}"}
    if entry.fresh_user:
        return _account(authz["app"], authz["client"], actor, authz["client_b"])[1]
    return authz["ctx"].headers[actor]


def _matches(expected, status: int) -> bool:
    if expected == OK:
        return 200 <= status < 300
    if isinstance(expected, tuple):
        return any(_matches(e, status) for e in expected)
    return status == expected


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda k: f"{k[0]} {k[1]}")
def test_access(authz, key, actor):
    entry = MATRIX[key]
    ctx = authz["ctx"]
    method, _ = key
    path = entry.path.format_map(ctx)
    body = entry.body(ctx, actor) if callable(entry.body) else entry.body
    kwargs = {"headers": _headers_for(authz, entry, actor), "query_string": entry.query}
    if body is not None or method in ("POST", "PUT"):
        kwargs["json"] = dict(body or {})
        if entry.knowgap and actor == "foreign":
            kwargs["json"]["link"] = ctx.link_b         # host B's Canvas, for host B's token
    elif entry.knowgap and actor == "foreign":         # a KnowGap read names it in the query
        kwargs["query_string"] = {**(entry.query or {}), "link": ctx.link_b}
    response = authz["client"].open(path, method=method, **kwargs)
    expected = entry.expect[actor]
    detail = response.get_json(silent=True)
    assert _matches(expected, response.status_code), (
        f"{method} {path} as {actor}: expected {expected}, got {response.status_code} {detail}")
    if response.status_code >= 400:
        assert detail["statusCode"] == response.status_code and detail["message"]
