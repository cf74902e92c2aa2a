"""Item analysis, engagement, leaderboard and study-plan endpoints.

Access: item analysis, the course engagement list and the leaderboard switch are for the
course's instructors; a student's engagement and study plan for the student themself or the
course's instructors; the leaderboard for members of the course only (its instructors, and
students Canvas shows enrolled in it: anyone else gets 403); the leaderboard preference for
the signed-in user's own Canvas account.
"""
from __future__ import annotations

from flask_smorest import Blueprint

from achieveup.auth.guards import (current_user, is_admin, login_required,
                                   require_course_instructor, require_student_access,
                                   role_required, taught_course_ids, tenant_db, user_gateway)
from achieveup.insights import schemas as s
from achieveup.insights import service
from knowgap.core.errors import BadRequest, Forbidden
from knowgap.core.schemas import path_id

blp = Blueprint("achieveup_insights", __name__,
                description="AchieveUp insights: item analysis, engagement, leaderboard, "
                            "study plans")


def _own_student_id(user: dict) -> str | None:
    own = user.get("canvas_user_id")
    return str(own) if own is not None else None


def require_course_member(course_id: str) -> bool:
    """True for staff of the course (admin, its instructors), False for a student Canvas shows
    enrolled in it; 403 for everyone else."""
    from knowgap.canvas.roles import course_roles

    user = current_user()
    if is_admin(user):
        return True
    if user.get("role") == "instructor" and course_id in taught_course_ids(user):
        return True
    for course in user_gateway(user).courses() or []:
        if str(course.get("id")) == course_id and "student" in course_roles(course):
            return False
    raise Forbidden("You are not enrolled in this course, so you cannot see its leaderboard.",
                    error="not_in_course")


@blp.route("/achieveup/instructor/courses/<course_id>/quizzes/<quiz_id>/item-analysis")
@role_required("instructor")
@blp.response(200, s.ItemAnalysisSchema)
@blp.doc(summary="Item analysis of a quiz: difficulty, discrimination, distractors, flags")
def item_analysis(course_id, quiz_id):
    course_id, quiz_id = path_id(course_id), path_id(quiz_id, "quiz_id")
    require_course_instructor(course_id)
    return service.item_analysis(tenant_db(), course_id, quiz_id)


@blp.route("/achieveup/instructor/courses/<course_id>/engagement")
@role_required("instructor")
@blp.response(200, s.CourseEngagementSchema)
@blp.doc(summary="Engagement index of every student of the course, least engaged first")
def course_engagement(course_id):
    course_id = path_id(course_id)
    require_course_instructor(course_id)
    return service.course_engagement(tenant_db(), course_id)


@blp.route("/achieveup/engagement/<student_id>/<course_id>")
@login_required
@blp.response(200, s.StudentEngagementSchema)
@blp.doc(summary="A student's engagement index with each factor's contribution")
def student_engagement(student_id, course_id):
    student_id, course_id = path_id(student_id, "student_id"), path_id(course_id)
    require_student_access(student_id, course_id)
    return service.student_engagement(tenant_db(), course_id, student_id)


@blp.route("/achieveup/study-plan/<student_id>/<course_id>")
@login_required
@blp.response(200, s.StudyPlanSchema)
@blp.doc(summary="A student's next steps: weakest skills, missed questions easier to harder, "
                 "videos")
def study_plan(student_id, course_id):
    student_id, course_id = path_id(student_id, "student_id"), path_id(course_id)
    require_student_access(student_id, course_id)
    return service.study_plan(tenant_db(), course_id, student_id)


@blp.route("/achieveup/leaderboard/<course_id>")
@login_required
@blp.response(200, s.LeaderboardSchema)
@blp.doc(summary="Course leaderboard: opted-in students by name, your own rank always")
def leaderboard(course_id):
    course_id = path_id(course_id)
    staff = require_course_member(course_id)
    viewer = None if staff else _own_student_id(current_user())
    return service.leaderboard(tenant_db(), course_id, viewer=viewer, as_student=not staff)


@blp.route("/achieveup/instructor/courses/<course_id>/leaderboard", methods=["PUT"])
@role_required("instructor")
@blp.arguments(s.LeaderboardSettingsBody)
@blp.response(200, s.LeaderboardSettingsSchema)
@blp.doc(summary="Turn the course leaderboard on or off (default on)")
def set_leaderboard(body, course_id):
    course_id = path_id(course_id)
    require_course_instructor(course_id)
    return service.set_leaderboard(tenant_db(), course_id, body["enabled"],
                                   str(current_user()["_id"]))


def _preference_owner() -> str:
    own = _own_student_id(current_user())
    if own is None:
        raise BadRequest("Add your Canvas API token in Settings first: the leaderboard setting "
                         "belongs to your Canvas account.", error="canvas_token_missing")
    return own


@blp.route("/achieveup/leaderboard-preferences")
@login_required
@blp.response(200, s.PreferencesSchema)
@blp.doc(summary="Your leaderboard setting (off unless you opted in)")
def get_preferences():
    return service.preferences(tenant_db(), _preference_owner())


@blp.route("/achieveup/leaderboard-preferences", methods=["PUT"])
@login_required
@blp.arguments(s.PreferencesBody)
@blp.response(200, s.PreferencesSchema)
@blp.doc(summary="Opt in to (or out of) appearing by name on your courses' leaderboards")
def set_preferences(body):
    return service.set_preferences(tenant_db(), _preference_owner(),
                                   body["leaderboard_opt_in"])
