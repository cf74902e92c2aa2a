"""Refuse JSON bodies no handler can take, before any view parses them.

Every JSON body is parsed here once, strictly; anything the parser cannot take is a 400 in
the error envelope, never a 500 from deep inside a view:

- not JSON at all, or not UTF-8/16/32 → 400 ``invalid_json`` (with the parser's position);
- ``NaN``/``Infinity`` (Python's parser accepts them; JSON does not) → 400 ``invalid_json``;
- an integer outside MongoDB's 64-bit range (a 5,000-digit integer used to hit Python's
  int-string limit inside the parser, a 30-digit one ``OverflowError`` when stored)
  → 400 ``number_out_of_range``;
- nesting deeper than ``MAX_JSON_DEPTH`` (the standard decoder raises ``RecursionError`` at
  roughly 1,000 levels; MongoDB itself refuses documents nested deeper than 100 levels)
  → 400 ``json_too_deep``;
- lone UTF-16 surrogates (``"\\ud800"`` escapes decode to strings that cannot be encoded as
  UTF-8, so storing them in MongoDB raised ``UnicodeEncodeError``) → 400 ``invalid_unicode``.

A body that passes is parsed by the views (webargs) exactly as here: the checks only refuse.
"""
from __future__ import annotations

import json
import re

from flask import Flask, request

from knowgap.core.errors import BadRequest

MAX_JSON_DEPTH = 64
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


class _NumberOutOfRange(ValueError):
    pass


class _NotJson(ValueError):
    pass


def _int(text: str) -> int:
    # Longer than any 64-bit integer: refuse before int() (which refuses beyond 4,300 digits).
    if len(text.lstrip("-")) > 19:
        raise _NumberOutOfRange(text)
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _NumberOutOfRange(text)
    return value


def _constant(name: str):
    raise _NotJson(f"{name} is not a JSON value")


def _too_deep() -> BadRequest:
    return BadRequest(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep. Send a "
                      "flatter document.", error="json_too_deep")


def parse_strict(data: bytes):
    """The document in ``data``; ``BadRequest`` (400) for anything a handler cannot take."""
    try:
        return json.loads(data, parse_int=_int, parse_constant=_constant)
    except _NumberOutOfRange:
        raise BadRequest("A number in the request is too large: integers must fit in 64 bits "
                         f"(between {INT64_MIN} and {INT64_MAX}).",
                         error="number_out_of_range") from None
    except RecursionError:
        raise _too_deep() from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}). Send valid JSON.", error="invalid_json") from None
    except (_NotJson, UnicodeDecodeError, ValueError):
        raise BadRequest("The request body is not valid JSON (it must be UTF-8 text without "
                         "NaN or Infinity). Send valid JSON.", error="invalid_json") from None


def _check(document) -> None:
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise BadRequest("The request contains text that is not valid Unicode (a lone "
                                 "surrogate such as \\ud800). Remove it and try again.",
                                 error="invalid_unicode")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        else:
            stack.extend((v, depth + 1) for v in value)


def check_json_body() -> None:
    if not request.is_json:
        return
    data = request.get_data(cache=True)
    if not data.strip():
        return                     # no body: the view's schema says what is missing
    _check(parse_strict(data))


def init_json_guard(app: Flask) -> None:
    app.before_request(check_json_body)
