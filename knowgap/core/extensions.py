"""The rate limiter, created once and bound to each app in ``create_app``."""
from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def limit_from_config(setting: str, **kwargs):
    """A rate-limit decorator whose limit string is the config setting ``setting``, read per
    request so each app (and each test) can set its own."""
    from knowgap.core.services import services

    return limiter.limit(lambda: getattr(services().config, setting), **kwargs)


def json_field(name: str):
    """Rate-limit key from a JSON body field (e.g. the e-mail being tried), lower-cased."""

    def key() -> str:
        body = request.get_json(silent=True)
        value = body.get(name) if isinstance(body, dict) else None
        return f"{name}:{value.strip().lower()}" if isinstance(value, str) else f"{name}:-"

    return key
