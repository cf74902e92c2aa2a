"""Canvas-style pagination: ``per_page`` clamp, keyed bookmarks and the ``Link`` header.

Why keyed bookmarks: Canvas's submission lists page with ``page=bookmark:<base64 JSON of the
last row's sort key>``, so a page boundary stays put even if rows are added meanwhile (a
student submits during a sync).  Clients must follow ``rel="next"`` verbatim; making the value
opaque catches clients that build page URLs themselves.  Links are absolute and keep every
other query parameter (repeated ``include[]`` etc.).  Lists that Canvas can't count cheaply
(the submission endpoints) carry no ``rel="last"``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Sequence

from aiohttp import web

DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100


class BadPage(ValueError):
    pass


def per_page_of(request: web.Request) -> int:
    try:
        n = int(request.query.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        return DEFAULT_PER_PAGE
    return max(1, min(MAX_PER_PAGE, n))


def encode_bookmark(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return "bookmark:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_bookmark(value: str) -> list:
    b64 = value[len("bookmark:"):]
    try:
        key = json.loads(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)))
    except (ValueError, TypeError) as exc:
        raise BadPage(value) from exc
    if not isinstance(key, list):
        raise BadPage(value)
    return key


def _url(request: web.Request, page: str, per_page: int) -> str:
    pairs = [(k, v) for k, v in request.query.items() if k not in ("page", "per_page")]
    pairs += [("page", page), ("per_page", str(per_page))]
    return str(request.url.with_query(pairs))


def paginate(request: web.Request, items: Sequence[Any], key: Callable[[Any], tuple], *,
             last: bool = True) -> tuple[list[Any], str]:
    """Return (page items, Link header value).  ``items`` must be sorted by ``key``.

    ``page`` may be absent/``first``, a page number, or a bookmark from a previous Link.
    """
    per_page = per_page_of(request)
    page = request.query.get("page", "first")
    if page in ("first", ""):
        start = 0
    elif page.isdigit():
        start = (max(1, int(page)) - 1) * per_page
    elif page.startswith("bookmark:"):
        after = decode_bookmark(page)
        start = next((i for i, it in enumerate(items) if list(key(it)) > after), len(items))
    else:
        raise BadPage(page)
    chunk = list(items[start:start + per_page])
    links = [(_url(request, page or "first", per_page), "current")]
    if start + per_page < len(items):
        links.append((_url(request, encode_bookmark(key(chunk[-1])), per_page), "next"))
    if start > 0:
        prev_start = max(0, start - per_page)
        prev = "first" if prev_start == 0 else encode_bookmark(key(items[prev_start - 1]))
        links.append((_url(request, prev, per_page), "prev"))
    links.append((_url(request, "first", per_page), "first"))
    if last:
        last_start = max(0, (len(items) - 1) // per_page * per_page)
        last_page = "first" if last_start == 0 else encode_bookmark(key(items[last_start - 1]))
        links.append((_url(request, last_page, per_page), "last"))
    return chunk, ",".join(f'<{u}>; rel="{r}"' for u, r in links)
