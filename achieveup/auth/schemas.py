"""Request and response schemas of ``/auth``.

Requests reject unknown fields (``StrictSchema``) except ``role``, which the web app may send on
sign-up and which is accepted and ignored: roles are derived from Canvas, never chosen.
Text fields reject non-strings, so ``{"$ne": null}`` as an e-mail is a 422, never a query.
"""
from __future__ import annotations

from marshmallow import post_load

from achieveup.auth.passwords import MAX_LENGTH
from knowgap.core.schemas import StrictSchema, Text, fields, validate

TOKEN_TYPES = ("instructor", "student")


class Email(Text):
    def __init__(self, **kwargs):
        super().__init__(validate=[validate.Length(min=3, max=254), validate.Email(
            error="Enter a valid email address.")], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


def Name(**kwargs):
    return Text(validate=validate.Length(min=1, max=100), **kwargs)


def Password(**kwargs):
    # Policy (upper/lower/digit) is checked in the service with a clearer message; here only
    # type and a generous upper bound so huge bodies are refused before hashing.
    return fields.String(validate=validate.Length(min=1, max=4 * MAX_LENGTH), **kwargs)


def CanvasToken(**kwargs):
    return fields.String(validate=validate.Length(max=512), **kwargs)


def TokenType(**kwargs):
    return fields.String(validate=validate.OneOf(TOKEN_TYPES), **kwargs)


class _IgnoresRole(StrictSchema):
    role = fields.Raw(load_only=True, allow_none=True,
                      metadata={"description": "Ignored: roles are derived from Canvas."})

    @post_load
    def _drop_role(self, data, **kwargs):
        data.pop("role", None)
        return data


class SignupSchema(_IgnoresRole):
    name = Name(required=True)
    email = Email(required=True)
    password = Password(required=True)
    canvasApiToken = CanvasToken(allow_none=True)
    canvasTokenType = TokenType(allow_none=True)


class LoginSchema(StrictSchema):
    email = Email(required=True)
    password = Password(required=True)


class ProfileSchema(_IgnoresRole):
    name = Name()
    email = Email()
    canvasApiToken = CanvasToken()
    canvasTokenType = TokenType(allow_none=True)


class PasswordSchema(StrictSchema):
    currentPassword = Password(required=True)
    newPassword = Password(required=True)


class ValidateCanvasTokenSchema(StrictSchema):
    canvasApiToken = CanvasToken(required=True)
    canvasTokenType = TokenType(allow_none=True)


class RefreshSchema(StrictSchema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=512))


class LogoutSchema(StrictSchema):
    refresh_token = fields.String(validate=validate.Length(max=512), allow_none=True)


# ---------------------------------------------------------------- responses (documentation)


class UserSchema(StrictSchema):
    id = fields.String()
    name = fields.String()
    email = fields.String()
    role = fields.String(metadata={"enum": ["instructor", "student", "admin"]})
    hasCanvasToken = fields.Boolean()
    canvasTokenType = fields.String()
    canvas_token_created_at = fields.String()
    canvas_token_last_validated = fields.String()
    canvas_student_id = fields.String()
    has_student_access = fields.Boolean()


class SessionSchema(StrictSchema):
    token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_at = fields.String()
    user = fields.Nested(UserSchema)


class UserEnvelopeSchema(StrictSchema):
    user = fields.Nested(UserSchema)


class MessageSchema(StrictSchema):
    message = fields.String()


class CanvasUserInfoSchema(StrictSchema):
    id = fields.String()
    name = fields.String()
    email = fields.String()
    role = fields.String()
    has_student_access = fields.Boolean()


class ValidateCanvasTokenResult(StrictSchema):
    valid = fields.Boolean()
    message = fields.String()
    reason = fields.String()
    user_info = fields.Nested(CanvasUserInfoSchema)


class TokenStatusSchema(StrictSchema):
    valid = fields.Boolean()
    user = fields.Nested(UserSchema)
    expires_at = fields.String()
    token_type = fields.String()
