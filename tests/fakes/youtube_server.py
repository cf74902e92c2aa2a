"""A local fake of the YouTube Data API v3 (``search.list`` and ``videos.list``).

Same machinery as the OpenAI fake (:class:`tests.fakes.openai_server.BackgroundServer`): a real
aiohttp server on a free 127.0.0.1 port in a background thread, ``asyncio.sleep`` latency so
concurrent calls overlap, a request log and a runtime-switchable ``mode``.

``base_url`` is ``http://127.0.0.1:PORT/youtube/v3`` (the real one is
``https://www.googleapis.com/youtube/v3``), so clients build ``f"{base_url}/search"``.

Endpoints:

* ``GET /youtube/v3/search?part=snippet&q=...&type=video&maxResults=N&key=K&safeSearch=strict``
  returns a ``youtube#searchListResponse`` whose items are derived deterministically from
  ``q`` (same query, same videos, across server instances). ``maxResults`` defaults to 5 and
  must be 0..50 (else 400 ``invalidParameter``, as Google does).
* ``GET /youtube/v3/videos?part=snippet&id=ID1,ID2&key=K`` returns ``youtube#videoListResponse``
  with the snippet of each id this server has produced from a search (or registered with
  :meth:`FakeYouTubeServer.add_video`); unknown ids are simply absent (empty ``items``), as on
  the real API.

Errors use Google's shape ``{"error": {"code", "message", "errors": [{message, domain,
reason}]}}``: missing ``key`` -> 400 (reason ``required``), checked before the mode errors.

Modes: "ok"; "500" (backendError); "quota" (403 ``quotaExceeded``, domain ``youtube.quota``);
"timeout" (sleeps ``timeout_sleep_s``, default 30 s, cut short by ``stop()``).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Optional

from aiohttp import web

from tests.fakes.openai_server import BackgroundServer

__all__ = ["FakeYouTubeServer", "video_id_for"]

_CHANNELS = ("Khan Academy", "CrashCourse", "MIT OpenCourseWare", "freeCodeCamp.org",
             "The Organic Chemistry Tutor", "3Blue1Brown", "Professor Dave Explains", "CS Dojo")
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_EPOCH = datetime(2015, 1, 1, tzinfo=timezone.utc)


def video_id_for(q: str, index: int) -> str:
    """The 11-character video id the fake returns at position ``index`` for query ``q``."""
    digest = hashlib.sha256(f"{q.strip().lower()}|{index}".encode("utf-8")).digest()
    return "".join(_ID_ALPHABET[b % 64] for b in digest[:11])


def _etag(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode("utf-8")).hexdigest()[:27]


def _thumbnails(video_id: str) -> dict:
    base = f"https://i.ytimg.com/vi/{video_id}"
    return {
        "default": {"url": f"{base}/default.jpg", "width": 120, "height": 90},
        "medium": {"url": f"{base}/mqdefault.jpg", "width": 320, "height": 180},
        "high": {"url": f"{base}/hqdefault.jpg", "width": 480, "height": 360},
    }


def _google_error(status: int, message: str, reason: str, domain: str = "global") -> web.Response:
    return web.json_response(
        {"error": {"code": status, "message": message,
                   "errors": [{"message": message, "domain": domain, "reason": reason}]}},
        status=status,
    )


class FakeYouTubeServer(BackgroundServer):
    """Fake YouTube Data API v3. See the module docstring."""

    MODES = ("ok", "500", "quota", "timeout")

    def __init__(self, *, latency_s: float = 0.0, mode: str = "ok", timeout_sleep_s: float = 30.0):
        super().__init__(latency_s=latency_s, mode=mode, timeout_sleep_s=timeout_sleep_s)
        self._videos: dict[str, dict] = {}

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/youtube/v3"

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/youtube/v3/search", self._search)
        app.router.add_get("/youtube/v3/videos", self._videos_list)
        return app

    # -- data -------------------------------------------------------------------------
    def snippet_for(self, q: str, index: int) -> tuple[str, dict]:
        """``(video_id, snippet)`` for result ``index`` of query ``q`` (deterministic)."""
        video_id = video_id_for(q, index)
        digest = hashlib.sha256(video_id.encode("utf-8")).digest()
        topic = " ".join(q.split()) or "Study tips"
        title_topic = topic[:1].upper() + topic[1:]
        kinds = ("explained", "tutorial", "in 10 minutes", "for beginners", "crash course",
                 "worked examples", "lecture", "review")
        published = _EPOCH + timedelta(days=int.from_bytes(digest[:2], "big") % 3000,
                                       seconds=int.from_bytes(digest[2:4], "big"))
        channel_title = _CHANNELS[digest[4] % len(_CHANNELS)]
        snippet = {
            "publishedAt": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channelId": "UC" + "".join(_ID_ALPHABET[b % 64] for b in digest[5:27]),
            "title": f"{title_topic} {kinds[(index + digest[0]) % len(kinds)]}",
            "description": f"A clear walkthrough of {topic}: key ideas, examples and common mistakes.",
            "thumbnails": _thumbnails(video_id),
            "channelTitle": channel_title,
            "liveBroadcastContent": "none",
            "publishTime": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return video_id, snippet

    def add_video(self, video_id: str, title: str, channel_title: str = "Fake Channel",
                  description: str = "") -> None:
        """Register a video so ``/videos?id=`` finds it (e.g. an instructor-added link)."""
        snippet = {
            "publishedAt": "2020-01-01T00:00:00Z",
            "channelId": "UCfake",
            "title": title,
            "description": description,
            "thumbnails": _thumbnails(video_id),
            "channelTitle": channel_title,
            "liveBroadcastContent": "none",
        }
        with self._lock:
            self._videos[video_id] = snippet

    # -- handlers -----------------------------------------------------------------------
    async def _common(self, request: web.Request, entry: dict) -> Optional[web.Response]:
        """Mode handling and key check shared by both endpoints; None means "go on"."""
        if self.mode == "timeout":
            await self._hang()
            entry["status"] = 504
            return _google_error(504, "fake timeout elapsed", "backendError")
        await self._delay()
        if not request.query.get("key"):
            entry["status"] = 400
            return _google_error(
                400,
                "Method doesn't allow unregistered callers (callers without established identity)."
                " Please use API Key or other form of API consumer identity to call this API.",
                "required",
            )
        if self.mode == "500":
            entry["status"] = 500
            return _google_error(500, "Backend Error", "backendError")
        if self.mode == "quota":
            entry["status"] = 403
            return _google_error(
                403,
                "The request cannot be completed because you have exceeded your "
                '<a href="/youtube/v3/getting-started#quota">quota</a>.',
                "quotaExceeded",
                domain="youtube.quota",
            )
        if "snippet" not in request.query.get("part", "").split(","):
            entry["status"] = 400
            return _google_error(400, "Required parameter: part", "required")
        return None

    async def _search(self, request: web.Request) -> web.Response:
        entry = self._log(request, None)
        error = await self._common(request, entry)
        if error is not None:
            return error
        raw = request.query.get("maxResults", "5")
        try:
            max_results = int(raw)
        except ValueError:
            max_results = -1
        if not 0 <= max_results <= 50:
            entry["status"] = 400
            return _google_error(400, f"Invalid value '{raw}'. Values must be within the range: [0, 50]",
                                 "invalidParameter")
        q = request.query.get("q", "")
        items = []
        for i in range(max_results):
            video_id, snippet = self.snippet_for(q, i)
            with self._lock:
                self._videos.setdefault(video_id, snippet)
            items.append({
                "kind": "youtube#searchResult",
                "etag": _etag("item", video_id),
                "id": {"kind": "youtube#video", "videoId": video_id},
                "snippet": snippet,
            })
        entry["status"] = 200
        return web.json_response({
            "kind": "youtube#searchListResponse",
            "etag": _etag("search", q, max_results),
            "nextPageToken": "CAUQAA",
            "regionCode": "US",
            "pageInfo": {"totalResults": 1000000, "resultsPerPage": max_results},
            "items": items,
        })

    async def _videos_list(self, request: web.Request) -> web.Response:
        entry = self._log(request, None)
        error = await self._common(request, entry)
        if error is not None:
            return error
        ids = [i.strip() for i in request.query.get("id", "").split(",") if i.strip()]
        items = []
        with self._lock:
            known = [(i, self._videos.get(i)) for i in ids]
        for video_id, snippet in known:
            if snippet is None:
                continue
            items.append({
                "kind": "youtube#video",
                "etag": _etag("video", video_id),
                "id": video_id,
                "snippet": {k: v for k, v in snippet.items() if k != "publishTime"},
            })
        entry["status"] = 200
        return web.json_response({
            "kind": "youtube#videoListResponse",
            "etag": _etag("videos", *ids),
            "items": items,
            "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
        })
