"""Response schemas of the course export (JSON form) and import endpoints.

The export is a file download: ``format=json`` is the object described by
``CourseExportSchema`` (the same document ``POST /achieveup/import`` accepts as ``data``),
``csv`` and ``xlsx`` are binary files. The route streams the bytes as they are; these schemas
only document them.
"""
from __future__ import annotations

from achieveup.analytics.schemas import Count, Number
from knowgap.core.schemas import StrictSchema, fields


class ExportMatrixSchema(StrictSchema):
    matrix_name = fields.String(required=True)
    skills = fields.List(fields.String(), required=True)
    description = fields.String(required=True, allow_none=True)


class ExportMappingSchema(StrictSchema):
    question_id = fields.String(required=True)
    quiz_id = fields.String(required=True, allow_none=True)
    skills = fields.List(fields.String(), required=True)


class ExportMasterySchema(StrictSchema):
    student_id = fields.String(required=True)
    student_name = fields.String(required=True, allow_none=True)
    skill = fields.String(required=True)
    score = Number(required=True, allow_none=True)
    level = fields.String(required=True, allow_none=True)
    questions_attempted = Count(required=True, allow_none=True)
    questions_correct = Number(required=True, allow_none=True)
    p_mastery = Number(required=True, allow_none=True)
    evidence_count = Count(required=True, allow_none=True)


class ExportBadgeSchema(StrictSchema):
    badge_id = fields.String(required=True)
    student_id = fields.String(required=True)
    skill = fields.String(required=True)
    level = fields.String(required=True)
    percentage = Number(required=True, allow_none=True)
    evidence_count = Count(required=True, allow_none=True)
    earned_at = fields.String(required=True, allow_none=True)


class CourseExportSchema(StrictSchema):
    schema = fields.String(required=True, metadata={"enum": ["achieveup.course-export"]})
    version = fields.Integer(required=True)
    course_id = fields.String(required=True)
    course_name = fields.String(required=True, allow_none=True)
    exported_at = fields.String(required=True, allow_none=True)
    matrices = fields.List(fields.Nested(ExportMatrixSchema), required=True)
    question_skills = fields.List(fields.Nested(ExportMappingSchema), required=True)
    mastery = fields.List(fields.Nested(ExportMasterySchema), required=True)
    badges = fields.List(fields.Nested(ExportBadgeSchema), required=True)


FILE = {"schema": {"type": "string", "format": "binary"}}
EXPORT_RESPONSES = {"200": {
    "description": "The export as a file download (Content-Disposition: attachment).",
    "content": {
        "application/json": {"schema": CourseExportSchema},
        "text/csv": FILE,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": FILE,
    }}}


class CourseImportResultSchema(StrictSchema):
    message = fields.String(required=True)
    course_id = fields.String(required=True)
    matrices_imported = fields.Integer(required=True)
    mappings_imported = fields.Integer(required=True)
    badges_revoked = fields.Integer(required=True)
    derived_data_imported = fields.Boolean(required=True, metadata={
        "description": "Always false: mastery and badges are recomputed by the next sync."})
