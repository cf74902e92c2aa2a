"""Instructor dashboard, course student analytics, student progress and graphs."""
from __future__ import annotations

from flask import Response, request
from flask_smorest import Blueprint

from achieveup.analytics import schemas as s
from achieveup.analytics import service
from achieveup.auth.guards import (current_user, is_admin, login_required,
                                   require_course_instructor, require_student_access,
                                   role_required, taught_course_ids, tenant_db, user_gateway)
from knowgap.core.schemas import path_id

blp = Blueprint("achieveup_analytics", __name__, description="AchieveUp analytics and progress")


@blp.route("/achieveup/instructor/dashboard")
@role_required("instructor")
@blp.response(200, s.InstructorDashboardSchema)
@blp.doc(summary="{students, averageProgress, totalCourses, totalSkillMatrices, recentActivity}")
def dashboard():
    user = current_user()
    return service.dashboard(tenant_db(), str(user["_id"]), taught_course_ids(user),
                             user_gateway(user))


@blp.route("/achieveup/instructor/courses/<course_id>/student-analytics")
@role_required("instructor")
# Documented only: the body is served pre-serialized from the per-version cache (never dumped
# through the schema again, which would cost more than building it for a large course).
@blp.alt_response(200, schema=s.StudentAnalyticsSchema, success=True,
                  description="The course's students with their per-skill breakdown.")
@blp.doc(summary="{students: [Student], skillDistribution, averageScores}")
def student_analytics(course_id):
    course_id = path_id(course_id)
    require_course_instructor(course_id)
    return Response(service.student_analytics_body(tenant_db(), course_id),
                    mimetype="application/json")


@blp.route("/achieveup/progress/<student_id>/<course_id>")
@login_required
@blp.response(200, s.StudentProgressSchema)
@blp.doc(summary="{student_id, course_id, skill_progress, last_updated}")
def progress(student_id, course_id):
    student_id, course_id = path_id(student_id, "student_id"), path_id(course_id)
    require_student_access(student_id, course_id)
    return service.progress(tenant_db(), student_id, course_id)


@blp.route("/achieveup/graphs/individual/<student_id>")
@login_required
@blp.response(200, s.IndividualGraphsSchema)
@blp.doc(summary="{timeSeriesData, performance, distribution, trends, radar, summary}",
         parameters=[{"in": "query", "name": "course_id", "schema": {"type": "string"}}])
def individual(student_id):
    student_id = path_id(student_id, "student_id")
    course_id = request.args.get("course_id")
    db = tenant_db()
    if course_id:
        course_id = path_id(course_id)
        require_student_access(student_id, course_id)
        courses = [course_id]
    else:
        require_student_access(student_id)
        courses = service.student_course_ids(db, student_id)
        user = current_user()
        own = user.get("canvas_user_id")
        if not is_admin(user) and not (own is not None and str(own) == student_id):
            taught = taught_course_ids(user)
            courses = [c for c in courses if c in taught]
    return service.individual_graphs(db, student_id, courses)
