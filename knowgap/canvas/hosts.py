"""Which Canvas hosts the server may talk to, decided before any request is made.

Users (and the KnowGap extension's ``link`` field) tell us which Canvas to use. Without an
allow-list that is a server-side request forgery hole: a caller could point us at an internal
address and have us send it their token, or read metadata services. So every base URL goes
through ``canvas_base_url`` and pagination links are checked with ``same_origin``.

Allow-list entries (``config.canvas_allowed_hosts``, and ``config.canvas_file_hosts`` for
where downloads may be redirected):
- ``canvas.example.edu``      that host on the scheme's default port only (443, or 80 for
                              loopback ``http``);
- ``*.instructure.com``       any sub-domain of instructure.com (not instructure.com itself),
                              default port only;
- ``inst-fs-*.example.net``   ``*`` inside a label matches letters, digits and ``-`` of that
                              label only;
- ``127.0.0.1:8900``          that host on that port only.

A port is never guessed: an entry without one does not admit the other ports of its host, so
the allow-list cannot be used to reach other services of an allowed machine (the server's own
port, an admin console on loopback). Every refusal is the same answer, given before any
connection is attempted, so it says nothing about what listens on the port.

Plain ``http`` is only accepted for loopback hosts (the sandbox, local development): a Canvas
token sent in clear text over the network is a leaked token.

``canvas_host`` turns an allowed base URL into the tenant key every stored record carries
(``knowgap.core.tenancy``): ``host[:port]``, lower-case, the default port left out.
"""
from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
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


@lru_cache(maxsize=256)
def _label_pattern(pattern: str) -> re.Pattern:
    """``inst-fs-*.example.net`` as a regex: ``*`` stays inside its label."""
    labels = (re.escape(label).replace(r"\*", "[a-z0-9-]*") for label in pattern.split("."))
    return re.compile(r"\.".join(labels))


def _host_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        suffix = pattern[1:]                           # ".instructure.com"
        return host.endswith(suffix) and len(host) > len(suffix)
    if "*" in pattern:
        return _label_pattern(pattern).fullmatch(host) is not None
    return host == pattern


def host_allowed(host: str, port: int | None, allowed, scheme: str = "https") -> bool:
    """True when ``host`` (lower-case, no trailing dot) on ``port`` (the effective port: the
    scheme's default when the URL names none) matches an entry; an entry without a port
    admits the default port of ``scheme`` only."""
    default = _default_port(scheme)
    for entry in allowed or ():
        pattern, entry_port = _split_entry(entry)
        if not pattern:
            continue
        if port != (default if entry_port is None else entry_port):
            continue
        if _host_matches(host, pattern):
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
    effective_port = port if port is not None else _default_port(scheme)
    if not host_allowed(host, effective_port, config.canvas_allowed_hosts, scheme):
        raise _refuse(host)
    netloc = f"[{host}]" if ":" in host else host
    if effective_port != _default_port(scheme):
        netloc += f":{effective_port}"
    return f"{scheme}://{netloc}"


def canvas_host(base_url: str) -> str:
    """The tenant key of a base URL from ``canvas_base_url``: ``host[:port]`` (default port
    left out, IPv6 in brackets), e.g. ``ucf.instructure.com`` or ``127.0.0.1:8900``."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise ValueError(f"not a base URL: {base_url!r}")
    netloc = f"[{host}]" if ":" in host else host
    port = parts.port
    if port is not None and port != _default_port(parts.scheme):
        netloc += f":{port}"
    return netloc


def default_host(config) -> str:
    """The tenant key of the server's configured Canvas (``CANVAS_BASE_URL``)."""
    return canvas_host(canvas_base_url(None, config))


def download_allowed(url: str, canvas_origin: str, file_hosts) -> bool:
    """May a download from ``canvas_origin`` follow a redirect to ``url`` (without the token)?

    Only to a host on ``file_hosts`` (``config.canvas_file_hosts``; the Canvas origin itself is
    always allowed), over https; plain http only between loopback hosts (the sandbox and its
    fakes), never from a real Canvas.
    """
    if same_origin(url, canvas_origin):
        return True
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
        canvas = (urlsplit(canvas_origin).hostname or "").lower()
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None:
        return False
    if scheme == "http":
        if not (is_loopback(host) and is_loopback(canvas)):
            return False
    elif scheme != "https":
        return False
    effective = port if port is not None else _default_port(scheme)
    return host_allowed(host, effective, file_hosts, scheme)


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
