"""Time in one convention: aware UTC datetimes inside, ISO-8601 ``…Z`` strings outside."""
from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now in UTC at millisecond precision, which is what MongoDB stores: a value written and
    read back compares equal to the one still in memory."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """Treat a naive datetime (as some drivers return) as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def iso(value) -> str | None:
    """ISO-8601 UTC with milliseconds and a ``Z``; strings pass through, None stays None."""
    if value is None or isinstance(value, str):
        return value
    return aware(value).astimezone(dt.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def parse(value) -> dt.datetime | None:
    """An aware datetime from a datetime or an ISO-8601 string (``…Z`` or an
    offset; naive values are taken as UTC); None when it is neither."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return aware(value)
