"""The KnowGap browser extension, call by call, as its source sends each call.

Client: ``dylankatchen/knowgap-extension`` at commit 3a458da3b9d2 (2026-02-01, the newest),
files ``src/pages/Popup/Popup.jsx``, ``InstructorView.jsx``, ``Studentview.jsx`` and
``src/pages/Background/background.js`` (the ``API_REQUEST`` relay some calls go through).
Every test names the ``file:line`` of the call it replays and sends the method, path, body
field names, headers and token (or no token) exactly as that line does, against the app and
the Canvas sandbox; it asserts the status the extension treats as success and every field the
extension reads.

What the extension sends with every call: ``Content-Type`` and ``Accept: application/json``
and ``Origin: chrome-extension://<id>``. ``link`` is the Canvas origin (``https://host``) in
Popup/InstructorView and the bare host (``host``) in Studentview, which also calls it
``canvas_domain``. The sandbox is on loopback, so the origin is ``http://127.0.0.1:<port>``.

Five instructor calls carry no Canvas token at all (InstructorView ``/get-course-videos``,
``/remove-video``, ``add-video``, ``/update-video-link``, ``/update-course-context``): a
write, or quiz question text, without a token would let anyone change or read any course, so
they answer 401 with a message saying exactly what to send. The popup's own
``/update-course-context`` (a role report, no token) is answered without storing anything.
"""
from __future__ import annotations

import pytest

from knowgap.courses import store
from knowgap.courses.tokens import TOKENS
from knowgap.identity.host import canvas_host_for
from knowgap.identity.service import TOKEN_MISSING_MESSAGE
from knowgap.risk.service import RISK_TOGGLE
from tests.conftest import make_config, sandbox_db
from tests.knowgap_support import TEACHER, config, kg_config, student_token  # noqa: F401

COURSE = 102                    # 3 quizzes x 8 questions
EXTENSION_ORIGIN = "chrome-extension://kgapextensionidaaaaaaaaaaaaaaaaa"
SENT_WITH_EVERY_CALL = {"Accept": "application/json", "Origin": EXTENSION_ORIGIN}


def call(client, path, body, **headers):
    """A POST as the extension's ``fetch`` sends it (Popup.jsx:79, background.js:14 …)."""
    return client.post(path, json=body, headers={**SENT_WITH_EVERY_CALL, **headers})


def origin_link(sandbox) -> str:
    """Popup/InstructorView ``getCanvasBaseUrl()``: ``https?://host[:port]`` of the tab."""
    return sandbox.base_url


def domain_link(sandbox) -> str:
    """Studentview ``getCanvasDomain()``: the same with the scheme stripped."""
    return sandbox.base_url.split("://", 1)[1]


def student_body(sandbox, sid, **fields) -> dict:
    """Studentview's body: the call's fields, the student's token and ``link`` as a bare host."""
    return {**fields, "access_token": student_token(sid), "link": domain_link(sandbox)}


def knowgap_data(db) -> dict:
    """Everything KnowGap stored (the identity cache aside), to show a refused call changed
    nothing."""
    return {name: sorted(map(repr, db[name].find({}, {"_id": 0})))
            for name in db.list_collection_names()
            if name.startswith("knowgap_") and name != "knowgap_identity_cache"}


def instructor_sync(client, sandbox):
    """InstructorView.jsx:321 ``loadCourse``: the instructor's sync, which stores the
    questions and videos the other calls read."""
    r = call(client, "/update-course-db", {"course_id": str(COURSE), "access_token": TEACHER,
                                           "link": origin_link(sandbox)})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@pytest.fixture
def synced(client, app, sandbox):
    instructor_sync(client, sandbox)
    return sandbox_db(app)


def question_ctx(db) -> dict:
    """A synced question with a video, and another question's video link (one the YouTube fake
    knows) to set on it."""
    first, other = db[store.QUESTIONS].find(
        {"course_id": str(COURSE), "video": {"$ne": None}}).limit(2)
    return {"quiz_id": first["quiz_id"], "question_id": first["question_id"],
            "link": other["video"]["link"]}


