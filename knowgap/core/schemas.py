"""Schema building blocks shared by every blueprint.

Every request body and query string goes through a marshmallow schema that rejects unknown
fields, and the string/id fields here refuse anything that is not a plain scalar, so an
operator-shaped value such as ``{"$ne": null}`` can never reach a MongoDB query.
"""
from __future__ import annotations

import re

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate

from knowgap.core.errors import ValidationFailed

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# OpenAPI form of an optional id: "" is accepted and means absent (see ``Id``).
OPTIONAL_ID_PATTERN = r"^([A-Za-z0-9_.:-]{1,64})?$"
# Canvas access tokens are printable ASCII without spaces. Anything else (control characters,
# CR/LF, non-ASCII) can never be valid and must not reach an HTTP header: aiohttp refuses it
# with a ValueError ("header injection"), which used to surface as a 500.
CANVAS_TOKEN_PATTERN = re.compile(r"^[\x21-\x7e]{1,4096}$")


def plausible_canvas_token(token) -> bool:
    return isinstance(token, str) and bool(CANVAS_TOKEN_PATTERN.match(token))


# OpenAPI form of Text's rule: no leading '$', no NUL anywhere.
TEXT_PATTERN = r"^(?!\$)[^\u0000]*$"


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class Text(fields.String):
    """A string that must really be a string, with no NUL bytes and no leading '$'."""

    default_error_messages = {
        "operator": "Values starting with '$' are not allowed.",
        "nul": "Text may not contain NUL characters.",
    }

    def __init__(self, *args, **kwargs):
        # Documented in OpenAPI so clients and schema-driven fuzzers know the rule.
        kwargs["metadata"] = {"pattern": TEXT_PATTERN, **(kwargs.get("metadata") or {})}
        super().__init__(*args, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        if text.startswith("$"):
            raise self.make_error("operator")
        return text


class Id(fields.String):
    """An identifier (Canvas ids are numbers; ours are hex): accepts int or str, yields str.

    An optional id sent as ``""`` is absent (its default applies): the web app sends ``""``
    for "none selected". Ids inside lists are never optional: ``["1", ""]`` stays an error.
    """

    default_error_messages = {"invalid_id": "Must be an id: letters, digits, '_', '-', '.', ':'."}

    def __init__(self, *args, **kwargs):
        pattern = ID_PATTERN.pattern
        if not kwargs.get("required"):
            pattern = OPTIONAL_ID_PATTERN
        kwargs["metadata"] = {"pattern": pattern, **(kwargs.get("metadata") or {})}
        super().__init__(*args, **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value == "" and not self.required and not isinstance(self.parent, fields.Field):
            value = missing
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid_id")
        if isinstance(value, int):
            value = str(value)
        text = super()._deserialize(value, attr, data, **kwargs)
        if not ID_PATTERN.match(text):
            raise self.make_error("invalid_id")
        return text


def path_id(value, name: str = "course_id", pattern: re.Pattern = ID_PATTERN) -> str:
    """An id taken from the URL path, or 422 naming it: path segments bypass the body and
    query schemas, so every route checks its ids with this before using them."""
    if not pattern.match(str(value or "")):
        label = name.replace("_", " ")
        raise ValidationFailed(f"The {label} in the URL is not a valid id.",
                               details={name: ["Must be an id."]})
    return str(value)


def no_operator_keys(mapping: dict) -> None:
    """Validator for Dict fields: keys may not look like MongoDB operators or paths."""
    bad = [k for k in mapping if not isinstance(k, str) or k.startswith("$") or "." in k]
    if bad:
        raise ValidationError("Keys may not start with '$' or contain '.'.")


__all__ = ["StrictSchema", "Text", "Id", "no_operator_keys", "plausible_canvas_token", "fields", "validate",
           "ValidationError"]
