"""Request bodies of the KnowGap course endpoints (unknown fields -> 422)."""
from __future__ import annotations

from knowgap.core.schemas import Id, Text, fields, validate
from knowgap.identity.schemas import CallerBody


class AddTokenBody(CallerBody):
    user_id = Id(required=True)
    course_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=200))


class CourseBody(CallerBody):
    course_id = Id(required=True)


class UpdateCourseDbBody(CourseBody):
    student_id = Id(allow_none=True)


class StudentGradeBody(CourseBody):
    user_id = Id(required=True)


class CourseContextBody(CourseBody):
    course_context = Text(required=True, validate=validate.Length(max=12000))
