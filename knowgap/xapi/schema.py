"""Validation of every statement before it is sent.

``statement.schema.json`` (beside this module) is the xAPI 1.0.3 statement written as a JSON
Schema from the specification's own tables and requirements (``adlnet/xAPI-Spec``,
``xAPI-Data.md``; each definition names its section). It is compiled once with
``fastjsonschema`` (the schema becomes Python code: a few microseconds per statement, which
matters at hundreds of thousands of statements per course). The specification's formats are
checked by the functions below, and the rules a schema cannot state by :func:`semantic_errors`.

``problems(statement)`` returns the first problem as a sentence, or None. The delivery job
never sends a statement that has one: it is dead-lettered with that sentence.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from pathlib import Path

import fastjsonschema

SCHEMA_PATH = Path(__file__).with_name("statement.schema.json")

# Data 4.3: IRIs need a scheme; no white space or characters RFC 3987 excludes.
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
# An IRL is an IRI that locates something: http(s) with a host.
_IRL = re.compile(r"^https?://[^\s/?#<>\"{}|\\^`]+[^\s<>\"{}|\\^`]*$")
# Data 4.4: RFC 4122 standard string form, variant 2 (10xx), any version.
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-"
                   r"[0-9a-fA-F]{12}$")
# Data 4.5: ISO 8601 combined date and time with a time zone (RFC 3339 profile).
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
# Data 4.6: ISO 8601:2004 4.4.3.2 durations (PnYnMnDTnHnMnS or PnW).
_DURATION = re.compile(r"^P(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
                       r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$")
# Data 4.2: RFC 5646 language tags (the "langtag" and "privateuse" productions; grandfathered
# tags are not sent by this product).
_LANGTAG = re.compile(
    r"^(([A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(-[A-Za-z]{4})?(-([A-Za-z]{2}|\d{3}))?"
    r"(-([A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*"
    r"(-[xX](-[A-Za-z0-9]{1,8})+)?|[xX](-[A-Za-z0-9]{1,8})+)$")


def _timestamp(value: str) -> bool:
    if not _TIMESTAMP.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


FORMATS = {
    "iri": _IRI.pattern,
    "irl": _IRL.pattern,
    "uuid": _UUID.pattern,
    "timestamp": _timestamp,
    "duration": _DURATION.pattern,
    "language-tag": _LANGTAG.pattern,
    "mailto": r"^mailto:[^@\s]+@[^@\s]+$",
    "sha1": r"^[0-9a-fA-F]{40}$",
}


@lru_cache(maxsize=1)
def _validator():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return fastjsonschema.compile(schema, formats=FORMATS)


#: A Learning Record Provider "MUST NOT use a future time" (Data 2.4.7); a little slack for
#: clocks that disagree.
FUTURE_SLACK = dt.timedelta(minutes=5)


def _scores(statement: dict):
    result = statement.get("result")
    if isinstance(result, dict) and isinstance(result.get("score"), dict):
        yield result["score"]
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        yield from _scores(obj)


def semantic_errors(statement: dict, now: dt.datetime | None = None) -> str | None:
    """The specification's rules a JSON Schema cannot express."""
    for sc in _scores(statement):
        low, high, raw = sc.get("min"), sc.get("max"), sc.get("raw")
        if low is not None and high is not None and not low < high:
            return "result.score.min must be less than result.score.max (xAPI Data 2.4.5.1)."
        if raw is not None and ((low is not None and raw < low)
                                or (high is not None and raw > high)):
            return "result.score.raw must lie between min and max (xAPI Data 2.4.5.1)."
    verb = statement.get("verb", {}).get("id")
    obj = statement.get("object", {})
    if verb == "http://adlnet.gov/expapi/verbs/voided" and obj.get("objectType") != "StatementRef":
        return "A voiding statement's object must be a StatementRef (xAPI Data 2.3.2)."
    context = statement.get("context") or {}
    is_activity = obj.get("objectType", "Activity") == "Activity"
    if not is_activity and ("revision" in context or "platform" in context):
        return ("context.revision and context.platform are only allowed when the object is an "
                "Activity (xAPI Data 2.4.6).")
    stamp = statement.get("timestamp")
    if stamp:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        now = now or dt.datetime.now(dt.timezone.utc)
        if when > now + FUTURE_SLACK:
            return "The timestamp lies in the future (xAPI Data 2.4.7)."
    return None


def problems(statement: dict, now: dt.datetime | None = None) -> str | None:
    """None when ``statement`` is valid xAPI, else the first problem in one sentence."""
    try:
        _validator()(statement)
    except fastjsonschema.JsonSchemaValueException as exc:
        where = exc.name.replace("data", "statement", 1) if exc.name else "statement"
        return f"{where}: {exc.message} (xAPI 1.0.3 statement schema)."
    return semantic_errors(statement, now)
