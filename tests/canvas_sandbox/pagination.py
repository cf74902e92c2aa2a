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
import bisect
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


def page_bounds(request: web.Request, keys: Sequence[tuple], *,
                last: bool = True) -> tuple[int, int, str]:
    """(start, end, Link header value) of the requested page over sorted sort ``keys``.

    ``keys[i]`` is the sort key (a tuple) of the i-th item; bookmarks are found by bisection,
    so a page costs O(log n + page) however long the list is.
    ``page`` may be absent/``first``, a page number, or a bookmark from a previous Link.
    """
    per_page = per_page_of(request)
    page = request.query.get("page", "first")
    n = len(keys)
    if page in ("first", ""):
        start = 0
    elif page.isdigit():
        start = (max(1, int(page)) - 1) * per_page
    elif page.startswith("bookmark:"):
        after = tuple(decode_bookmark(page))
        try:
            start = bisect.bisect_right(keys, after)
        except TypeError:                    # a bookmark whose types do not match the keys
            start = next((i for i, k in enumerate(keys) if list(k) > list(after)), n)
    else:
        raise BadPage(page)
    start = min(start, n)
    end = min(n, start + per_page)
    links = [(_url(request, page or "first", per_page), "current")]
    if start + per_page < n:
        links.append((_url(request, encode_bookmark(keys[end - 1]), per_page), "next"))
    if start > 0:
        prev_start = max(0, start - per_page)
        prev = "first" if prev_start == 0 else encode_bookmark(keys[prev_start - 1])
        links.append((_url(request, prev, per_page), "prev"))
    links.append((_url(request, "first", per_page), "first"))
    if last:
        last_start = max(0, (n - 1) // per_page * per_page)
        last_page = "first" if last_start == 0 else encode_bookmark(keys[last_start - 1])
        links.append((_url(request, last_page, per_page), "last"))
    return start, end, ",".join(f'<{u}>; rel="{r}"' for u, r in links)


def paginate(request: web.Request, items: Sequence[Any], key: Callable[[Any], tuple], *,
             last: bool = True) -> tuple[list[Any], str]:
    """Return (page items, Link header value).  ``items`` must be sorted by ``key``."""
    keys = [tuple(key(it)) for it in items]
    start, end, link = page_bounds(request, keys, last=last)
    return list(items[start:end]), link
