"""``CanvasClient``: the one way this service talks to Canvas's REST API.

Why it looks like this:
- One ``aiohttp.ClientSession`` per ``async with`` block (a "run"): connections are reused
  within a sync and nothing leaks between users or event loops.
- Every list is fetched with ``per_page=100`` and its ``Link: rel="next"`` URL is followed
  verbatim (Canvas page tokens are opaque bookmarks), but only to the same origin as the base
  URL: a next link to another host is refused so pagination cannot be used to send our
  ``Authorization`` header elsewhere.
- The base URL is checked against the host allow-list in the constructor, before any request.
- Redirects are followed by hand, never by aiohttp: an API call follows one only on the Canvas
  origin (a redirect elsewhere is refused: it would carry the token, or feed us another
  server's answer as Canvas'); a download (``get_url``: report files, Progress URLs) may also
  go to a file host on ``config.canvas_file_hosts``, over https and without the token.
- Throttling (``403 ... Rate Limit Exceeded`` / ``429``) is "slow down", never "forbidden":
  retried with exponential backoff + jitter (honouring ``Retry-After``) while the adaptive
  window (``throttle.AdaptiveLimiter``) shrinks; at most ``canvas_max_concurrency`` (≤ 12)
  requests are in flight per token.
- 5xx, timeouts and connection resets are retried ``canvas_max_retries`` times; then
  ``CanvasUnavailable``. Other statuses map to the errors in ``knowgap.canvas.errors``.
- The token is never logged; log lines carry the first 12 hex digits of its fingerprint.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import logging
import random
import re
import time
from collections import Counter
from typing import Any, Callable, Iterable
from urllib.parse import urlencode

import aiohttp
import orjson
from yarl import URL

from knowgap.canvas.errors import (CanvasBadRequest, CanvasBadResponse, CanvasConflict,
                                   CanvasNotFound, CanvasPermissionDenied, CanvasTokenInvalid,
                                   CanvasUnavailable)
from knowgap.canvas.hosts import canvas_base_url, download_allowed, same_origin
from knowgap.canvas.throttle import AdaptiveLimiter, TokenSlots
from knowgap.core.crypto import token_fingerprint
from knowgap.core.schemas import plausible_canvas_token

log = logging.getLogger("knowgap.canvas")

API_PREFIX = "/api/v1"
NEW_QUIZZES_PREFIX = "/api/quiz/v1"           # New Quizzes (quiz_lti) API on the same host
MAX_REDIRECTS = 3
PER_PAGE = 100
HARD_MAX_CONCURRENCY = 12          # Canvas: 600 high-water / 50 up-front ≈ 12 per token
MAX_PAGES = 10_000                 # a loop guard, far above any real list
THROTTLE_MARKER = b"rate limit exceeded"

Params = dict[str, Any] | Iterable[tuple[str, Any]] | None

#: Requests made while this is set go ahead of others waiting for the window (``urgent``).
_URGENT: contextvars.ContextVar[bool] = contextvars.ContextVar("canvas_urgent", default=False)


@contextlib.contextmanager
def urgent():
    """Within this block (in the current task) requests jump the client's queue: for short
    chains that Canvas itself makes us wait on, like a report's Progress polls, which would
    otherwise queue behind long lists started earlier."""
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


class _Throttled(Exception):
    def __init__(self, retry_after: float | None, waits_for_others: bool = False):
        self.retry_after = retry_after
        self.waits_for_others = waits_for_others     # the limiter holds it until one finishes


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _pairs(params: Params) -> list[tuple[str, str]]:
    """Query pairs; list values repeat the key (``include[]=a&include[]=b``)."""
    if not params:
        return []
    items = params.items() if isinstance(params, dict) else params
    out: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple, set)) else [value]
        for v in values:
            out.append((key, "true" if v is True else "false" if v is False else str(v)))
    return out


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}

_LINK_RE = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]*)*)')


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, exactly as sent."""
    if not header:
        return None
    for match in _LINK_RE.finditer(header):
        url, attrs = match.group(1), match.group(2)
        for attr in attrs.split(";"):
            name, _, value = attr.strip().partition("=")
            if name.strip().lower() == "rel" and "next" in value.strip().strip('"').split():
                return url.strip()
    return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _float_header(headers, name: str) -> float | None:
    try:
        return float(headers.get(name))
    except (TypeError, ValueError):
        return None


