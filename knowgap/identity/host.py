"""Which Canvas a request is about when no token says so.

A token-less read (``GET /get-toggle-risk/{cid}``) has no verified caller whose Canvas could
name the host, yet records are scoped by Canvas host. The choice, in order: the ``link`` the
caller sent (refused with 403 when it is not on the allow-list, like every ``link``); else the
request's ``Origin`` when it is an allowed Canvas (the extension's content script runs on the
Canvas page); else the server's configured Canvas (``CANVAS_BASE_URL``).
"""
from __future__ import annotations

from knowgap.canvas.hosts import canvas_base_url
from knowgap.core.errors import AppError


def canvas_host_for(link: str | None, origin: str | None, config) -> str:
    """``scheme://host[:port]`` of the Canvas a token-less request is about."""
    if link:
        return canvas_base_url(link, config)
    if origin:
        try:
            return canvas_base_url(origin, config)
        except AppError:
            pass            # an extension page, the web app or any other site: not a Canvas
    return canvas_base_url(None, config)
