"""Account use cases: sign-up, login, sessions, profile, password, Canvas token checks.

Routes parse and validate input, then call one function here; everything raises ``AppError``s.
Roles are derived, never taken from the client: ``instructor`` only when the user's Canvas
token validates and Canvas reports a teacher, TA or designer enrollment; otherwise ``student``.
``admin`` is granted only by ``flask create-admin`` and is never changed by these functions.
"""
from __future__ import annotations

from dataclasses import dataclass

from bson import ObjectId

from achieveup.auth import passwords, store, tokens
from achieveup.auth.store import iso, public_user, utcnow
from knowgap.canvas.hosts import canvas_host
from knowgap.core.errors import AppError, BadRequest, Unauthorized, ValidationFailed
from knowgap.core.schemas import plausible_canvas_token
from knowgap.core.services import Services

INVALID_CREDENTIALS = "The email or password is incorrect."


# ---------------------------------------------------------------------------- Canvas tokens


@dataclass
class CanvasProfile:
    """What Canvas says about a token (never contains the token)."""
    base_url: str
    canvas_user_id: str
    name: str
    email: str | None
    is_instructor: bool
    has_student_enrollment: bool

    @property
    def token_type(self) -> str:
        return "instructor" if self.is_instructor else "student"

    @property
    def has_student_access(self) -> bool:
        return self.is_instructor and self.has_student_enrollment

    def user_info(self) -> dict:
        info = {"id": self.canvas_user_id, "name": self.name, "role": self.token_type,
                "has_student_access": self.has_student_access}
        if self.email:
            info["email"] = self.email
        return info


class CanvasCheckFailed(AppError):
    """A Canvas token could not be validated; ``reason`` is invalid | unreachable | host."""

    def __init__(self, message: str, *, reason: str, error: str, status: int):
        super().__init__(message, error=error, status=status)
        self.reason = reason


def inspect_canvas_token(svc: Services, token: str, base_url: str | None = None) -> CanvasProfile:
    """Ask Canvas who owns ``token`` and which roles it holds (``/users/self`` + courses).

    Raises ``CanvasCheckFailed`` with a reason the user can act on. The status is 400 for a
    bad token (never 401: the web app treats 401 as "your session ended"), 403 for a host not
    on the allow-list, 502/504 when Canvas cannot be reached.
    """
    from knowgap.canvas import errors as cerr
    from knowgap.canvas.gateway import CanvasGateway
    from knowgap.canvas.hosts import canvas_base_url
    from knowgap.canvas.roles import INSTRUCTOR_TYPES, course_roles

    try:
        base = canvas_base_url(base_url, svc.config)
    except AppError as exc:
        raise CanvasCheckFailed(exc.message, reason="host", error=exc.error,
                                status=exc.status) from None
    if not plausible_canvas_token(token):
        # Control characters / non-ASCII: never valid, and unsendable in a header.
        raise CanvasCheckFailed(cerr.CanvasTokenInvalid.message, reason="invalid",
                                error="canvas_token_invalid", status=400)
    try:
        gateway = CanvasGateway(svc, token, base_url=base)
        # refresh=True: a validation must be Canvas's answer now, not a cached one.
        me = gateway.self_user(refresh=True)
        stale = getattr(gateway, "last_stale", False)
        courses = gateway.courses(refresh=True)
        stale = stale or getattr(gateway, "last_stale", False)
    except (cerr.CanvasTokenInvalid, cerr.CanvasPermissionDenied):
        raise CanvasCheckFailed(cerr.CanvasTokenInvalid.message, reason="invalid",
                                error="canvas_token_invalid", status=400) from None
    except cerr.CanvasError as exc:
        if exc.status in (401, 403, 404):
            raise CanvasCheckFailed(cerr.CanvasTokenInvalid.message, reason="invalid",
                                    error="canvas_token_invalid", status=400) from None
        raise CanvasCheckFailed(exc.message, reason="unreachable", error="canvas_unavailable",
                                status=exc.status if exc.status >= 500 else 502) from None
    if stale:
        # A cached answer is not a validation: Canvas did not confirm the token just now.
        raise CanvasCheckFailed(cerr.CanvasUnavailable.message, reason="unreachable",
                                error="canvas_unavailable", status=502)
    if not isinstance(me, dict) or me.get("id") is None:
        raise CanvasCheckFailed("Canvas sent a response we could not read. Please try again "
                                "later.", reason="unreachable", error="canvas_bad_response",
                                status=502)
    roles: set[str] = set()
    for course in courses or []:
        roles |= course_roles(course)
    return CanvasProfile(
        base_url=base, canvas_user_id=str(me["id"]), name=str(me.get("name") or ""),
        email=me.get("primary_email") or me.get("email") or me.get("login_id") or None,
        is_instructor=bool(roles & INSTRUCTOR_TYPES),
        has_student_enrollment="student" in roles)