class CanvasClient:
    """Async Canvas API client; use as ``async with CanvasClient(base, token, config=cfg) as c``.

    Keyword overrides (tests, benchmarks, long jobs): ``max_concurrency`` (capped at
    ``config.canvas_max_concurrency`` and 12), ``max_retries``, ``request_timeout`` (seconds per
    attempt; default half of ``canvas_timeout_seconds``), ``backoff_base`` / ``backoff_cap``
    (seconds), ``throttle_retries`` (budget for rate-limit retries, separate from
    ``max_retries`` because throttling is expected under load and is not a failure) and
    ``throttle_backoff`` (its first delay: a throttled request usually only has to wait for
    one of ours to finish, which returns its up-front cost to the bucket).
    """

    def __init__(self, base_url: str | None, token: str, *, config, max_concurrency: int | None = None,
                 max_retries: int | None = None, request_timeout: float | None = None,
                 backoff_base: float = 0.25, backoff_cap: float = 8.0,
                 throttle_retries: int | None = None, throttle_backoff: float = 0.1,
                 initial_concurrency: int | None = None):
        self.origin = canvas_base_url(base_url, config)          # refuses before any request
        if not plausible_canvas_token(token):     # also keeps header injection out
            raise CanvasTokenInvalid()
        self.api_root = self.origin + API_PREFIX
        self._token = token
        self.fingerprint = token_fingerprint(token)
        self.fp = self.fingerprint[:12]
        self._file_hosts = tuple(config.canvas_file_hosts)
        cap = min(HARD_MAX_CONCURRENCY, max(1, int(config.canvas_max_concurrency)))
        self.max_concurrency = min(cap, max_concurrency) if max_concurrency else cap
        self.max_retries = config.canvas_max_retries if max_retries is None else max_retries
        self.throttle_retries = (max(20, 4 * self.max_retries) if throttle_retries is None
                                 else throttle_retries)
        self.request_timeout = request_timeout or max(1.0, config.canvas_timeout_seconds / 2)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.throttle_backoff = throttle_backoff
        self._initial = initial_concurrency
        self.limiter: AdaptiveLimiter | None = None
        self._session: aiohttp.ClientSession | None = None
        self.stats: Counter = Counter()

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> "CanvasClient":
        self.limiter = AdaptiveLimiter(self.max_concurrency, initial=self._initial)
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                     "User-Agent": "KnowGap-AchieveUp/1.0"},
            connector=aiohttp.TCPConnector(limit=self.max_concurrency + 2, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            raise_for_status=False, trust_env=False)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def __repr__(self) -> str:                    # never show the token
        return f"CanvasClient({self.origin!r}, token=fp:{self.fp})"

    # ------------------------------------------------------------------ core
    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        path = path_or_url if path_or_url.startswith("/") else "/" + path_or_url
        if path.startswith((API_PREFIX + "/", NEW_QUIZZES_PREFIX + "/")):
            return self.origin + path
        return self.api_root + path

    def _backoff(self, attempt: int, retry_after: float | None = None,
                 base: float | None = None) -> float:
        base = self.backoff_base if base is None else base
        delay = min(self.backoff_cap, base * (2 ** attempt))
        delay = delay / 2 + random.uniform(0, delay / 2)          # "equal jitter"
        if retry_after is not None:
            delay = max(delay, min(retry_after, 60.0))
        return delay

    async def _request_once(self, url, params, method: str = "GET", data: list | None = None,
                            raw: bool = False, *,
                            download: bool = False) -> tuple[Any, str | None]:
        """One HTTP exchange inside the concurrency window: (json, next link) or raise; with
        ``raw`` the body's bytes instead of its JSON (a report file may be CSV).

        A POST's ``data`` pairs are sent form-encoded (``a[b]=c``), as Canvas expects: the New
        Quizzes Reports API answers a JSON body with 400.

        A redirect is followed by hand (``_follow``): on the Canvas origin with the token, and
        for a ``download`` to an allowed file host without it; anywhere else it is refused."""
        assert self._session is not None and self.limiter is not None, "use `async with`"
        admitted = await self.limiter.acquire(_URGENT.get())
        await TokenSlots.acquire(self.fingerprint, self.max_concurrency)
        started = time.perf_counter()
        status: Any = "error"
        others: int | None = None
        headers: Any = {}
        body = b""
        try:
            self.stats["requests"] += 1
            form = None if data is None else urlencode(data).encode()
            async with self._session.request(
                    method, url, params=params or None, data=form, allow_redirects=False,
                    headers=None if form is None else _FORM) as resp:
                others = self.limiter.others(admitted)      # ours in flight as it settled
                status = resp.status
                headers = resp.headers
                body = await resp.read()
                if status in (301, 302, 303, 307, 308) and method == "GET":
                    body = await self._follow(URL(str(resp.url)), headers.get("Location"),
                                              download=download)
                    status = 200
        except asyncio.TimeoutError:
            raise _Transient("timeout") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, ConnectionError) as exc:
            raise _Transient(type(exc).__name__) from None
        finally:
            TokenSlots.release(self.fingerprint)
            # Update the bucket model before the slot is released, so the waiters woken by
            # the release see the new window.
            throttled = status == 429 or (status == 403 and THROTTLE_MARKER in body[:500].lower())
            remaining = _float_header(headers, "X-Rate-Limit-Remaining")
            if throttled:
                self.limiter.on_throttle(admitted, remaining)
            elif isinstance(status, int) and status < 500:
                self.limiter.on_response(remaining, admitted,
                                         _float_header(headers, "X-Request-Cost"), others)
            await self.limiter.release(admitted)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("canvas GET %s -> %s in %.0f ms (token fp %s)", URL(str(url)).path,
                          status, (time.perf_counter() - started) * 1000, self.fp)
        self.stats[f"status_{status}"] += 1
        if throttled:
            self.stats["throttled"] += 1
            raise _Throttled(_retry_after(headers.get("Retry-After")),
                             waits_for_others=self.limiter.in_flight > 0)
        if 200 <= status < 300:
            if raw:
                return body, None
            if not body.strip():
                return None, next_link(headers.get("Link"))
            try:
                data = orjson.loads(body)        # several times faster than json on big pages
            except orjson.JSONDecodeError:
                raise CanvasBadResponse() from None
            return data, next_link(headers.get("Link"))
        if status == 401:
            if "WWW-Authenticate" in headers:
                raise CanvasTokenInvalid()
            raise CanvasPermissionDenied()
        if status == 403:
            raise CanvasPermissionDenied()
        if status == 404:
            raise CanvasNotFound()
        if status == 409:
            raise CanvasConflict()
        if status >= 500 or status == 408:
            raise _Transient(f"HTTP {status}", _retry_after(headers.get("Retry-After")))
        if status == 400:
            raise CanvasBadRequest()
        raise CanvasBadResponse(f"Canvas refused the request (HTTP {status}). "
                                "Please try again later or contact support.")

    async def _follow(self, current: URL, location: str | None, *, download: bool) -> bytes:
        """The body at the end of the redirects (see ``_request_once``)."""
        for _ in range(MAX_REDIRECTS):
            if not location:
                raise CanvasBadResponse()
            target = current.join(URL(location))
            own = same_origin(str(target), self.origin)
            if not own and not (download and download_allowed(str(target), self.origin,
                                                              self._file_hosts)):
                log.warning("canvas redirect to %s refused (token fp %s)",
                            "a file host not allowed" if download else "another host", self.fp)
                raise CanvasBadResponse("Canvas redirected the request to a host this server "
                                        "does not fetch from; it was stopped for safety.")
            # storage hosts get a session of their own: the Canvas token stays on Canvas
            async with contextlib.AsyncExitStack() as stack:
                session = self._session if own else await stack.enter_async_context(
                    aiohttp.ClientSession(timeout=self._session.timeout, trust_env=False))
                resp = await stack.enter_async_context(
                    session.get(target, allow_redirects=False))
                if resp.status in (301, 302, 303, 307, 308):
                    current, location = target, resp.headers.get("Location")
                    continue
                if resp.status >= 500:
                    raise _Transient(f"HTTP {resp.status}")
                if resp.status >= 400:
                    raise CanvasBadResponse(f"Canvas could not hand over a file (HTTP "
                                            f"{resp.status}). Please try again later.")
                return await resp.read()
        raise CanvasBadResponse("Canvas redirected a download too many times.")

    async def _request(self, url, params=None, method: str = "GET", data: list | None = None,
                       raw: bool = False, *,
                       download: bool = False) -> tuple[Any, str | None]:
        """``_request_once`` with throttling and transient-failure retries."""
        failures = throttles = 0
        while True:
            try:
                return await self._request_once(url, params, method, data, raw,
                                                download=download)
            except _Throttled as exc:
                throttles += 1
                if throttles > self.throttle_retries:
                    log.warning("canvas throttled %d times on %s (token fp %s); giving up",
                                throttles, URL(str(url)).path, self.fp)
                    raise CanvasUnavailable("Canvas is rate-limiting requests right now. "
                                            "Please try again in a few minutes.") from None
                self.stats["retries"] += 1
                if exc.waits_for_others and exc.retry_after is None and throttles <= 3:
                    # The window now equals our requests in flight: acquire() waits until one
                    # finishes and returns its up-front cost to the bucket. Yield once only.
                    await asyncio.sleep(0)
                else:
                    await asyncio.sleep(self._backoff(min(throttles - 1, 6), exc.retry_after,
                                                      self.throttle_backoff))
            except _Transient as exc:
                failures += 1
                if failures > self.max_retries:
                    log.warning("canvas %s on %s after %d attempts (token fp %s)", exc.reason,
                                URL(str(url)).path, failures, self.fp)
                    raise CanvasUnavailable() from None
                self.stats["retries"] += 1
                await asyncio.sleep(self._backoff(failures - 1, exc.retry_after))

    # ------------------------------------------------------------------ public API
    async def get(self, path: str, params: Params = None) -> Any:
        """GET one resource (or one page) and return its JSON."""
        data, _ = await self._request(self._url(path), _pairs(params))
        return data

    async def get_all(self, path: str, params: Params = None, *, key: str | None = None,
                      on_page: Callable[[list], None] | None = None) -> list:
        """GET every page of a list (``per_page=100``, ``Link: rel="next"`` verbatim).

        ``key`` unwraps object pages such as ``{"quiz_submissions": [...]}``.
        """
        pairs = [p for p in _pairs(params) if p[0] != "per_page"] + [("per_page", str(PER_PAGE))]
        url: Any = self._url(path)
        query: list | None = pairs
        items: list = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            data, nxt = await self._request(url, query)
            page = data.get(key, []) if key and isinstance(data, dict) else data
            if page is None:
                page = []
            if not isinstance(page, list):
                raise CanvasBadResponse()
            items.extend(page)
            if on_page is not None:
                on_page(page)
            if not nxt or not page:
                return items
            if not same_origin(nxt, self.origin):
                log.warning("canvas pagination link to another origin refused (token fp %s)", self.fp)
                raise CanvasBadResponse("Canvas sent a pagination link to another host; "
                                        "the request was stopped for safety.")
            if nxt in seen:
                return items                       # a server looping on itself
            seen.add(nxt)
            url, query = URL(nxt, encoded=True), None
        return items

    async def post(self, path: str, data: Params = None) -> Any:
        """POST a form (``a[b]=c`` pairs, as Canvas expects) and return the JSON answer."""
        return (await self._request(self._url(path), None, "POST", _pairs(data)))[0]

    async def get_url(self, url: str, *, raw: bool = False) -> Any:
        """GET an absolute URL Canvas handed out (a Progress or a report file), only on the
        Canvas origin (a path is taken on it); redirects to the file hosts of
        ``config.canvas_file_hosts`` are followed without the token. ``raw``: the body's bytes
        (a report file in CSV form is not JSON)."""
        url = self._url(url)
        if not same_origin(url, self.origin):
            raise CanvasBadResponse("Canvas pointed to a file on another host; the request was "
                                    "stopped for safety.")
        return (await self._request(URL(url, encoded=True), raw=raw, download=True))[0]

    # ------------------------------------------------------------------ typed helpers
    async def get_self(self) -> dict:
        return await self.get("/users/self")

    async def list_courses(self, **filters) -> list:
        """``GET /courses`` (the caller's courses, each with its ``enrollments``)."""
        params = {"enrollment_state": "active", **filters}
        return await self.get_all("/courses", params)

    async def list_teacher_courses(self) -> list:
        return await self.get_all("/courses", {"enrollment_type": "teacher",
                                               "include[]": ["total_students", "term"]})

    async def get_course(self, course_id) -> dict:
        return await self.get(f"/courses/{_id(course_id)}", {"include[]": ["syllabus_body"]})

    async def list_quizzes(self, course_id) -> list:
        return await self.get_all(f"/courses/{_id(course_id)}/quizzes")

    async def list_questions(self, course_id, quiz_id) -> list:
        return await self.get_all(f"/courses/{_id(course_id)}/quizzes/{_id(quiz_id)}/questions")

    async def list_new_quizzes(self, course_id) -> list:
        """New Quizzes of the course (``NewQuiz`` objects; ``id`` is the assignment id)."""
        return await self.get_all(f"{NEW_QUIZZES_PREFIX}/courses/{_id(course_id)}/quizzes")

    async def list_new_quiz_items(self, course_id, assignment_id) -> list:
        return await self.get_all(f"{NEW_QUIZZES_PREFIX}/courses/{_id(course_id)}/quizzes/"
                                  f"{_id(assignment_id)}/items")

    async def create_new_quiz_report(self, course_id, assignment_id,
                                     report_type: str = "student_analysis",
                                     report_format: str = "json") -> dict:
        """Start a New Quizzes report (form-encoded); Canvas answers 201 with the Progress
        object wrapped as ``{"progress": {...}}`` (409: one is being made; 400: that type or
        format is refused)."""
        return await self.post(
            f"{NEW_QUIZZES_PREFIX}/courses/{_id(course_id)}/quizzes/{_id(assignment_id)}/reports",
            {"quiz_report[report_type]": report_type, "quiz_report[format]": report_format})

    async def list_students(self, course_id) -> list:
        """Student enrollments with ``user`` and ``grades``."""
        return await self.get_all(f"/courses/{_id(course_id)}/enrollments",
                                  {"type[]": ["StudentEnrollment"], "include[]": ["user"]})

    async def list_enrollments(self, course_id, user_id=None, types=None) -> list:
        params: dict = {}
        if user_id is not None:
            params["user_id"] = user_id if user_id == "self" else _id(user_id)
        if types:
            params["type[]"] = list(types)
        return await self.get_all(f"/courses/{_id(course_id)}/enrollments", params)

    async def list_submissions_with_history(self, course_id, assignment_ids, graded_since=None,
                                            student_ids=("all",)) -> list:
        """Per-question results: ``students/submissions`` with ``submission_history``."""
        params: dict = {"student_ids[]": [str(s) if s == "all" else _id(s) for s in student_ids],
                        "assignment_ids[]": [_id(a) for a in assignment_ids],
                        "include[]": ["submission_history"]}
        if graded_since:
            params["graded_since"] = graded_since
        return await self.get_all(f"/courses/{_id(course_id)}/students/submissions", params)


_ID_RE = re.compile(r"^[A-Za-z0-9_.:~-]{1,64}$")


def _id(value) -> str:
    """A path segment from an id; refuses anything that could change the path (``../``, ``?``)."""
    text = str(value)
    if isinstance(value, bool) or not _ID_RE.match(text) or text in {".", ".."}:
        raise CanvasNotFound("That Canvas id is not valid. Check the id and try again.")
    return text
