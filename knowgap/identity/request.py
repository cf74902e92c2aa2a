"""Getting the caller out of a request: the Canvas token from the body or the Bearer header.

Routes call these helpers so every KnowGap endpoint reads the token the same way; the body's
``access_token`` and ``link`` (or its alias ``canvas_domain``) are popped so services never see
them by accident.
"""
from __future__ import annotations

from flask import request

from knowgap.canvas.hosts import canvas_host
from knowgap.core.services import services
from knowgap.identity.host import canvas_host_for
from knowgap.identity.service import Caller, resolve_caller


def bearer_token() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


def scoped_services(caller: Caller):
    """The services with the database scoped to the caller's verified Canvas host: every record
    the request reads or writes is that host's (``knowgap.core.tenancy``)."""
    return services().scoped(caller.canvas_host)


def identify(body: dict | None = None, course_id=None) -> Caller:
    """The verified caller; pops ``access_token``, ``link`` and ``canvas_domain`` from ``body``."""
    body = body if body is not None else {}
    token = body.pop("access_token", None) or bearer_token()
    link, domain = body.pop("link", None), body.pop("canvas_domain", None)
    return resolve_caller(services(), token, link or domain or None,
                          str(course_id) if course_id else None)


def requested_canvas(link: str | None = None) -> str:
    """The Canvas a token-less request is about (see ``knowgap.identity.host``)."""
    return canvas_host_for(link, request.headers.get("Origin"), services().config)


def requested_services(base_url: str):
    """The services scoped to the Canvas of a token-less request (``requested_canvas``)."""
    return services().scoped(canvas_host(base_url))
