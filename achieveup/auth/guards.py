"""Authentication and authorization guards for every AchieveUp route.

Usage::

    from achieveup.auth.guards import (login_required, role_required, current_user,
                                       user_gateway, require_course_instructor,
                                       require_student_access)

    @blp.route("/achieveup/instructor/courses/<course_id>/students")
    @role_required("instructor")          # 401 without a valid session, 403 for students
    def students(course_id):
        require_course_instructor(course_id)   # 403 unless the caller teaches it in Canvas
        return user_gateway().students(course_id)

API (all raise ``AppError`` subclasses rendered as the JSON envelope):

``login_required(fn)``
    Decorator. Reads ``Authorization: Bearer <access JWT>``; verifies signature (HS256 only),
    ``exp``/``iat``/``sub``/``jti``, ``type == "access"``, that the ``jti`` is not on the
    logout denylist, that the user still exists and that the token's session (``fid``) was not
    ended (logout, refresh-token reuse, a password change made by another session); a token
    without a session must be issued after the user's ``tokens_valid_after``. Checked on every
    request, so an ended session stops at once. Sets ``g.user`` (the user document) and
    ``g.token_claims``. 401 otherwise (``token_missing``, ``token_invalid``, ``token_expired``,
    ``token_revoked``, ``refresh_token_reused``).
``role_required(*roles)``
    Decorator; implies ``login_required``; 403 ``forbidden_role`` unless the user's role is one
    of ``roles``. ``admin`` passes every role check.
``current_user() -> dict``
    The signed-in user's document (401 if the view is not behind ``login_required``).
``user_gateway(user=None) -> CanvasGateway``
    A gateway using the user's stored (decrypted) Canvas token and Canvas host, memoised per
    request. 400 ``canvas_token_missing`` when the user has no token. (It is wrapped so that
    Canvas rejecting the token surfaces as 400 ``canvas_token_invalid``, never 401, which the
    web app would take as "signed out"; ``.wrapped`` is the raw gateway.)
``require_course_instructor(course_id) -> None``
    403 ``not_course_instructor`` unless Canvas (cached) shows the caller as teacher, TA or
    designer of ``course_id``. Admin passes. 400 ``canvas_token_missing`` without a token.
``tenant_db(user=None) -> TenantDb``
    The database scoped to the user's Canvas host (``knowgap.core.tenancy``; the host of the
    user's ``canvas_base_url``, else of the server's ``CANVAS_BASE_URL``). Every AchieveUp
    route reads and writes through it, so course 101 of one Canvas is never course 101 of
    another.
``require_student_access(student_id, course_id=None) -> None``
    Admin passes. Anyone may read their own data (``student_id`` equals their Canvas user id,
    ``canvas_student_id``). Otherwise only instructors: with ``course_id`` they must teach that
    course (callers must then scope their query to that course); without it they must teach a
    course in which the student is enrolled. Else 403 ``forbidden_student``.

Canvas answers (teacher courses, course lists, student lists) come through the gateway's Mongo
cache and are additionally memoised on ``g`` for the rest of the request.
"""
from __future__ import annotations

import functools
from datetime import datetime

from flask import g, request
from flask_smorest import Blueprint

from achieveup.auth import store, tokens
from knowgap.core.errors import AppError, BadRequest, Forbidden, Unauthorized
from knowgap.core.services import services

_SECURITY_DOC = {"security": [{"bearerAuth": []}]}


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _millis(value) -> int:
    if isinstance(value, datetime):
        return int(round(store.as_utc(value).timestamp() * 1000))
    return int(round(float(value) * 1000))


def authenticate(token: str | None = None) -> dict:
    """Verify the request's access token; set and return ``g.user`` (401 when not valid)."""
    token = token if token is not None else _bearer_token()
    if not token:
        raise Unauthorized("Please sign in to continue.", error="token_missing",
                           headers={"WWW-Authenticate": "Bearer"})
    svc = services()
    claims = tokens.decode_access(svc.config, token)
    if tokens.is_denied(svc.db, claims["jti"]):
        raise Unauthorized("You have signed out. Please sign in again.", error="token_revoked")
    user = store.find_by_id(svc.db, claims["sub"])
    if user is None:
        raise tokens.token_invalid()
    family = claims.get("fid")
    if isinstance(family, str) and family:
        ended = tokens.session_revocation(svc.db, family)
        if ended:
            raise tokens.session_ended(ended)
    else:
        valid_after = user.get("tokens_valid_after")
        if valid_after is not None and _millis(claims["iat"]) < _millis(valid_after):
            raise tokens.session_ended("password_change")
    g.user = user
    g.token_claims = claims
    return user


def optional_claims() -> dict | None:
    """The verified claims of the request's token, or None (for endpoints like logout)."""
    try:
        authenticate()
    except Unauthorized:
        return None
    return g.token_claims


def _document(wrapper):
    return Blueprint.doc(**_SECURITY_DOC)(wrapper)


