"""Request bodies of the KnowGap risk endpoints (unknown fields -> 422)."""
from __future__ import annotations

from marshmallow import validates_schema

from knowgap.core.schemas import Id, StrictSchema, Text, ValidationError, fields, validate
from knowgap.identity.schemas import CallerBody, CanvasHost

LEVELS = ["low", "medium", "high"]


class RiskBody(CallerBody):
    course_id = Id(required=True)
    student_id = Id(allow_none=True)


class ToggleQuery(StrictSchema):
    """``GET /get-toggle-risk/{cid}`` needs nothing; ``link`` names the Canvas host."""

    link = CanvasHost()


class ToggleBody(CallerBody):
    toggle_risk = fields.Boolean(required=True)


class SupportVideoBody(CallerBody):
    risk = Text(validate=validate.OneOf(LEVELS))
    risk_level = Text(validate=validate.OneOf(LEVELS))
    course_id = Id()
    student_id = Id()

    @validates_schema
    def one_level(self, data, **kwargs):
        if not data.get("risk") and not data.get("risk_level"):
            raise ValidationError("Give risk or risk_level: low, medium or high.", "risk")