# ------------------------------------------------------------------ Popup.jsx


def test_popup_79_update_course_db_with_origin_link(client, sandbox):
    """Popup.jsx:79 POST /update-course-db {course_id, access_token, link: origin}; success is
    any answer whose ``status`` is not "Error" (Popup.jsx:96)."""
    body = instructor_sync(client, sandbox)
    assert body["status"] == "success" and body["course_id"] == str(COURSE)
    assert body["quizzes"] == 3 and body["questions"] > 0


@pytest.mark.parametrize("role", ["TeacherEnrollment", "StudentEnrollment", ""])
def test_popup_118_update_course_context_role_report(client, app, synced, role):
    """Popup.jsx:118 POST /update-course-context {course_id, course_context: {user_role}} with
    no token, for every role Popup.jsx:183-195 can send (``''`` when Canvas shows none).
    Success: ``status`` is not "Error" (Popup.jsx:136). Nothing is stored: roles come from
    Canvas, and a token-less report proves nothing."""
    before = knowgap_data(synced)
    r = call(client, "/update-course-context",
             {"course_id": str(COURSE), "course_context": {"user_role": role}})
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ignored" and body["status"] != "Error"
    assert "Nothing was stored" in body["message"]
    assert knowgap_data(synced) == before


def test_popup_118_role_report_keeps_the_instructors_context(client, app, synced):
    """A popup opening after the instructor set a context must not overwrite it (the upstream
    backend stored the ``{user_role}`` object as the course context)."""
    r = call(client, "/update-course-context", {"course_id": str(COURSE),
                                                "course_context": "Genetics for nurses",
                                                "access_token": TEACHER})
    assert r.status_code == 200, r.get_json()
    call(client, "/update-course-context",
         {"course_id": str(COURSE), "course_context": {"user_role": "StudentEnrollment"}})
    assert store.get_context(synced, str(COURSE))[0] == "Genetics for nurses"


@pytest.mark.parametrize("context", [{"user_role": "TeacherEnrollment", "extra": 1},
                                     {"user_role": {"$ne": None}}, {}, ["TeacherEnrollment"],
                                     "x" * 12001])
def test_course_context_other_shapes_refused(client, context):
    r = call(client, "/update-course-context", {"course_id": str(COURSE),
                                                "course_context": context,
                                                "access_token": TEACHER})
    assert r.status_code == 422 and "course_context" in r.get_json()["details"]


# ------------------------------------------------------------------ InstructorView.jsx


def test_instructorview_124_add_token_userid_courseids(client, app, sandbox, canvas_world):
    """InstructorView.jsx:124 POST /add-token {userid: String(id), access_token, courseids:
    [numbers from Canvas /courses?enrollment_type=teacher], link: origin}; needs response.ok
    (InstructorView.jsx:141)."""
    teacher_courses = [101, 102]
    r = call(client, "/add-token", {"userid": str(canvas_world.teacher_id),
                                    "access_token": TEACHER, "courseids": teacher_courses,
                                    "link": origin_link(sandbox)})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["user_id"] == str(canvas_world.teacher_id)
    assert body["course_ids"] == ["101", "102"]
    stored = app.extensions["knowgap"].db[TOKENS].find_one({"canvas_user_id": "1"})
    assert stored["course_ids"] == ["101", "102"] and TEACHER not in repr(stored)


def test_add_token_user_and_courses_come_from_canvas(client, app, sandbox, canvas_world):
    """The body's ids are never trusted: another user's id, or a course the caller is not in,
    is refused and nothing is stored."""
    db = app.extensions["knowgap"].db
    r = call(client, "/add-token", {"userid": str(canvas_world.other_teacher_id),
                                    "access_token": TEACHER, "courseids": [101],
                                    "link": origin_link(sandbox)})
    assert r.status_code == 403 and r.get_json()["error"] == "not_your_record"
    r = call(client, "/add-token", {"userid": str(canvas_world.teacher_id),
                                    "access_token": TEACHER,
                                    "courseids": [canvas_world.other_course_id],
                                    "link": origin_link(sandbox)})
    assert r.status_code == 403 and r.get_json()["error"] == "not_enrolled"
    r = call(client, "/add-token", {"userid": "1", "user_id": "2", "access_token": TEACHER})
    assert r.status_code == 422 and "userid" in r.get_json()["details"]
    assert db[TOKENS].count_documents({}) == 0


