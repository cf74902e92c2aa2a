"""Which Canvas hosts the server may talk to, decided before any request is made.

Users (and the KnowGap extension's ``link`` field) tell us which Canvas to use. Without an
allow-list that is a server-side request forgery hole: a caller could point us at an internal
address and have us send it their token, or read metadata services. So every base URL goes
through ``canvas_base_url`` and pagination links are checked with ``same_origin``.

Allow-list entries (``config.canvas_allowed_hosts``):
- ``canvas.example.edu``      that host, any port;
- ``*.instructure.com``       any sub-domain of instructure.com (not instructure.com itself);
- ``127.0.0.1:8900``          that host on that port only.

Plain ``http`` is only accepted for loopback hosts (the sandbox, local development): a Canvas
token sent in clear text over the network is a leaked token.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from knowgap.core.errors import AppError

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(host: str) -> AppError:
    shown = host if host and len(host) <= 100 else "that host"
    return AppError(f"The Canvas host {shown} is not allowed on this server. "
                    "Use your institution's Canvas address or ask an administrator to allow it.",
                    error="canvas_host_not_allowed", status=403)


def _split_entry(entry: str) -> tuple[str, int | None]:
    entry = entry.strip().lower().rstrip(".")
    if entry.startswith("[") and "]" in entry:          # [::1]:8080
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else None
    return entry, None


def host_allowed(host: str, port: int | None, allowed) -> bool:
    """True when ``host`` (lower-case, no trailing dot) and ``port`` match an entry."""
    for entry in allowed or ():
        pattern, entry_port = _split_entry(entry)
        if not pattern:
            continue
        if entry_port is not None and entry_port != port:
            continue
        if pattern.startswith("*."):
            suffix = pattern[1:]                       # ".instructure.com"
            if host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif host == pattern:
            return True
    return False


def parse_origin(link_or_host: str) -> tuple[str, str, int | None]:
    """(scheme, host, explicit port) of a URL or a bare host; ValueError when unusable."""
    text = link_or_host.strip()
    if not text or any(c.isspace() for c in text) or "\\" in text:
        raise ValueError("empty or malformed")
    bare = "://" not in text
    if bare:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme.lower() not in {"http", "https"}:
        raise ValueError("scheme")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in URL")        # "https://allowed@evil" tricks
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise ValueError("no host")
    port = parts.port                                  # ValueError on a bad port
    if bare and is_loopback(host):
        return "http", host, port                      # a local Canvas (the sandbox) has no TLS
    return parts.scheme.lower(), host, port


def canvas_base_url(link_or_host: str | None, config) -> str:
    """``scheme://host[:port]`` of an allowed Canvas, or raise 403 ``canvas_host_not_allowed``.

    ``None`` means the configured default (``config.canvas_base_url``), which is checked too.
    """
    raw = config.canvas_base_url if link_or_host is None else link_or_host
    if not isinstance(raw, str):
        raise _refuse("")
    try:
        scheme, host, port = parse_origin(raw)
    except ValueError:
        raise _refuse(raw if isinstance(raw, str) else "") from None
    if scheme == "http" and not is_loopback(host):
        raise _refuse(host)
    effective_port = port if port is not None else (443 if scheme == "https" else 80)
    if not host_allowed(host, effective_port, config.canvas_allowed_hosts):
        raise _refuse(host)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


def same_origin(url: str, base_url: str) -> bool:
    """True when ``url`` is on exactly the scheme, host and port of ``base_url``.

    Used on every ``Link: rel="next"`` URL: Canvas never paginates across hosts, so a link
    elsewhere is either a bug or an attempt to make us send the token somewhere else.
    """
    try:
        a, b = urlsplit(url), urlsplit(base_url)
        return (a.scheme.lower() == b.scheme.lower()
                and (a.hostname or "").lower().rstrip(".") == (b.hostname or "").lower().rstrip(".")
                and (a.port or _default_port(a.scheme)) == (b.port or _default_port(b.scheme))
                and a.username is None and a.password is None)
    except ValueError:
        return False


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80
