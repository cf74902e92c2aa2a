"""``GET``/``PUT /achieveup/instructor/course/{cid}/settings``: the course's mastery model,
badge rules and decay, owned by the course's instructors."""
from __future__ import annotations

from flask_smorest import Blueprint

from achieveup.auth.guards import (current_user, require_course_instructor, role_required,
                                   tenant_db)
from achieveup.settings import schemas as s
from achieveup.settings import service
from knowgap.core.schemas import path_id
from knowgap.core.services import services

blp = Blueprint("achieveup_settings", __name__, description="AchieveUp course mastery settings")

PATH = "/achieveup/instructor/course/<course_id>/settings"


@blp.route(PATH, methods=["GET"])
@role_required("instructor")
@blp.response(200, s.CourseSettingsSchema)
@blp.doc(summary="The course's mastery settings (defaults where never set) and its fitted "
                 "BKT parameters")
def get_settings(course_id):
    course_id = path_id(course_id)
    require_course_instructor(course_id)
    svc = services()
    return service.get_settings(tenant_db(), svc.config, course_id)


@blp.route(PATH, methods=["PUT"])
@role_required("instructor")
@blp.arguments(s.CourseSettingsUpdateSchema)
@blp.response(202, s.SettingsAcceptedSchema)
@blp.doc(summary="Change mastery settings (any subset); recomputes mastery and badges as a "
                 "job (202), poll GET /achieveup/jobs/{job_id}. Earned badges stay earned.")
def put_settings(body, course_id):
    course_id = path_id(course_id)
    require_course_instructor(course_id)
    svc = services()
    settings, job_id, changed = service.update_settings(tenant_db(), svc.config, course_id,
                                                        body, str(current_user()["_id"]))
    message = ("Settings saved; mastery and badges are being recomputed." if changed else
               "Nothing changed; this job applies the current settings.")
    return {"message": message, "job_id": job_id, "settings": settings}
