"""Refuse JSON bodies no handler can take, before any view parses them.

- Nesting deeper than ``MAX_JSON_DEPTH`` (the standard decoder raises ``RecursionError`` at
  roughly 1,000 levels, which used to surface as a 500; MongoDB itself refuses documents nested
  deeper than 100 levels) → 400 ``json_too_deep``.
- Lone UTF-16 surrogates (``"\\ud800"`` escapes decode to strings that cannot be encoded as
  UTF-8, so storing them in MongoDB raised ``UnicodeEncodeError`` → 500) → 400
  ``invalid_unicode``.

The parsed body is cached by Flask, so views (webargs) do not parse it twice.
"""
from __future__ import annotations

import re

from flask import Flask, request

from knowgap.core.errors import BadRequest

MAX_JSON_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


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
            raise BadRequest(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep. "
                             "Send a flatter document.", error="json_too_deep")
        if isinstance(value, dict):
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        else:
            stack.extend((v, depth + 1) for v in value)


def check_json_body() -> None:
    if not request.is_json:
        return
    try:
        document = request.get_json(silent=True)
    except RecursionError:
        raise BadRequest(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep. Send a "
                         "flatter document.", error="json_too_deep") from None
    if document is not None:
        _check(document)


def init_json_guard(app: Flask) -> None:
    app.before_request(check_json_body)
