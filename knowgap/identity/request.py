"""Getting the caller out of a request: the Canvas token from the body or the Bearer header.

Routes call these helpers so every KnowGap endpoint reads the token the same way; the body's
``access_token``/``link`` are popped so services never see them by accident.
"""
from __future__ import annotations

from flask import request

from knowgap.core.services import services
from knowgap.identity.service import Caller, resolve_caller


def bearer_token() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


def identify(body: dict | None = None, course_id=None) -> Caller:
    """The verified caller; pops ``access_token`` and ``link`` from ``body``."""
    body = body if body is not None else {}
    token = body.pop("access_token", None) or bearer_token()
    link = body.pop("link", None) or None
    return resolve_caller(services(), token, link, str(course_id) if course_id else None)
