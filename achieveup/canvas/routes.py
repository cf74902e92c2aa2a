"""``/canvas``: Canvas data through the caller's own stored Canvas token.

Everything goes through ``user_gateway()`` (cached, complete lists) and is reshaped into the
contract's small objects with string ids. Student-facing listings are limited to courses the
caller is enrolled in; ``/canvas/instructor/...`` needs the instructor role *and* a teacher,
TA or designer enrollment in that course (``require_course_instructor``).
"""
from __future__ import annotations

import re

from flask_smorest import Blueprint

from achieveup.auth import store
from achieveup.auth.guards import (current_user, login_required, require_course_instructor,
                                   role_required, taught_course_ids, tenant_db, user_gateway)
from knowgap.core.errors import AppError, Forbidden, NotFound
from knowgap.core.schemas import Id, StrictSchema, fields, path_id, validate
from knowgap.core.services import services

blp = Blueprint("canvas", __name__, url_prefix="/canvas",
                description="The caller's Canvas courses, quizzes and questions")


# ---------------------------------------------------------------------------- schemas


class CourseSchema(StrictSchema):
    id = fields.String()
    name = fields.String()
    code = fields.String()
    term = fields.Raw(metadata={"description": "Canvas enrollment_term_id"})


class InstructorCourseSchema(CourseSchema):
    description = fields.String()


class QuizSchema(StrictSchema):
    id = fields.String()
    title = fields.String()
    course_id = fields.String()


class InstructorQuizSchema(QuizSchema):
    results_state = fields.String(allow_none=True, metadata={
        "description": "New Quizzes only, once a sync asked for the quiz's results report: "
                       "read, pending, failed, incomplete, restricted (Canvas answered 403) "
                       "or uploaded (a Student Analysis CSV)."})
    results_message = fields.String(allow_none=True, metadata={
        "description": "Why, in a sentence, when the results could not be read."})


class QuestionSchema(StrictSchema):
    id = fields.String()
    question_text = fields.String()
    quiz_id = fields.String()
    question_type = fields.String()
    points = fields.Float(allow_none=True)


class QuestionsQuery(StrictSchema):
    course_id = Id(validate=validate.Regexp(r"^[0-9]{1,20}$", error="Must be a Canvas id."))


class UserInfoSchema(StrictSchema):
    id = fields.String()
    name = fields.String()
    email = fields.String()


class ConnectionSchema(StrictSchema):
    connected = fields.Boolean()
    message = fields.String()
    user_info = fields.Nested(UserInfoSchema)


# ---------------------------------------------------------------------------- helpers


CANVAS_ID = re.compile(r"^[0-9]{1,20}$")
QUIZ_ID = re.compile(r"^(nq-)?[0-9]{1,20}$")          # New Quizzes: nq-<assignment id>


def _path_id(value: str, name: str) -> str:
    """Canvas ids are numbers (New Quizzes' carry the ``nq-`` prefix); anything else
    (``..``, ``sis:...``) never reaches a Canvas URL."""
    return path_id(value, name, QUIZ_ID if name == "quiz_id" else CANVAS_ID)


def _course(c: dict, with_description: bool = False) -> dict:
    item = {"id": str(c["id"]), "name": c.get("name") or "", "code": c.get("course_code") or "",
            "term": c.get("enrollment_term_id")}
    if with_description:
        description = c.get("public_description")
        if description:
            item["description"] = description
    return item


def _quiz(q: dict, course_id: str) -> dict:
    return {"id": str(q["id"]), "title": q.get("title") or "", "course_id": str(course_id)}


def _question(q: dict, quiz_id: str) -> dict:
    return {"id": str(q["id"]), "question_text": q.get("question_text") or "",
            "quiz_id": str(q.get("quiz_id") or quiz_id),
            "question_type": q.get("question_type") or "",
            "points": q.get("points_possible")}


def _enrolled_course_ids() -> set[str]:
    return {str(c["id"]) for c in user_gateway().courses() or [] if c.get("id") is not None}


def _require_enrolled(course_id: str) -> None:
    if store_role() == "admin":
        return
    if course_id not in _enrolled_course_ids():
        raise Forbidden("You are not enrolled in this course in Canvas.",
                        error="not_enrolled")


def store_role() -> str:
    return current_user().get("role", "student")


# ---------------------------------------------------------------------------- any user


