"""Schemas of the badge endpoints: EarnedBadge and the earned lists, the public Open Badges
2.0 documents (Assertion, BadgeClass, Issuer), the Open Badges 3.0 credential, the issuer's keys
(JWKS) and the verification request and answer.

The Open Badges schemas are permissive (extra properties allowed, as the Open Badges vocabulary
is open-ended) but list every field ``achieveup.badges.service`` produces, since dumping through
a schema keeps the declared fields only. ``@context`` is not a Python name: it is declared with
``data_key``.
"""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, validates_schema

from achieveup.analytics.schemas import Number
from knowgap.core.schemas import StrictSchema, Text, fields, validate


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
    credential_url = fields.String(required=True, metadata={
        "description": "URL of the public Open Badges 3.0 credential, a VC-JWT (works once "
                       "shared; ?format=json for the same claims as JSON)."})
    is_public = fields.Boolean(required=True)


class BadgeProfileSchema(StrictSchema):
    student_id = fields.String(required=True)
    show_name = fields.Boolean(required=True, metadata={
        "description": "Whether pages and public lists of your shared badges show your name."})
    name = fields.String(required=True, allow_none=True, metadata={
        "description": "The name they would show (your Canvas name)."})
    profile_url = fields.String(required=True, metadata={
        "description": "Your public profile: a page listing the badges you shared."})


class BadgeProfileUpdateSchema(StrictSchema):
    show_name = fields.Boolean(required=True, truthy={True}, falsy={False})


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
    email = fields.String(required=True)
    jwks_uri = fields.String(required=True, metadata={
        "description": "JWKS of the keys that sign this issuer's Open Badges 3.0 credentials."})


# ------------------------------------------------------------------ Open Badges 3.0


class OB3CredentialSchema(Schema):
    """An OpenBadgeCredential as JSON: the claims of its VC-JWT (the payload is the
    credential, plus the registered claims ``iss``, ``jti`` and ``nbf``)."""

    class Meta:
        unknown = INCLUDE

    context = fields.List(fields.String(), data_key="@context", attribute="@context",
                          required=True)
    id = fields.String(required=True)
    type = fields.List(fields.String(), required=True)
    name = fields.String(required=True)
    issuer = fields.Dict(required=True)
    validFrom = fields.String(required=True)
    credentialSubject = fields.Dict(required=True, metadata={
        "description": "AchievementSubject: the hashed e-mail identifier and the achievement."})
    credentialStatus = fields.Dict(required=True, metadata={
        "description": "BitstringStatusListEntry (revocation)."})
    credentialSchema = fields.List(fields.Dict())
    evidence = fields.List(fields.Dict())
    iss = fields.String(required=True)
    jti = fields.String(required=True)
    nbf = fields.Integer(required=True)


class ClassQuerySchema(StrictSchema):
    canvas_host = Text(validate=validate.Regexp(r"^[a-z0-9.\-\[\]:]{1,300}$"), metadata={
        "description": "The Canvas host of the course (course ids are per Canvas); absent: "
                       "the server's own Canvas."})


class CredentialQuerySchema(StrictSchema):
    format = fields.String(load_default="jwt", validate=validate.OneOf(["jwt", "json"]),
                           metadata={"description": "jwt (the signed VC-JWT, default) or json "
                                                    "(its claims)."})
    download = fields.Boolean(load_default=False, metadata={
        "description": "true: answer as a file download (Content-Disposition: attachment)."})


class JWKSchema(StrictSchema):
    kty = fields.String(required=True)
    crv = fields.String(required=True)
    x = fields.String(required=True)
    kid = fields.String(required=True, metadata={
        "description": "URL of this key; the kid of the credentials it signed."})
    alg = fields.String(required=True)
    use = fields.String(required=True)


class JWKSSchema(StrictSchema):
    keys = fields.List(fields.Nested(JWKSchema), required=True, metadata={
        "description": "The current signing key first, then retired keys."})


# ------------------------------------------------------------------ verification


class VerifyRequestSchema(StrictSchema):
    credential = Text(validate=validate.Length(min=1, max=20000), metadata={
        "description": "An Open Badges 3.0 VC-JWT."})
    assertion_url = Text(validate=validate.Length(min=1, max=2048), metadata={
        "description": "URL of an Open Badges 2.0 hosted assertion of this issuer."})

    @validates_schema
    def one_input(self, data, **kwargs):
        if ("credential" in data) == ("assertion_url" in data):
            raise ValidationError("Send exactly one of credential (a VC-JWT) or assertion_url "
                                  "(an Open Badges 2.0 assertion URL of this issuer).")


class VerifiedBadgeSchema(StrictSchema):
    badge_id = fields.String(required=True)
    badge_name = fields.String(required=True)
    skill_name = fields.String(required=True)
    badge_level = fields.String(required=True)
    course_id = fields.String(required=True)
    course_name = fields.String(required=True)
    earned_at = fields.String(required=True, allow_none=True)
    issuer = fields.String(required=True)
    format = fields.String(required=True, metadata={"description": "ob3-vc-jwt or ob2-hosted."})
    revoked = fields.Boolean(required=True)


class VerifyResultSchema(StrictSchema):
    valid = fields.Boolean(required=True)
    reasons = fields.List(fields.String(), required=True, metadata={
        "description": "Why the badge is not valid (empty when it is)."})
    badge = fields.Nested(VerifiedBadgeSchema, required=True, allow_none=True, metadata={
        "description": "The badge, when the input could be attributed to one of ours."})
