"""YouTube Data API v3 over aiohttp: one search per topic, metadata by video id.

Why a hand-written client: two GET endpoints are all we need, and they must run concurrently
inside the same event loop as the AI calls (a course's topics and videos are produced in one
pipelined batch). Every failure becomes a ``YouTubeError`` with a ``kind`` the callers turn into
a status note; nothing here raises to a view, so a YouTube outage never becomes a 500.

Kinds: ``quota`` (403 quotaExceeded / rateLimitExceeded: stop calling for this batch),
``forbidden`` (key rejected: stop too), ``unavailable`` (5xx, timeout, network, bad JSON:
retry on the next sync), ``not_configured`` (no YOUTUBE_API_KEY: no call is made).
"""
from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import aiohttp

TIMEOUT_SECONDS = 8.0          # per call; tests shorten it
STOP_KINDS = frozenset({"quota", "forbidden"})

STATUS_MESSAGES = {
    "not_configured": "Video search is not configured (YOUTUBE_API_KEY).",
    "quota": "YouTube's daily quota is used up; videos will be found on a later sync.",
    "forbidden": "YouTube refused the API key (check YOUTUBE_API_KEY); no videos were found.",
    "unavailable": "YouTube did not answer; videos will be found on a later sync.",
    "no_results": "YouTube found no video for this topic.",
}

_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")


class YouTubeError(Exception):
    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def configured(config) -> bool:
    return bool(config.youtube_api_key)


def watch_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def parse_video_id(link: str | None) -> str | None:
    """The 11-character id of a YouTube link (watch, youtu.be, embed, shorts, live) or bare id."""
    if not link or not isinstance(link, str):
        return None
    text = link.strip()
    if _ID.match(text):
        return text
    try:
        parts = urlsplit(text if "://" in text else "https://" + text)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    candidate = None
    if host == "youtu.be":
        candidate = parts.path.strip("/").split("/")[0]
    elif host == "youtube.com" or host.endswith(".youtube.com") or host == "youtube-nocookie.com" \
            or host.endswith(".youtube-nocookie.com"):
        if parts.path == "/watch":
            candidate = (parse_qs(parts.query).get("v") or [None])[0]
        else:
            segs = [s for s in parts.path.split("/") if s]
            if len(segs) >= 2 and segs[0] in ("embed", "shorts", "live", "v", "e"):
                candidate = segs[1]
    return candidate if candidate and _ID.match(candidate) else None


def _thumbnail(snippet: dict, video_id: str) -> str:
    thumbs = snippet.get("thumbnails") or {}
    for size in ("high", "medium", "default"):
        url = (thumbs.get(size) or {}).get("url")
        if url:
            return url
    return f"https://i.ytimg.com/vi/{video_id}/hqdefault.jpg"


def video_from_item(item: dict, video_id: str) -> dict:
    snippet = item.get("snippet") or {}
    return {"title": snippet.get("title") or "", "link": watch_url(video_id),
            "channel": snippet.get("channelTitle") or "", "thumbnail": _thumbnail(snippet, video_id),
            "video_id": video_id}


def new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
                                 connector=aiohttp.TCPConnector(limit=32), trust_env=False)


async def _get(session: aiohttp.ClientSession, config, endpoint: str, params: dict) -> dict:
    if not configured(config):
        raise YouTubeError("not_configured")
    url = config.youtube_base_url.rstrip("/") + "/" + endpoint
    try:
        async with session.get(url, params={**params, "key": config.youtube_api_key}) as resp:
            status = resp.status
            try:
                body = await resp.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                body = None
    except asyncio.TimeoutError:
        raise YouTubeError("unavailable", "timeout") from None
    except aiohttp.ClientError as exc:
        raise YouTubeError("unavailable", type(exc).__name__) from None
    if 200 <= status < 300 and isinstance(body, dict):
        return body
    reasons = set()
    if isinstance(body, dict):
        err = body.get("error") or {}
        for e in (err.get("errors") or []) if isinstance(err, dict) else []:
            if isinstance(e, dict) and e.get("reason"):
                reasons.add(e["reason"])
    if status == 429 or reasons & {"quotaExceeded", "rateLimitExceeded", "dailyLimitExceeded",
                                   "userRateLimitExceeded"}:
        raise YouTubeError("quota", f"HTTP {status}")
    if status in (400, 401, 403):
        raise YouTubeError("forbidden", f"HTTP {status}")
    raise YouTubeError("unavailable", f"HTTP {status}")


async def search(session, config, query: str) -> dict | None:
    """The top safe-search video for ``query`` or None when YouTube has none."""
    body = await _get(session, config, "search", {
        "part": "snippet", "q": query, "type": "video", "safeSearch": "strict",
        "maxResults": 1})
    for item in body.get("items") or []:
        vid = ((item.get("id") or {}) if isinstance(item.get("id"), dict) else {}).get("videoId")
        if vid:
            return video_from_item(item, vid)
    return None


async def video_by_id(session, config, video_id: str) -> dict | None:
    """Metadata of one video (videos endpoint), None when it does not exist or is private."""
    body = await _get(session, config, "videos", {"part": "snippet", "id": video_id})
    for item in body.get("items") or []:
        return video_from_item(item, video_id)
    return None
