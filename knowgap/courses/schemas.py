"""Request bodies of the KnowGap course endpoints (unknown fields -> 422)."""
from __future__ import annotations

from marshmallow import post_load

from knowgap.core.schemas import (TEXT_PATTERN, Id, StrictSchema, Text, ValidationError,
                                  fields, validate)
from knowgap.identity.schemas import CallerBody

MAX_CONTEXT = 12000


def _merge_alias(data: dict, alias: str, name: str) -> None:
    """Fold ``alias`` into ``name``; both given with different values is an error."""
    if alias not in data:
        return
    value = data.pop(alias)
    if name in data and data[name] != value:
        raise ValidationError(f"Send {name} or {alias}, not two different values.", alias)
    data[name] = value


class AddTokenBody(CallerBody):
    """Every form the extension sends: InstructorView's ``userid``/``courseids``, the older
    ``user_id``/``course_ids``, or neither (Studentview). Who the user is and which courses they
    are in is Canvas's answer for the token: ``user_id`` must match it, ``course_ids`` only
    narrows the registration (omitted or empty: every course with an active enrollment)."""

    user_id = Id()
    userid = Id()
    course_ids = fields.List(Id(), validate=validate.Length(max=200))
    courseids = fields.List(Id(), validate=validate.Length(max=200))

    @post_load
    def _one_form(self, data, **kwargs):
        _merge_alias(data, "userid", "user_id")
        _merge_alias(data, "courseids", "course_ids")
        return data


class CourseBody(CallerBody):
    course_id = Id(required=True)


class UpdateCourseDbBody(CourseBody):
    student_id = Id(allow_none=True)


class StudentGradeBody(CourseBody):
    user_id = Id(required=True)


class RoleReport(StrictSchema):
    """What the extension's popup sends as ``course_context``: the role it read from Canvas."""

    user_role = Text(required=True, allow_none=True, validate=validate.Length(max=100))


class CourseContext(fields.Field):
    """The instructor's course context (text), or the popup's role report ``{user_role}``."""

    def __init__(self, **kwargs):
        metadata = {"oneOf": [
            {"type": "string", "maxLength": MAX_CONTEXT, "pattern": TEXT_PATTERN},
            {"type": "object", "properties": {"user_role": {"type": "string", "maxLength": 100,
                                                             "nullable": True}},
             "required": ["user_role"], "additionalProperties": False}]}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            return RoleReport().load(value)
        return Text(validate=validate.Length(max=MAX_CONTEXT)).deserialize(value, attr, data)


class CourseContextBody(CourseBody):
    course_context = CourseContext(required=True)
