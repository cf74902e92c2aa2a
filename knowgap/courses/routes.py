"""KnowGap course endpoints: token registration, course sync, quizzes, questions, context."""
from __future__ import annotations

from flask_smorest import Blueprint

from knowgap.core.schemas import path_id
from knowgap.courses import jobs  # noqa: F401  (registers the sync job handler and schedule)
from knowgap.courses import service
from knowgap.courses.schemas import (AddTokenBody, CourseBody, CourseContextBody,
                                     StudentGradeBody, UpdateCourseDbBody)
from knowgap.courses.tokens import register_token
from knowgap.identity.request import identify, scoped_services
from knowgap.identity.schemas import CallerBody
from knowgap.identity.service import (require_instructor, require_self,
                                      require_self_or_instructor)

blp = Blueprint("knowgap_courses", __name__, description="KnowGap: courses and sync")


@blp.route("/add-token", methods=["POST"])
@blp.arguments(AddTokenBody)
@blp.response(200)
def add_token(body):
    """Register the caller's Canvas token (encrypted) and courses for periodic sync; who the
    caller is and which courses they are in comes from Canvas."""
    caller = identify(body)
    require_self(caller, body.get("user_id"))
    return register_token(scoped_services(caller), caller, body.get("course_ids") or None)


@blp.route("/update-course-db", methods=["POST"])
@blp.arguments(UpdateCourseDbBody)
@blp.response(200)
def update_course_db(body):
    """Sync quizzes, questions and incorrect answers, then topics and videos."""
    caller = identify(body, body["course_id"])
    require_self_or_instructor(caller, body.get("student_id"))
    svc = scoped_services(caller)
    return service.sync_course(svc, caller.canvas(svc.config), body["course_id"],
                               instructor=caller.is_instructor)


@blp.route("/sync-all-quizzes-questions", methods=["POST"])
@blp.arguments(CourseBody)
@blp.response(200)
def sync_all_quizzes_questions(body):
    """Instructor "deep sync": a full sync that re-reads every quiz, question and submission,
    whatever the incremental state says."""
    caller = identify(body, body["course_id"])
    require_instructor(caller)
    svc = scoped_services(caller)
    return service.sync_course(svc, caller.canvas(svc.config), body["course_id"],
                               instructor=True, full=True)


@blp.route("/get-student-profile", methods=["POST"])
@blp.arguments(CallerBody)
@blp.response(200)
def get_student_profile(body):
    """``{status, profile: {id, name}}``: the caller's own Canvas profile."""
    caller = identify(body)
    return {"status": "success", "profile": {"id": caller.user_id, "name": caller.name}}


@blp.route("/get-course-quizzes", methods=["POST"])
@blp.arguments(CourseBody)
@blp.response(200)
def get_course_quizzes(body):
    """``{status, quizzes: {quiz_id: title}}`` from Canvas."""
    caller = identify(body, body["course_id"])
    return service.course_quizzes(scoped_services(caller), caller, body["course_id"])


@blp.route("/get-questions-by-course/<string:course_id>", methods=["POST"])
@blp.arguments(CallerBody)
@blp.response(200)
def get_questions_by_course(body, course_id):
    """``{status, data: {course_id, questions}}`` from the stored sync."""
    course_id = path_id(course_id)
    caller = identify(body, course_id)
    return service.questions_by_course(scoped_services(caller), caller, course_id)


@blp.route("/get-student-grade", methods=["POST"])
@blp.arguments(StudentGradeBody)
@blp.response(200)
def get_student_grade(body):
    """``{status, grade: {current_score, final_score}}``: own grade, or any as instructor."""
    caller = identify(body, body["course_id"])
    require_self_or_instructor(caller, body["user_id"])
    return service.student_grade(scoped_services(caller), caller, body["course_id"],
                                 body["user_id"])


@blp.route("/update-course-context", methods=["POST"])
@blp.arguments(CourseContextBody)
@blp.response(200)
def update_course_context(body):
    """Instructor: store the course context; regenerate non-overridden topics/videos.

    The extension's popup also posts here, with no token, ``course_context: {user_role}`` (the
    role it read from Canvas): roles come from Canvas, so that report is acknowledged and
    nothing is stored."""
    if isinstance(body["course_context"], dict):
        return service.role_report(body["course_id"])
    caller = identify(body, body["course_id"])
    require_instructor(caller)
    return service.update_context(scoped_services(caller), caller, body["course_id"],
                                  body["course_context"])