def _canvas_fields(svc: Services, user_id: ObjectId, token: str, profile: CanvasProfile,
                   role: str) -> dict:
    now = utcnow()
    return {
        "canvas_token_enc": svc.cipher.encrypt(token, owner=str(user_id)),
        "canvas_token_type": profile.token_type,
        "canvas_token_created_at": now,
        "canvas_token_last_validated": now,
        "canvas_user_id": profile.canvas_user_id,
        "canvas_base_url": profile.base_url,
        "canvas_host": canvas_host(profile.base_url),
        "has_student_access": profile.has_student_access,
        "role": "admin" if role == "admin" else profile.token_type,
    }


CANVAS_CLEARED_UNSET = ("canvas_token_enc", "canvas_token_created_at",
                        "canvas_token_last_validated", "canvas_user_id")


def validate_canvas_token(svc: Services, token: str, token_type: str | None) -> dict:
    """``{valid, message, user_info?}`` for ``POST /auth/validate-canvas-token`` (never raises
    for a bad token; the token is never echoed)."""
    if not token.strip():
        return {"valid": False, "message": "Enter a Canvas API token to check."}
    try:
        profile = inspect_canvas_token(svc, token.strip())
    except CanvasCheckFailed as exc:
        return {"valid": False, "message": exc.message, "reason": exc.reason}
    body = {"valid": True, "user_info": profile.user_info()}
    if token_type == "instructor" and not profile.is_instructor:
        body["valid"] = False
        body["reason"] = "not_instructor"
        body["message"] = ("This Canvas token works, but Canvas shows no teacher, TA or "
                           "designer enrollment for it, so it cannot be used as an instructor "
                           "token.")
    elif profile.is_instructor:
        body["message"] = "Your Canvas token is valid and has instructor access."
    else:
        body["message"] = "Your Canvas token is valid and has student access."
    return body


# ---------------------------------------------------------------------------- sessions


def issue_session(svc: Services, user: dict, family_id: str | None = None,
                  parent: str | None = None) -> dict:
    """A new access token plus a new refresh token (same family when rotating)."""
    refresh, record = tokens.issue_refresh(svc.db, svc.config, str(user["_id"]),
                                           family_id=family_id, parent=parent)
    access, claims = tokens.issue_access(svc.config, str(user["_id"]), record["family_id"])
    return {"token": access, "refresh_token": refresh, "token_type": "Bearer",
            "expires_at": iso(tokens.expires_at(claims)), "user": public_user(user)}


def signup(svc: Services, data: dict) -> dict:
    passwords.check_policy(data["password"])
    email = data["email"].strip()
    if store.find_by_email(svc.db, email) is not None:
        raise store.email_taken()
    canvas_token = (data.get("canvasApiToken") or "").strip()
    profile = inspect_canvas_token(svc, canvas_token) if canvas_token else None

    now = utcnow()
    user_id = ObjectId()
    doc = {"_id": user_id, "name": data["name"].strip(), "email": email,
           "email_lower": store.normalize_email(email),
           "password_hash": passwords.hash_password(data["password"], svc.config.bcrypt_rounds),
           "role": "student", "canvas_token_type": "student", "has_student_access": False,
           "tokens_valid_after": now, "created_at": now, "updated_at": now}
    if profile is not None:
        doc.update(_canvas_fields(svc, user_id, canvas_token, profile, "student"))
    user = store.insert(svc.db, doc)
    return issue_session(svc, user)


def login(svc: Services, email: str, password: str) -> dict:
    user = store.find_by_email(svc.db, email)
    if user is None:
        passwords.burn_time(password, svc.config.bcrypt_rounds)
        raise Unauthorized(INVALID_CREDENTIALS, error="invalid_credentials")
    if not passwords.verify(password, user.get("password_hash")):
        raise Unauthorized(INVALID_CREDENTIALS, error="invalid_credentials")
    if passwords.needs_rehash(user.get("password_hash"), svc.config.bcrypt_rounds):
        user = store.update(svc.db, user["_id"], {
            "password_hash": passwords.hash_password(password, svc.config.bcrypt_rounds)})
    return issue_session(svc, user)


