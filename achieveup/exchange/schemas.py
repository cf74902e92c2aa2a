"""Schemas of the course export (its JSON document, also the import format) and import.

The export is a file download: ``format=json`` is the document described (and, on import,
validated) by ``ExportSchema``; ``csv`` and ``xlsx`` are binary files streamed as they are.
"""
from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from knowgap.core.schemas import Id, StrictSchema, Text, fields, validate


SCHEMA_NAME = "achieveup.course-export"
VERSION = 1
MAX_MATRICES, MAX_SKILLS, MAX_MAPPINGS, MAX_ROWS = 100, 200, 20000, 200000


class MatrixSchema(StrictSchema):
    matrix_name = Text(required=True, validate=validate.Length(1, 200))
    skills = fields.List(Text(validate=validate.Length(1, 200)), required=True,
                         validate=validate.Length(1, MAX_SKILLS))
    description = Text(load_default=None, allow_none=True, validate=validate.Length(max=5000))


class MappingSchema(StrictSchema):
    question_id = Id(required=True)
    quiz_id = Id(load_default=None, allow_none=True)
    skills = fields.List(Text(validate=validate.Length(1, 200)), required=True,
                         validate=validate.Length(1, 50))


class MasteryRowSchema(StrictSchema):
    student_id = Id(required=True)
    student_name = Text(allow_none=True)
    skill = Text(required=True)
    score = fields.Float(allow_none=True)
    level = Text(allow_none=True)
    questions_attempted = fields.Integer(allow_none=True)
    questions_correct = fields.Float(allow_none=True)
    p_mastery = fields.Float(allow_none=True)
    evidence_count = fields.Integer(allow_none=True)


class BadgeRowSchema(StrictSchema):
    badge_id = Text(allow_none=True)
    student_id = Id(required=True)
    skill = Text(required=True)
    level = Text(required=True)
    percentage = fields.Float(allow_none=True)
    evidence_count = fields.Integer(allow_none=True)
    earned_at = Text(allow_none=True)


class ItemRowSchema(StrictSchema):
    """One question's item analysis (derived data: exported, never read back on import, so
    its texts are free text, whatever the quiz says)."""

    quiz_id = Id(required=True)
    quiz_title = fields.String(allow_none=True)
    question_id = Id(required=True)
    position = fields.Integer(allow_none=True)
    question_type = fields.String(allow_none=True)
    question_text = fields.String(allow_none=True)
    students = fields.Integer(allow_none=True)
    attempts = fields.Integer(allow_none=True)
    difficulty = fields.Float(allow_none=True)
    point_biserial = fields.Float(allow_none=True)
    upper_lower = fields.Float(allow_none=True)
    check = fields.Boolean(allow_none=True)
    flags = fields.String(allow_none=True)


class ExportSchema(StrictSchema):
    schema = fields.String(required=True, validate=validate.Equal(SCHEMA_NAME))
    version = fields.Integer(required=True, validate=validate.Equal(VERSION))
    course_id = Id(required=True)
    course_name = Text(allow_none=True)
    exported_at = Text(allow_none=True)
    matrices = fields.List(fields.Nested(MatrixSchema), required=True,
                           validate=validate.Length(max=MAX_MATRICES))
    question_skills = fields.List(fields.Nested(MappingSchema), load_default=list,
                                  validate=validate.Length(max=MAX_MAPPINGS))
    mastery = fields.List(fields.Nested(MasteryRowSchema), load_default=list,
                          validate=validate.Length(max=MAX_ROWS))
    badges = fields.List(fields.Nested(BadgeRowSchema), load_default=list,
                         validate=validate.Length(max=MAX_ROWS))
    items = fields.List(fields.Nested(ItemRowSchema), load_default=list,
                        validate=validate.Length(max=MAX_MAPPINGS))

    @validates_schema
    def _consistent(self, data, **_):
        names, skills = set(), set()
        for m in data.get("matrices", []):
            key = m["matrix_name"].casefold()
            if key in names:
                raise ValidationError(f"Matrix name '{m['matrix_name']}' appears twice.",
                                      "matrices")
            names.add(key)
            skills.update(s.casefold() for s in m["skills"])
        unknown = sorted({s for q in data.get("question_skills", []) for s in q["skills"]
                          if s.casefold() not in skills})
        if unknown:
            raise ValidationError("Mapped skills missing from the matrices: "
                                  + ", ".join(unknown[:10]) + ".", "question_skills")


class ImportSchema(StrictSchema):
    course_id = Id(required=True)
    data = fields.Dict(required=True)


class ExportQuery(StrictSchema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "xlsx"]))


FILE = {"schema": {"type": "string", "format": "binary"}}
EXPORT_RESPONSES = {"200": {
    "description": "The export as a file download (Content-Disposition: attachment).",
    "content": {
        "application/json": {"schema": ExportSchema},
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