def login_required(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        authenticate()
        return fn(*args, **kwargs)

    return _document(wrapper)


def role_required(*roles: str):
    if not roles or not all(r in store.ROLES for r in roles):
        raise ValueError(f"role_required needs roles from {store.ROLES}, got {roles}")
    allowed = set(roles) | {"admin"}

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            user = authenticate()
            if user.get("role") not in allowed:
                raise Forbidden(_role_message(roles), error="forbidden_role")
            return fn(*args, **kwargs)

        return _document(wrapper)

    return decorator


def _role_message(roles) -> str:
    if set(roles) == {"instructor"}:
        return ("Only instructors can do this. Save a Canvas token with teacher access in "
                "Settings to become an instructor.")
    if set(roles) == {"admin"}:
        return "Only administrators can do this."
    return f"This requires one of these roles: {', '.join(sorted(roles))}."


def current_user() -> dict:
    user = g.get("user")
    if user is None:
        raise Unauthorized("Please sign in to continue.", error="token_missing")
    return user


def is_admin(user: dict | None = None) -> bool:
    return (user or current_user()).get("role") == "admin"


def tenant_db(user: dict | None = None):
    """The database scoped to the (signed-in) user's Canvas host."""
    from knowgap.core.tenancy import scoped

    svc = services()
    return scoped(svc.db, store.user_host(user or current_user(), svc.config))


def user_gateway(user: dict | None = None):
    """The Canvas gateway for ``user`` (default: the signed-in user), memoised per request."""
    from knowgap.canvas.gateway import CanvasGateway

    user = user or current_user()
    uid = str(user["_id"])
    cache = g.setdefault("_auth_gateways", {})
    if uid in cache:
        return cache[uid]
    stored = user.get("canvas_token_enc")
    if not stored:
        raise BadRequest("Add your Canvas API token in Settings first.",
                         error="canvas_token_missing")
    svc = services()
    token = svc.cipher.decrypt(stored, owner=uid)
    gateway = SessionSafeGateway(
        CanvasGateway(svc, token, base_url=user.get("canvas_base_url")))
    cache[uid] = gateway
    return gateway


class SessionSafeGateway:
    """Wraps a ``CanvasGateway`` so a rejected *Canvas* token is a 400, not a 401.

    The web app treats every 401 as "your AchieveUp session ended" and logs the user out; a
    stale Canvas token would then lock the user out of the Settings page where they could fix
    it. Same error code and message (``canvas_token_invalid``), status 400. Every other
    attribute (``last_stale``, ``run``...) passes through.
    """

    def __init__(self, gateway):
        self._gateway = gateway

    def __getattr__(self, name):
        value = getattr(self._gateway, name)
        if not callable(value):
            return value

        @functools.wraps(value)
        def call(*args, **kwargs):
            try:
                return value(*args, **kwargs)
            except AppError as exc:
                if exc.status == 401:
                    raise AppError(exc.message, error=exc.error or "canvas_token_invalid",
                                   status=400) from exc
                raise

        return call

    @property
    def wrapped(self):
        return self._gateway


def _memo(name: str, key, compute):
    cache = g.setdefault(name, {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def taught_course_ids(user: dict | None = None) -> set[str]:
    """Ids (strings) of the courses where Canvas shows ``user`` as teacher, TA or designer."""
    from knowgap.canvas.roles import is_instructor_of

    user = user or current_user()

    def compute() -> set[str]:
        gateway = user_gateway(user)
        ids = {str(c["id"]) for c in gateway.teacher_courses() or [] if c.get("id") is not None}
        ids |= {str(c["id"]) for c in gateway.courses() or []
                if c.get("id") is not None and is_instructor_of(c)}
        return ids

    return _memo("_auth_taught", str(user["_id"]), compute)


def _teaches(user: dict, course_id: str) -> bool:
    from knowgap.canvas.roles import is_instructor_of

    gateway = user_gateway(user)
    memo = g.setdefault("_auth_taught", {})
    if str(user["_id"]) in memo:
        return course_id in memo[str(user["_id"])]
    # Cheapest first: the teacher list answers most calls; TA/designer courses need /courses.
    if any(str(c.get("id")) == course_id for c in gateway.teacher_courses() or []):
        return True
    return any(str(c.get("id")) == course_id and is_instructor_of(c)
               for c in gateway.courses() or [])


def require_course_instructor(course_id) -> None:
    user = current_user()
    if is_admin(user):
        return
    if not _teaches(user, str(course_id)):
        raise Forbidden("You do not teach this course in Canvas, so you cannot view or change "
                        "it.", error="not_course_instructor")


def _student_ids(gateway, course_id: str) -> set[str]:
    from knowgap.canvas.roles import enrollment_user_id

    def compute() -> set[str]:
        ids = {enrollment_user_id(item) for item in gateway.students(course_id) or []}
        ids.discard(None)
        return ids

    return _memo("_auth_students", (id(gateway), course_id), compute)


def require_student_access(student_id, course_id=None) -> None:
    user = current_user()
    if is_admin(user):
        return
    sid = str(student_id)
    own = user.get("canvas_user_id")
    if own is not None and sid == str(own):
        return
    if user.get("role") == "instructor":
        if course_id is not None:
            require_course_instructor(course_id)
            return
        gateway = user_gateway(user)
        for cid in sorted(taught_course_ids(user)):
            if sid in _student_ids(gateway, cid):
                return
        raise Forbidden("This student is not enrolled in any course you teach.",
                        error="forbidden_student")
    raise Forbidden("You can only view your own progress.", error="forbidden_student")
