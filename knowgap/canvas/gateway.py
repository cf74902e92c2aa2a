"""``CanvasGateway``: the synchronous, Mongo-cached Canvas facade for views and services.

Why a cache: every AchieveUp/KnowGap page asks Canvas the same questions (my courses, this
course's quizzes) and Canvas throttles per token, so answers are kept in
``AchieveUp_Canvas_Cache`` as ``{canvas_host, scope, key, data, fetched_at}`` where ``scope``
is the token's fingerprint (one user's cache can never answer for another token), ``key`` names
the question (including the Canvas origin) and ``canvas_host`` is the tenant of every stored
record (``knowgap.core.tenancy``). Within ``config.canvas_cache_ttl_seconds`` no request
is made.

Why serve stale: when Canvas is down or slow (``CanvasUnavailable``, ``CanvasBadResponse``,
deadline exceeded) an older copy is more useful than an error, so it is returned,
``gateway.last_stale`` is set and, inside a request, ``g.canvas_stale = True`` (rendered as
``X-Cache-Stale: true``). A bad token or a permission error is never masked by the cache: the
user must act on those.

Every call runs on a fresh event loop with the ``config.canvas_timeout_seconds`` deadline
(``runner.run_sync``), so a view never blocks forever.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from knowgap.canvas import quiz_sources
from knowgap.canvas.client import CanvasClient
from knowgap.canvas.errors import TRANSIENT, CanvasError, CanvasTokenInvalid
from knowgap.canvas.hosts import canvas_base_url, canvas_host
from knowgap.canvas.roles import enrollment_user_id, is_instructor_of
from knowgap.canvas.runner import run_sync
from knowgap.core.clock import aware, utcnow
from knowgap.core.crypto import token_fingerprint

log = logging.getLogger("knowgap.canvas")

CACHE = "AchieveUp_Canvas_Cache"


def _mark_stale() -> None:
    try:
        from flask import g, has_request_context
    except ImportError:                          # pragma: no cover
        return
    if has_request_context():
        g.canvas_stale = True


class CanvasGateway:
    """``CanvasGateway(services, token, base_url=None, **client_kwargs)``.

    ``base_url`` is a Canvas host or URL (checked against the allow-list here, before any
    request); ``None`` means ``config.canvas_base_url``. ``client_kwargs`` go to every
    ``CanvasClient`` (tests use them for short backoffs).
    """

    def __init__(self, services, token: str, base_url: str | None = None, **client_kwargs):
        self.services = services
        self.config = services.config
        self.origin = canvas_base_url(base_url, self.config)
        self.canvas_host = canvas_host(self.origin)
        self._token = token
        self.scope = token_fingerprint(token)
        self.client_kwargs = client_kwargs
        self.last_stale = False
        self.requests_made = 0

    def __repr__(self) -> str:
        return f"CanvasGateway({self.origin!r}, token=fp:{self.scope[:12]})"

    # ------------------------------------------------------------------ running
    def client(self, **overrides) -> CanvasClient:
        """A new (not yet entered) async client for this token and host."""
        return CanvasClient(self.origin, self._token, config=self.config,
                            **{**self.client_kwargs, **overrides})

    def run(self, coro_factory: Callable[[CanvasClient], Awaitable[Any]], *,
            timeout: float | None = None) -> Any:
        """Run ``await coro_factory(client)`` with a fresh client and the deadline
        (``timeout`` or ``config.canvas_timeout_seconds``; long jobs pass their own)."""
        async def main():
            client = self.client()
            try:
                async with client:
                    return await coro_factory(client)
            finally:
                self.requests_made += client.stats["requests"]

        return run_sync(main, timeout=timeout or self.config.canvas_timeout_seconds)

    # ------------------------------------------------------------------ cache
    @property
    def _cache(self):
        return self.services.db[CACHE]

    def cached(self, key: str, fetch: Callable[[CanvasClient], Awaitable[Any]], *,
               ttl: float | None = None, refresh: bool = False) -> Any:
        """Cached result of ``fetch(client)`` under ``key`` (see module docstring)."""
        self.last_stale = False
        full_key = f"{self.origin}|{key}"
        doc = self._cache.find_one(self._where(key=full_key))
        if doc and not refresh and self._fresh(doc, ttl):
            return doc["data"]
        try:
            data = self.run(fetch)
        except TRANSIENT as exc:
            if doc is None:
                raise
            return self._stale(key, doc, exc)
        self._save(full_key, data)
        return data

    def cached_many(self, fetches: dict[str, Callable[[CanvasClient], Awaitable[Any]]], *,
                    ttl: float | None = None, fields: tuple[str, ...] = ()) -> dict[str, Any]:
        """``{key: data}`` for several keys, each cached as by ``cached``.

        Fresh copies come from one cache query; the other keys are fetched concurrently in
        one run (one client, one deadline), so N cold keys cost one round of requests rather
        than N runs one after another, and a Canvas outage costs one retry cycle, not N. A key
        whose fetch failed maps to its stale copy (transient failures, as in ``cached``), else
        to the ``CanvasError`` itself, for the caller to fall back on; a rejected token
        (``CanvasTokenInvalid``) is raised, since the user must act on it.

        ``fields``: read only these fields of the cached data (of each item, for lists), for
        callers that need a few fields of large lists; answers fetched now come whole.
        """
        self.last_stale = False
        full_keys = {key: f"{self.origin}|{key}" for key in fetches}
        projection = ({"key": 1, "fetched_at": 1, **{f"data.{f}": 1 for f in fields}}
                      if fields else None)
        docs = {d["key"]: d for d in self._cache.find(
            self._where(key={"$in": list(full_keys.values())}), projection)}
        out: dict[str, Any] = {}
        missing = []
        for key, full_key in full_keys.items():
            doc = docs.get(full_key)
            if doc and self._fresh(doc, ttl):
                out[key] = doc["data"]
            else:
                missing.append(key)
        if not missing:
            return out

        async def fetch_missing(client):
            return await asyncio.gather(*(fetches[key](client) for key in missing),
                                        return_exceptions=True)

        try:
            results = self.run(fetch_missing)
        except TRANSIENT as exc:                 # the deadline: every pending fetch stopped
            results = [exc] * len(missing)
        for key, result in zip(missing, results):
            doc = docs.get(full_keys[key])
            if isinstance(result, CanvasTokenInvalid) or (
                    isinstance(result, BaseException) and not isinstance(result, CanvasError)):
                raise result
            if isinstance(result, TRANSIENT) and doc is not None:
                out[key] = self._stale(key, doc, result)
            elif isinstance(result, CanvasError):
                out[key] = result
            else:
                self._save(full_keys[key], result)
                out[key] = result
        return out

    def _fresh(self, doc: dict, ttl: float | None) -> bool:
        ttl = self.config.canvas_cache_ttl_seconds if ttl is None else ttl
        age = (utcnow() - aware(doc["fetched_at"])).total_seconds()
        return ttl > 0 and 0 <= age < ttl

    def _where(self, **fields) -> dict:
        return {"canvas_host": self.canvas_host, "scope": self.scope, **fields}

    def _save(self, full_key: str, data: Any) -> None:
        self._cache.update_one(self._where(key=full_key),
                               {"$set": {"data": data, "fetched_at": utcnow()}}, upsert=True)

    def _stale(self, key: str, doc: dict, exc) -> Any:
        log.warning("canvas %s for %s (token fp %s); serving cached copy from %s",
                    exc.error, key, self.scope[:12], doc["fetched_at"])
        self.last_stale = True
        _mark_stale()
        return doc["data"]

    def invalidate(self, key_prefix: str = "") -> int:
        """Forget cached answers for this token (all, or keys starting with ``key_prefix``)."""
        query: dict = self._where()
        if key_prefix:
            import re
            query["key"] = {"$regex": "^" + re.escape(f"{self.origin}|{key_prefix}")}
        return self._cache.delete_many(query).deleted_count

    # ------------------------------------------------------------------ typed, cached calls
    def self_user(self, **kw) -> dict:
        return self.cached("users/self", lambda c: c.get_self(), **kw)

    def courses(self, **kw) -> list:
        """The caller's active courses, each with its ``enrollments`` (roles)."""
        return self.cached("courses/active", lambda c: c.list_courses(), **kw)

    def teacher_courses(self, **kw) -> list:
        return self.cached("courses/teacher", lambda c: c.list_teacher_courses(), **kw)

    def instructor_courses(self, **kw) -> list:
        """Active courses where the caller is teacher, TA or designer."""
        return [c for c in self.courses(**kw) if is_instructor_of(c)]

    def course(self, cid, **kw) -> dict:
        return self.cached(f"course/{cid}", lambda c: c.get_course(cid), **kw)

    def quizzes(self, cid, **kw) -> list:
        """Classic Quizzes and New Quizzes (``nq-`` ids, see ``knowgap.canvas.new_quizzes``)."""
        return self.cached(f"course/{cid}/quizzes+new",
                           lambda c: quiz_sources.all_quizzes(c, cid), **kw)

    def questions(self, cid, qid, **kw) -> list:
        """A Classic quiz's questions or a New Quiz's items (as Classic-like questions)."""
        return self.cached(f"course/{cid}/quiz/{qid}/questions",
                           lambda c: quiz_sources.quiz_questions(c, cid, qid), **kw)

    def students(self, cid, **kw) -> list:
        """Student enrollments (``user`` and ``grades`` included)."""
        return self.cached(_students_key(cid), _list_students(cid), **kw)

    def student_ids_of(self, course_ids, **kw) -> dict[str, Any]:
        """``{course id: set of student user ids, or the CanvasError}`` for several courses,
        from the same cache entries as ``students`` (``cached_many``: one cache query reading
        only the ids, one concurrent run for the courses not cached)."""
        ids = [str(cid) for cid in course_ids]
        found = self.cached_many({_students_key(cid): _list_students(cid) for cid in ids},
                                 fields=("user_id",), **kw)
        out: dict[str, Any] = {}
        for cid in ids:
            roster = found[_students_key(cid)]
            if isinstance(roster, CanvasError):
                out[cid] = roster
            else:
                out[cid] = {uid for uid in map(enrollment_user_id, roster or []) if uid}
        return out

    def enrollments(self, cid, user_id="self", **kw) -> list:
        return self.cached(f"course/{cid}/enrollments/{user_id}",
                           lambda c: c.list_enrollments(cid, user_id=user_id), **kw)

    def student_grade(self, cid, user_id, **kw) -> dict:
        """``{current_score, final_score}`` of a student's enrollment (None when unknown)."""
        enrollments = self.cached(
            f"course/{cid}/grade/{user_id}",
            lambda c: c.list_enrollments(cid, user_id=user_id, types=["StudentEnrollment"]), **kw)
        for e in enrollments or []:
            grades = e.get("grades") or {}
            if grades:
                return {"current_score": grades.get("current_score"),
                        "final_score": grades.get("final_score")}
        return {"current_score": None, "final_score": None}


def _students_key(cid) -> str:
    return f"course/{cid}/students"


def _list_students(cid) -> Callable[[CanvasClient], Awaitable[Any]]:
    return lambda client: client.list_students(cid)