@blp.route("/courses", methods=["GET"])
@login_required
@blp.response(200, CourseSchema(many=True))
def courses():
    """The caller's active Canvas courses."""
    return [_course(c) for c in user_gateway().courses() or [] if c.get("id") is not None]


@blp.route("/courses/<course_id>/quizzes", methods=["GET"])
@login_required
@blp.response(200, QuizSchema(many=True))
def course_quizzes(course_id):
    course_id = _path_id(course_id, "course_id")
    _require_enrolled(course_id)
    return [_quiz(q, course_id) for q in user_gateway().quizzes(course_id) or []]


@blp.route("/quizzes/<quiz_id>/questions", methods=["GET"])
@login_required
@blp.arguments(QuestionsQuery, location="query")
@blp.response(200, QuestionSchema(many=True))
def quiz_questions(query, quiz_id):
    """Questions of a quiz. ``course_id`` is recommended; without it the caller's courses are
    searched for the quiz."""
    quiz_id = _path_id(quiz_id, "quiz_id")
    gateway = user_gateway()
    course_id = query.get("course_id")
    if course_id is not None:
        _require_enrolled(course_id)
    else:
        course_id = next((cid for cid in sorted(_enrolled_course_ids())
                          if any(str(q.get("id")) == quiz_id
                                 for q in gateway.quizzes(cid) or [])), None)
        if course_id is None:
            raise NotFound("No quiz with this id in your Canvas courses. Pass course_id.",
                           error="quiz_not_found")
    return [_question(q, quiz_id) for q in gateway.questions(course_id, quiz_id) or []]


@blp.route("/test-connection", methods=["GET"])
@login_required
@blp.response(200, ConnectionSchema)
def test_connection():
    """Whether the stored Canvas token works right now: ``{connected, message, user_info?}``."""
    user = current_user()
    if not user.get("canvas_token_enc"):
        return {"connected": False, "message": "Add your Canvas API token in Settings first."}
    gateway = user_gateway()
    try:
        me = gateway.self_user(refresh=True)
    except AppError as exc:
        return {"connected": False, "message": exc.message}
    if gateway.last_stale:
        return {"connected": False,
                "message": "Canvas is not answering right now. Please try again in a few "
                           "minutes."}
    store.update(services().db, user["_id"], {"canvas_token_last_validated": store.utcnow()})
    info = {"id": str(me.get("id")), "name": me.get("name") or ""}
    email = me.get("primary_email") or me.get("email") or me.get("login_id")
    if email:
        info["email"] = email
    return {"connected": True, "message": "Connected to Canvas.", "user_info": info}


# ---------------------------------------------------------------------------- instructors


@blp.route("/instructor/courses", methods=["GET"])
@role_required("instructor")
@blp.response(200, InstructorCourseSchema(many=True))
def instructor_courses():
    """Courses where the caller is teacher, TA or designer (``term`` = enrollment_term_id)."""
    gateway = user_gateway()
    taught = taught_course_ids()
    seen: dict[str, dict] = {}
    for c in list(gateway.teacher_courses() or []) + list(gateway.courses() or []):
        cid = str(c.get("id"))
        if c.get("id") is not None and cid in taught and cid not in seen:
            seen[cid] = _course(c, with_description=True)
    return list(seen.values())


@blp.route("/instructor/courses/<course_id>/quizzes", methods=["GET"])
@role_required("instructor")
@blp.response(200, InstructorQuizSchema(many=True))
def instructor_quizzes(course_id):
    """The course's quizzes; New Quizzes with the state of their results (see
    ``achieveup.sync.new_quizzes``)."""
    from achieveup.sync import new_quizzes as nq_sync

    course_id = _path_id(course_id, "course_id")
    require_course_instructor(course_id)
    quizzes = [_quiz(q, course_id) for q in user_gateway().quizzes(course_id) or []]
    return nq_sync.with_states(quizzes, nq_sync.listing_states(tenant_db(), course_id),
                               course_id)


@blp.route("/instructor/courses/<course_id>/quizzes/<quiz_id>/questions", methods=["GET"])
@role_required("instructor")
@blp.response(200, QuestionSchema(many=True))
def instructor_questions(course_id, quiz_id):
    course_id = _path_id(course_id, "course_id")
    quiz_id = _path_id(quiz_id, "quiz_id")
    require_course_instructor(course_id)
    return [_question(q, quiz_id) for q in user_gateway().questions(course_id, quiz_id) or []]
