"""``GET /achieveup/export/{cid}?format=json|csv|xlsx`` and ``POST /achieveup/import``."""
from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from achieveup.auth.guards import (current_user, require_course_instructor, role_required,
                                   tenant_db)
from achieveup.exchange import schemas as s
from achieveup.exchange import service
from knowgap.core.schemas import path_id

blp = Blueprint("achieveup_exchange", __name__, description="AchieveUp export and import")


@blp.route("/achieveup/export/<course_id>")
@role_required("instructor")
@blp.arguments(s.ExportQuery, location="query")
@blp.doc(summary="Download matrices, mappings, mastery and badges",
         responses=s.EXPORT_RESPONSES)
def export(query, course_id):
    course_id = path_id(course_id)
    require_course_instructor(course_id)
    body, content_type, filename = service.export_file(tenant_db(), course_id,
                                                       query["format"])
    return Response(body, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


@blp.route("/achieveup/import", methods=["POST"])
@role_required("instructor")
@blp.arguments(s.ImportSchema)
@blp.response(200, s.CourseImportResultSchema)
@blp.doc(summary="Import matrices and mappings from a JSON export (all-or-nothing)")
def import_(body):
    require_course_instructor(body["course_id"])
    return service.import_data(tenant_db(), body["course_id"], str(current_user()["_id"]),
                               body["data"])
