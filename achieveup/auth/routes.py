"""``/auth``: sign-up, login, sessions (refresh rotation, logout), profile, password.

See /work/shared/API_CONTRACT.md "AchieveUp: auth". Sign-up and login are rate limited per
client IP and per e-mail (``config.auth_rate_limit``); so is the Canvas token check (it makes
outbound calls) and the password change (it checks a password).
"""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from achieveup.auth import schemas as s
from achieveup.auth import service, tokens
from achieveup.auth.guards import current_user, login_required, optional_claims
from achieveup.auth.store import iso, public_user
from knowgap.core.extensions import json_field, limit_from_config
from knowgap.core.services import services

blp = Blueprint("auth", __name__, url_prefix="/auth",
                description="AchieveUp accounts and sessions")


per_ip = limit_from_config("auth_rate_limit")
per_email = limit_from_config("auth_rate_limit", key_func=json_field("email"))


def _email_taken(response) -> bool:
    return response.status_code == 409


# A profile change answering "email taken" tells whether an address has an account, like a
# sign-up does: those answers count against the sign-up limit (per IP and per e-mail).
per_ip_email_taken = limit_from_config("auth_rate_limit", deduct_when=_email_taken)
per_email_taken = limit_from_config("auth_rate_limit", key_func=json_field("email"),
                                    deduct_when=_email_taken)


@blp.route("/signup", methods=["POST"])
@per_ip
@per_email
@blp.arguments(s.SignupSchema)
@blp.response(201, s.SessionSchema)
@blp.alt_response(409, description="Email already registered")
@blp.alt_response(422, description="Invalid input or weak password")
@blp.alt_response(429, description="Too many attempts")
def signup(data):
    """Create an account. The role is derived from the Canvas token, never from the client."""
    return service.signup(services(), data)


@blp.route("/login", methods=["POST"])
@per_ip
@per_email
@blp.arguments(s.LoginSchema)
@blp.response(200, s.SessionSchema)
@blp.alt_response(401, description="Wrong email or password (one message for both)")
@blp.alt_response(429, description="Too many attempts")
def login(data):
    return service.login(services(), data["email"], data["password"])


@blp.route("/refresh", methods=["POST"])
@blp.arguments(s.RefreshSchema)
@blp.response(200, s.SessionSchema)
@blp.alt_response(401, description="Unknown, expired, revoked or reused refresh token")
def refresh(data):
    """Rotate a refresh token: returns a new access token and a new refresh token."""
    return service.refresh(services(), data["refresh_token"])


@blp.route("/logout", methods=["POST"])
@blp.arguments(s.LogoutSchema, required=False)
@blp.response(200, s.MessageSchema)
def logout(data):
    """Revoke the session: the bearer access token and the refresh token's whole family."""
    data = data or {}
    service.logout(services(), optional_claims(), data.get("refresh_token"))
    return {"message": "You have been signed out."}


@blp.route("/me", methods=["GET"])
@login_required
@blp.response(200, s.UserEnvelopeSchema)
def me():
    return {"user": public_user(current_user())}


@blp.route("/verify", methods=["GET"])
@login_required
@blp.response(200, s.UserEnvelopeSchema)
def verify():
    return {"user": public_user(current_user())}


@blp.route("/token-status", methods=["GET"])
@login_required
@blp.response(200, s.TokenStatusSchema)
def token_status():
    return {"valid": True, "user": public_user(current_user()),
            "expires_at": iso(tokens.expires_at(g.token_claims)), "token_type": "Bearer"}


@blp.route("/profile", methods=["PUT"])
@login_required
@per_ip_email_taken
@per_email_taken
@blp.arguments(s.ProfileSchema)
@blp.response(200, s.UserEnvelopeSchema)
def profile(data):
    """Update name/email and the Canvas token (validated first; ``""`` clears it)."""
    return {"user": service.update_profile(services(), current_user(), data)}


@blp.route("/password", methods=["PUT"])
@login_required
@per_ip
@blp.arguments(s.PasswordSchema)
@blp.response(200, s.MessageSchema)
def password(data):
    """Change the password: this session stays valid, every other session ends at once."""
    return service.change_password(services(), current_user(), g.token_claims,
                                   data["currentPassword"], data["newPassword"])


@blp.route("/validate-canvas-token", methods=["POST"])
@per_ip
@blp.arguments(s.ValidateCanvasTokenSchema)
@blp.response(200, s.ValidateCanvasTokenResult)
def validate_canvas_token(data):
    """Check a Canvas token against Canvas: ``{valid, message, user_info?}`` (200 even when
    invalid; the token is never echoed)."""
    return service.validate_canvas_token(services(), data["canvasApiToken"],
                                         data.get("canvasTokenType"))
