"""Getting the caller out of a request: the Canvas token from the body or the Bearer header.

Routes call these helpers so every KnowGap endpoint reads the token the same way; the body's
``access_token``/``link`` are popped so services never see them by accident.
"""
from __future__ import annotations

from flask import request

from knowgap.canvas.hosts import default_host
from knowgap.core.services import services
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


def default_services():
    """The services scoped to the server's configured Canvas host (``CANVAS_BASE_URL``), for
    requests without a caller (generic content such as support videos)."""
    svc = services()
    return svc.scoped(default_host(svc.config))


def identify(body: dict | None = None, course_id=None) -> Caller:
    """The verified caller; pops ``access_token`` and ``link`` from ``body``."""
    body = body if body is not None else {}
    token = body.pop("access_token", None) or bearer_token()
    link = body.pop("link", None) or None
    return resolve_caller(services(), token, link, str(course_id) if course_id else None)