def refresh(svc: Services, refresh_token: str) -> dict:
    """Rotate: a revoked session (logout, reuse, password change) was refused by
    ``consume_refresh``; the session that changed the password keeps refreshing."""
    record = tokens.consume_refresh(svc.db, refresh_token)
    user = store.find_by_id(svc.db, record["user_id"])
    if user is None:
        tokens.revoke_family(svc.db, record["family_id"], reason="invalidated")
        raise tokens.refresh_invalid()
    return issue_session(svc, user, family_id=record["family_id"], parent=record["jti"])


def logout(svc: Services, claims: dict | None, refresh_token: str | None) -> None:
    if claims:
        tokens.deny_access(svc.db, claims)
        if claims.get("fid"):
            tokens.revoke_family(svc.db, claims["fid"])
    if refresh_token:
        record = tokens.find_refresh(svc.db, refresh_token)
        if record is not None:
            tokens.revoke_family(svc.db, record["family_id"])


# ---------------------------------------------------------------------------- profile


def update_profile(svc: Services, user: dict, data: dict) -> dict:
    changes: dict = {}
    unset: tuple[str, ...] = ()
    if "name" in data:
        changes["name"] = data["name"].strip()
    if "email" in data:
        email = data["email"].strip()
        if store.normalize_email(email) != user.get("email_lower"):
            other = store.find_by_email(svc.db, email)
            if other is not None and other["_id"] != user["_id"]:
                raise store.email_taken()
        changes["email"] = email
        changes["email_lower"] = store.normalize_email(email)
    if "canvasApiToken" in data:
        canvas_token = (data["canvasApiToken"] or "").strip()
        if canvas_token:
            profile = inspect_canvas_token(svc, canvas_token, user.get("canvas_base_url"))
            changes.update(_canvas_fields(svc, user["_id"], canvas_token, profile,
                                          user.get("role", "student")))
        else:
            changes.update({"canvas_token_type": "student", "has_student_access": False,
                            "role": "admin" if user.get("role") == "admin" else "student"})
            unset = CANVAS_CLEARED_UNSET
    # canvasTokenType alone is only a hint: the type always follows what Canvas reports.
    if not changes:
        return public_user(user)
    return public_user(store.update(svc.db, user["_id"], changes, unset))


def change_password(svc: Services, user: dict, claims: dict, current: str, new: str) -> dict:
    """The session making the change (``claims``' ``fid``) stays valid: the web app keeps its
    token. Every other session ends at once (refresh tokens revoked, access tokens refused on
    their next request); tokens without a session end through ``tokens_valid_after``."""
    if not passwords.verify(current, user.get("password_hash")):
        raise BadRequest("Your current password is incorrect.", error="invalid_current_password")
    passwords.check_policy(new, field="newPassword")
    if current == new:
        raise ValidationFailed("Choose a new password that differs from your current one.",
                               error="password_unchanged",
                               details={"newPassword": ["Must differ from the current password."]})
    store.update(svc.db, user["_id"], {
        "password_hash": passwords.hash_password(new, svc.config.bcrypt_rounds),
        "tokens_valid_after": utcnow()})
    tokens.revoke_user(svc.db, str(user["_id"]), keep_family=claims.get("fid"))
    return {"message": "Your password was changed. Other sessions have been signed out."}


def create_admin(svc: Services, email: str, name: str, password: str,
                 promote: bool = False) -> dict:
    """Create an admin account (or, with ``promote``, make an existing account admin)."""
    passwords.check_policy(password)
    existing = store.find_by_email(svc.db, email)
    if existing is not None:
        if not promote:
            raise store.email_taken()
        return store.update(svc.db, existing["_id"], {"role": "admin"})
    now = utcnow()
    return store.insert(svc.db, {
        "name": name.strip(), "email": email.strip(),
        "email_lower": store.normalize_email(email),
        "password_hash": passwords.hash_password(password, svc.config.bcrypt_rounds),
        "role": "admin", "canvas_token_type": "student", "has_student_access": False,
        "tokens_valid_after": now, "created_at": now, "updated_at": now})
