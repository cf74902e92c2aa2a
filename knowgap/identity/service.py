"""Who is calling: the caller's Canvas user and roles, proven by their own Canvas token.

The KnowGap extension has no login of its own; it sends the user's Canvas token. So each
request is checked with Canvas (``/users/self`` and the caller's enrollments in the course),
and the answer is cached for a few minutes per token fingerprint in ``knowgap_identity_cache``
so a page that fires ten calls does not cost twenty Canvas requests. Freshness is an explicit
``expires_at`` compared at read time (no TTL index: TTL deletion runs once a minute at best and
not at all in the embedded engine). The cache stores the fingerprint, never the token.

Order of checks (each request): the Canvas host against the allow-list (before any request),
a token is present, the token is valid (``/users/self``), then the caller's roles in the course.
"""
from __future__ import annotations

import asyncio
import datetime as dt

from knowgap.core.clock import aware, utcnow
from dataclasses import dataclass, field, replace

from knowgap.canvas.errors import CanvasNotFound, CanvasPermissionDenied, CanvasTokenInvalid
from knowgap.canvas.hosts import canvas_base_url, canvas_host
from knowgap.canvas.roles import INSTRUCTOR_TYPES, course_roles
from knowgap.core.crypto import token_fingerprint
from knowgap.core.errors import Forbidden, Unauthorized
from knowgap.core.schemas import plausible_canvas_token
from knowgap.core.tenancy import scoped, where
from knowgap.identity.canvas_access import CanvasAccess

IDENTITY_CACHE = "knowgap_identity_cache"
CACHE_MINUTES = 5
#: The 401 of every KnowGap call made without a Canvas token: what exactly to send.
TOKEN_MISSING_MESSAGE = ("This call needs your Canvas access token: send the header "
                         "'Authorization: Bearer <Canvas token>' or 'access_token' in the JSON "
                         "body.")


@dataclass(frozen=True)
class Caller:
    """The verified caller. ``roles`` are for ``course_id`` (empty when no course given)."""

    user_id: str
    name: str
    base_url: str
    token: str = field(repr=False)
    course_id: str | None = None
    roles: frozenset = frozenset()

    @property
    def is_instructor(self) -> bool:
        return bool(self.roles & INSTRUCTOR_TYPES)

    @property
    def canvas_host(self) -> str:
        """The tenant every record the caller reads or writes belongs to."""
        return canvas_host(self.base_url)

    def canvas(self, config, *, deadline: float | None = None) -> CanvasAccess:
        return CanvasAccess(self.base_url, self.token, config, deadline=deadline)


# ------------------------------------------------------------------ cache
def _cache_get(db, fp: str, scope: str):
    doc = db[IDENTITY_CACHE].find_one(where(db, fingerprint=fp, scope=scope))
    if doc and aware(doc.get("expires_at")) and aware(doc["expires_at"]) > utcnow():
        return doc.get("data")
    return None


def _cache_put(db, fp: str, scope: str, data) -> None:
    now = utcnow()
    db[IDENTITY_CACHE].update_one(
        where(db, fingerprint=fp, scope=scope),
        {"$set": {"data": data, "cached_at": now,
                  "expires_at": now + dt.timedelta(minutes=CACHE_MINUTES)}},
        upsert=True)


def forget_token(db, token: str) -> None:
    """Drop cached identity for a token (e.g. Canvas said it is invalid)."""
    db[IDENTITY_CACHE].delete_many({"fingerprint": token_fingerprint(token)})


# ------------------------------------------------------------------ Canvas
async def _fetch_self(client) -> dict:
    me = await client.get_self()
    return {"id": str(me.get("id")), "name": me.get("name") or me.get("short_name") or ""}


async def _fetch_roles(client, course_id: str) -> list[str]:
    try:
        enrollments = await client.list_enrollments(course_id, user_id="self")
    except (CanvasPermissionDenied, CanvasNotFound):
        return []
    return sorted(course_roles(enrollments))


def resolve_caller(svc, token: str | None, link: str | None = None,
                   course_id: str | None = None) -> Caller:
    """Verify ``token`` with Canvas at ``link`` (default host when None) and load roles.

    Raises 403 ``canvas_host_not_allowed`` before any request for a foreign host, 401 when the
    token is missing or Canvas rejects it, 403 ``not_enrolled`` when ``course_id`` is given and
    the caller has no active enrollment there.
    """
    base_url = canvas_base_url(link, svc.config)
    if not token or not isinstance(token, str):
        raise Unauthorized(TOKEN_MISSING_MESSAGE, error="canvas_token_missing")
    if not plausible_canvas_token(token):
        # Never send it: control characters in a header are refused by the HTTP client.
        raise Unauthorized(CanvasTokenInvalid.message, error="canvas_token_invalid")
    fp = token_fingerprint(token)
    db = scoped(svc.db, canvas_host(base_url))
    me = _cache_get(db, fp, "self")
    roles = _cache_get(db, fp, f"course:{course_id}") if course_id else []
    if me is None or roles is None:
        access = CanvasAccess(base_url, token, svc.config,
                              deadline=svc.config.canvas_timeout_seconds)

        async def fetch(client):
            tasks = [_fetch_self(client) if me is None else None,
                     _fetch_roles(client, course_id) if roles is None else None]
            done = await asyncio.gather(*[t for t in tasks if t is not None])
            it = iter(done)
            return tuple(next(it) if t is not None else None for t in tasks)

        new_me, new_roles = access.run(fetch)
        if new_me is not None:
            me = new_me
            _cache_put(db, fp, "self", me)
        if new_roles is not None:
            roles = new_roles
            _cache_put(db, fp, f"course:{course_id}", roles)
    caller = Caller(user_id=me["id"], name=me.get("name", ""), base_url=base_url, token=token)
    if course_id:
        caller = replace(caller, course_id=str(course_id), roles=frozenset(roles or ()))
        if not caller.roles:
            raise Forbidden(f"You are not enrolled in course {course_id} in Canvas.",
                            error="not_enrolled")
    return caller


def with_course(svc, caller: Caller, course_id: str) -> Caller:
    """The same caller with roles loaded for ``course_id`` (cached like the rest)."""
    if caller.course_id == str(course_id):
        return caller
    return resolve_caller(svc, caller.token, caller.base_url, course_id)


# ------------------------------------------------------------------ authorization
def require_instructor(caller: Caller) -> None:
    if not caller.is_instructor:
        raise Forbidden("Only the course's teachers, TAs and designers can do this.",
                        error="instructor_required")


def require_self(caller: Caller, student_id) -> None:
    """Students act only on their own records: ``student_id`` must be the caller's id."""
    if student_id is not None and str(student_id) != caller.user_id:
        raise Forbidden("You can only act on your own records.", error="not_your_record")


def require_self_or_instructor(caller: Caller, student_id) -> None:
    """Own records, or any student's in a course the caller teaches."""
    if student_id is None or str(student_id) == caller.user_id:
        return
    if not caller.is_instructor:
        raise Forbidden("You can only see your own records.", error="not_your_record")