def test_instructorview_321_update_course_db(client, sandbox):
    """InstructorView.jsx:321 ``loadCourse`` POST /update-course-db {course_id, access_token,
    link: origin}; needs response.ok (InstructorView.jsx:337)."""
    body = instructor_sync(client, sandbox)
    assert body["status"] == "success" and body["mode"] == "instructor"


def test_instructorview_379_get_toggle_risk_without_token(client, config):
    """InstructorView.jsx:379 GET /get-toggle-risk/{cid}: a bare fetch (no token, no
    headers); reads ``toggle_risk`` when response.ok (InstructorView.jsx:380-383)."""
    r = client.get(f"/get-toggle-risk/{COURSE}")
    assert r.status_code == 200
    assert r.get_json() == {"course_id": str(COURSE), "toggle_risk": True,
                            "canvas_host": config.canvas_base_url}


def test_instructorview_822_update_toggle_risk_reaches_students(client, canvas_world):
    """InstructorView.jsx:822 POST /update-toggle-risk/{cid} with ``Authorization: Bearer``
    and {toggle_risk}; response.ok, then logs ``result.message`` (InstructorView.jsx:836-838).
    The students' extensions read the switch without a token (Studentview.jsx:466, :517)."""
    r = client.post(f"/update-toggle-risk/{COURSE}", json={"toggle_risk": False},
                    headers={"Content-Type": "application/json", "Accept": "application/json",
                             "Authorization": f"Bearer {TEACHER}"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["toggle_risk"] is False
    assert body["message"] == f"Risk display is now off for course {COURSE}."
    assert client.get(f"/get-toggle-risk/{COURSE}").get_json()["toggle_risk"] is False
    sid = canvas_world.student_ids(COURSE)[0]
    r = client.post(f"/update-toggle-risk/{COURSE}", json={"toggle_risk": True},
                    headers={"Authorization": f"Bearer {student_token(sid)}"})
    assert r.status_code == 403 and r.get_json()["error"] == "instructor_required"
    assert client.get(f"/get-toggle-risk/{COURSE}").get_json()["toggle_risk"] is False


def test_instructorview_777_deep_sync(client, app, sandbox, canvas_world):
    """InstructorView.jsx:777 POST /sync-all-quizzes-questions {course_id, access_token, link:
    origin}; needs response.ok (InstructorView.jsx:792). A full sync: every quiz's questions
    are read again even when the course was synced a moment ago."""
    instructor_sync(client, sandbox)
    sandbox.state.reset_counters()
    r = call(client, "/sync-all-quizzes-questions", {"course_id": str(COURSE),
                                                     "access_token": TEACHER,
                                                     "link": origin_link(sandbox)})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "success" and body["full"] is True
    quizzes = canvas_world.course_quizzes(COURSE)
    assert sandbox.state.count("/questions") == len(quizzes)
    assert body["questions"] == app.extensions["knowgap"].db[store.QUESTIONS].count_documents(
        {"course_id": str(COURSE)})
    sid = canvas_world.student_ids(COURSE)[0]
    r = call(client, "/sync-all-quizzes-questions", {"course_id": str(COURSE),
                                                     "access_token": student_token(sid),
                                                     "link": origin_link(sandbox)})
    assert r.status_code == 403 and r.get_json()["error"] == "instructor_required"


def _course_videos(ctx):
    return "/get-course-videos", {"course_id": str(COURSE)}


def _remove_video(ctx):
    return "/remove-video", {"quiz_id": ctx["quiz_id"], "question_id": ctx["question_id"]}


def _add_video(ctx):
    return "/add-video", {"quiz_id": ctx["quiz_id"], "question_id": ctx["question_id"],
                          "video_link": ctx["link"]}


def _update_video_link(ctx):
    return "/update-video-link", {"quiz_id": ctx["quiz_id"], "question_id": ctx["question_id"],
                                  "new_link": ctx["link"]}


def _update_course_context(ctx):
    return "/update-course-context", {"course_id": str(COURSE),
                                      "course_context": "Cell biology for first years"}


TOKENLESS = [
    pytest.param(_course_videos, id="InstructorView.jsx:506 via background.js:14 /get-course-videos"),
    pytest.param(_remove_video, id="InstructorView.jsx:552 /remove-video"),
    pytest.param(_add_video, id="InstructorView.jsx:606 add-video"),
    pytest.param(_update_video_link, id="InstructorView.jsx:717 /update-video-link"),
    pytest.param(_update_course_context, id="InstructorView.jsx:655 /update-course-context"),
]


@pytest.mark.parametrize("make", TOKENLESS)
def test_tokenless_instructor_calls_answer_401_saying_what_to_send(client, synced, make):
    """The five InstructorView calls sent with no Canvas token (body fields as the lines in
    the ids send them; InstructorView.jsx:606 builds its URL as ``${BACKEND_URL}add-video``).
    They stay refused: 401 whose ``message`` (the extension shows it, InstructorView.jsx:575,
    :738) says exactly what to send; nothing changes."""
    path, body = make(question_ctx(synced))
    before = knowgap_data(synced)
    r = call(client, path, body)
    assert r.status_code == 401
    assert r.get_json() == {"error": "canvas_token_missing", "statusCode": 401,
                            "message": TOKEN_MISSING_MESSAGE}
    assert TOKEN_MISSING_MESSAGE == (
        "This call needs your Canvas access token: send the header 'Authorization: Bearer "
        "<Canvas token>' or 'access_token' in the JSON body.")
    assert knowgap_data(synced) == before


@pytest.mark.parametrize("make", TOKENLESS)
def test_tokenless_calls_work_once_the_token_is_sent(client, synced, make):
    """What the 401 says to send works: the same bodies with ``Authorization: Bearer``."""
    path, body = make(question_ctx(synced))
    r = call(client, path, body, Authorization=f"Bearer {TEACHER}")
    assert r.status_code == 200, r.get_json()


def test_instructorview_506_course_videos_fields_with_a_token(client, synced):
    """The fields InstructorView.jsx:528-1272 reads from ``course_videos`` when the call
    carries a token: ``quizid``, ``questionid``, ``core_topic``, ``question_text`` and
    ``video_data.{thumbnail, title, channel, link}``."""
    r = call(client, "/get-course-videos", {"course_id": str(COURSE), "access_token": TEACHER})
    assert r.status_code == 200
    items = r.get_json()["course_videos"]
    assert items
    for item in items:
        assert {"quizid", "questionid", "core_topic", "question_text", "video_data"} <= set(item)
    with_video = [i for i in items if i["video_data"]]
    assert with_video and all(set(i["video_data"]) == {"thumbnail", "title", "channel", "link"}
                              for i in with_video)


# ------------------------------------------------------------------ Studentview.jsx


def test_studentview_248_get_student_profile(client, sandbox, canvas_world):
    """Studentview.jsx:248 POST /get-student-profile {access_token, canvas_domain}; needs
    response.ok, reads ``profile.name`` and ``profile.id`` (Studentview.jsx:262-266)."""
    sid = canvas_world.student_ids(COURSE)[0]
    r = call(client, "/get-student-profile", {"access_token": student_token(sid),
                                              "canvas_domain": domain_link(sandbox)})
    assert r.status_code == 200, r.get_json()
    profile = r.get_json()["profile"]
    assert profile == {"id": str(sid), "name": canvas_world.users[sid].name}
    # no Canvas named (getCanvasDomain() found none): the server's Canvas
    r = call(client, "/get-student-profile", {"access_token": student_token(sid),
                                              "canvas_domain": ""})
    assert r.status_code == 200 and r.get_json()["profile"]["id"] == str(sid)
    r = call(client, "/get-student-profile", {"canvas_domain": domain_link(sandbox)})
    assert r.status_code == 401 and r.get_json()["message"] == TOKEN_MISSING_MESSAGE
    r = call(client, "/get-student-profile", {"access_token": "not-a-token",
                                              "canvas_domain": domain_link(sandbox)})
    assert r.status_code == 401 and r.get_json()["error"] == "canvas_token_invalid"


def test_studentview_423_get_student_grade_with_canvas_domain(client, sandbox, canvas_world):
    """Studentview.jsx:423 POST /get-student-grade {course_id, user_id (the profile id),
    access_token, canvas_domain}; needs response.ok, reads ``grade.current_score`` /
    ``grade.final_score`` (Studentview.jsx:443, :534)."""
    sid = canvas_world.student_ids(COURSE)[0]
    user_id = call(client, "/get-student-profile", {
        "access_token": student_token(sid),
        "canvas_domain": domain_link(sandbox)}).get_json()["profile"]["id"]
    r = call(client, "/get-student-grade", {"course_id": str(COURSE), "user_id": user_id,
                                            "access_token": student_token(sid),
                                            "canvas_domain": domain_link(sandbox)})
    assert r.status_code == 200, r.get_json()
    grade = r.get_json()["grade"]
    assert set(grade) == {"current_score", "final_score"}
    assert isinstance(grade["current_score"], (int, float))
    other = canvas_world.student_ids(COURSE)[1]
    r = call(client, "/get-student-grade", {"course_id": str(COURSE), "user_id": str(other),
                                            "access_token": student_token(sid),
                                            "canvas_domain": domain_link(sandbox)})
    assert r.status_code == 403


@pytest.mark.parametrize("line", ["Studentview.jsx:466", "Studentview.jsx:517"])
def test_studentview_get_toggle_risk_without_token(client, line):
    """Studentview.jsx:466 and :517 GET /get-toggle-risk/{cid}, a bare fetch; reads
    ``toggle_risk`` when response.ok."""
    r = client.get(f"/get-toggle-risk/{COURSE}")
    assert r.status_code == 200 and r.get_json()["toggle_risk"] is True


def test_studentview_496_update_course_db_as_student(client, sandbox, canvas_world):
    """Studentview.jsx:496 POST /update-course-db {course_id, access_token, link: bare host,
    student_id: String(userId)} (the answer is not read)."""
    sid = canvas_world.student_ids(COURSE)[0]
    r = call(client, "/update-course-db", student_body(sandbox, sid, course_id=str(COURSE),
                                                      student_id=str(sid)))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["mode"] == "student"


def test_studentview_286_assessment_videos(client, synced, sandbox, canvas_world):
    """Studentview.jsx:286 via background.js:14 POST /get-assessment-videos {student_id,
    course_id, access_token, link: bare host}; reads ``assessment_videos[].video.{title,
    channel, link, thumbnail}``, ``topic``, ``quiz_name`` (Studentview.jsx:316-333)."""
    sid = canvas_world.student_ids(COURSE)[0]
    r = call(client, "/get-assessment-videos", student_body(sandbox, sid, student_id=str(sid),
                                                            course_id=str(COURSE)))
    assert r.status_code == 200, r.get_json()
    items = r.get_json()["assessment_videos"]
    assert items
    for item in items:
        assert {"topic", "quiz_name", "video"} <= set(item)
        assert {"title", "channel", "link", "thumbnail"} <= set(item["video"])
        assert item["video"]["link"].startswith("https://www.youtube.com/watch?v=")


def test_studentview_115_support_video_flat_fields(client):
    """Studentview.jsx:115 via background.js:14 POST /get-support-video {risk_level} (no
    token); the view reads top-level ``title``, ``channelTitle``, ``url`` and ``videoId``
    (Studentview.jsx:907-929). The contract's nested ``video`` stays."""
    for level in ("low", "medium", "high"):
        r = call(client, "/get-support-video", {"risk_level": level})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        video = body["video"]
        assert body["title"] == video["title"] and body["title"]
        assert body["channelTitle"] == video["channel"] and body["channelTitle"]
        assert body["url"] == video["link"]
        assert len(body["videoId"]) == 11
        assert body["url"] == f"https://www.youtube.com/watch?v={body['videoId']}"


def test_support_video_without_video_search(sandbox, db):
    """Without a YouTube key the curated link is a YouTube search: no ``videoId``."""
    from knowgap import create_app

    client = create_app(kg_config(sandbox), db=db).test_client()
    body = call(client, "/get-support-video", {"risk_level": "high"}).get_json()
    assert body["videoId"] == "" and body["url"].startswith("https://www.youtube.com/results")
    assert body["title"] and body["channelTitle"]


def test_studentview_637_add_token_without_ids(client, app, sandbox, canvas_world):
    """Studentview.jsx:637 POST /add-token {access_token, link: bare host}; needs response.ok
    (Studentview.jsx:652). Registers every course Canvas shows the student active in."""
    sid = canvas_world.plain_student_id
    r = call(client, "/add-token", {"access_token": student_token(sid),
                                    "link": domain_link(sandbox)})
    assert r.status_code == 200, r.get_json()
    expected = sorted(str(e.course_id) for e in canvas_world.enrollments_of(sid))
    assert len(expected) == 2 and sorted(r.get_json()["course_ids"]) == expected
    stored = app.extensions["knowgap"].db[TOKENS].find_one({"canvas_user_id": str(sid)})
    assert sorted(stored["course_ids"]) == expected


# ------------------------------------------------------------------ the token-less read's host


def test_tokenless_toggle_read_picks_the_canvas_host(sandbox, db):
    """``link`` if sent, else the request's ``Origin`` when it is an allowed Canvas, else the
    server's Canvas; a ``link`` that is not allowed is refused like everywhere else."""
    from knowgap import create_app

    port = sandbox.base_url.rsplit(":", 1)[1]
    cfg = kg_config(sandbox, canvas_allowed_hosts=(sandbox.host, f"localhost:{port}",
                                                   "*.instructure.com"))
    client = create_app(cfg, db=db).test_client()
    url = f"/get-toggle-risk/{COURSE}"
    assert client.get(url).get_json()["canvas_host"] == sandbox.base_url
    assert client.get(url, headers={"Origin": EXTENSION_ORIGIN}).get_json()[
        "canvas_host"] == sandbox.base_url
    assert client.get(url, headers={"Origin": "https://ucf.instructure.com"}).get_json()[
        "canvas_host"] == "https://ucf.instructure.com"
    assert client.get(url, headers={"Origin": "https://evil.example.com"}).get_json()[
        "canvas_host"] == sandbox.base_url
    r = client.get(url, query_string={"link": f"localhost:{port}"},
                   headers={"Origin": "https://ucf.instructure.com"})
    assert r.get_json()["canvas_host"] == f"http://localhost:{port}"
    r = client.get(url, query_string={"link": "https://evil.example.com"})
    assert r.status_code == 403 and r.get_json()["error"] == "canvas_host_not_allowed"
    r = client.get(url, query_string={"link": "not a host"})
    assert r.status_code == 422 and "link" in r.get_json()["details"]
    assert db[RISK_TOGGLE].count_documents({}) == 0


def test_canvas_host_for_pure():
    cfg = make_config(canvas_base_url="https://canvas.instructure.com",
                      canvas_allowed_hosts=("canvas.instructure.com", "*.instructure.com"))
    assert canvas_host_for(None, None, cfg) == "https://canvas.instructure.com"
    assert canvas_host_for("", "", cfg) == "https://canvas.instructure.com"
    assert canvas_host_for(None, "null", cfg) == "https://canvas.instructure.com"
    assert canvas_host_for(None, "http://ucf.instructure.com", cfg) == \
        "https://canvas.instructure.com"                   # clear-text Canvas: not an origin
    assert canvas_host_for("ucf.instructure.com", "https://fiu.instructure.com", cfg) == \
        "https://ucf.instructure.com"
    assert canvas_host_for(None, "https://fiu.instructure.com", cfg) == \
        "https://fiu.instructure.com"
    with pytest.raises(Exception) as err:
        canvas_host_for("https://127.0.0.1:8929", None, cfg)
    assert getattr(err.value, "status", None) == 403
