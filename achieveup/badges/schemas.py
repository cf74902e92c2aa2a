"""Response schemas of the badge endpoints: EarnedBadge and the earned lists, and the public
Open Badges 2.0 documents (Assertion, BadgeClass, Issuer).

The Open Badges schemas are permissive (extra properties allowed, as the Open Badges vocabulary
is open-ended) but list every field ``achieveup.badges.service`` produces, since dumping through
a schema keeps the declared fields only. ``@context`` is not a Python name: it is declared with
``data_key``.
"""
from __future__ import annotations

from marshmallow import INCLUDE, Schema

from achieveup.analytics.schemas import Number
from knowgap.core.schemas import StrictSchema, fields


class EarnedBadgeSchema(StrictSchema):
    badge_id = fields.String(required=True)
    badge_name = fields.String(required=True)
    skill_name = fields.String(required=True)
    badge_level = fields.String(required=True, metadata={
        "description": "beginner, intermediate, advanced or expert."})
    progress_percentage = Number(required=True, allow_none=True, metadata={
        "description": "The skill score (percent) when the badge was earned."})
    earned_at = fields.String(required=True, allow_none=True,
                              metadata={"description": "ISO-8601 UTC."})
    course_id = fields.String(required=True)
    course_name = fields.String(required=True)
    shareable_link = fields.String(required=True, metadata={
        "description": "URL of the public Open Badges assertion (works once shared)."})
    is_public = fields.Boolean(required=True)


class EarnedBadgesSchema(StrictSchema):
    student_id = fields.String(required=True)
    student_name = fields.String(required=True)
    total_badges = fields.Integer(required=True)
    badges = fields.List(fields.Nested(EarnedBadgeSchema), required=True)


# ------------------------------------------------------------------ Open Badges 2.0


class OpenBadgesSchema(Schema):
    """Common JSON-LD keys; unknown properties are allowed in the documented schema."""

    class Meta:
        unknown = INCLUDE

    context = fields.String(data_key="@context", attribute="@context", required=True)
    type = fields.String(required=True)
    id = fields.String(required=True)


class OBRecipientSchema(Schema):
    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    hashed = fields.Boolean(required=True)
    salt = fields.String(allow_none=True)
    identity = fields.String(required=True)


class OBVerificationSchema(Schema):
    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)


class OBEvidenceSchema(Schema):
    class Meta:
        unknown = INCLUDE

    type = fields.String()
    name = fields.String()
    narrative = fields.String()


class OBAssertionSchema(OpenBadgesSchema):
    recipient = fields.Nested(OBRecipientSchema, required=True)
    badge = fields.String(required=True, metadata={"description": "URL of the BadgeClass."})
    verification = fields.Nested(OBVerificationSchema, required=True)
    issuedOn = fields.String(required=True, allow_none=True)
    evidence = fields.List(fields.Nested(OBEvidenceSchema))


class OBCriteriaSchema(Schema):
    class Meta:
        unknown = INCLUDE

    narrative = fields.String()


class OBBadgeClassSchema(OpenBadgesSchema):
    name = fields.String(required=True)
    description = fields.String(required=True)
    image = fields.String(required=True)
    criteria = fields.Nested(OBCriteriaSchema, required=True)
    issuer = fields.String(required=True, metadata={"description": "URL of the Issuer."})
    tags = fields.List(fields.String())


class OBIssuerSchema(OpenBadgesSchema):
    name = fields.String(required=True)
    url = fields.String(required=True)
