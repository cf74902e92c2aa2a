"""Fields every KnowGap request body may carry to identify the caller."""
from __future__ import annotations

from marshmallow import validates_schema

from knowgap.canvas.hosts import parse_origin
from knowgap.core.schemas import StrictSchema, Text, ValidationError, validate


class CanvasHost(Text):
    """A Canvas address: a host (``school.instructure.com``) or an origin (``https://…``);
    ``""`` means none (the server's Canvas). Malformed values are a 422 here; whether the host
    is allowed is decided (403) before any request is made (``knowgap.canvas.hosts``)."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(max=500), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text == "":
            return text
        try:
            parse_origin(text)
        except ValueError:
            raise ValidationError("Give your Canvas address, e.g. school.instructure.com or "
                                  "https://school.instructure.com.") from None
        return text


class CallerBody(StrictSchema):
    """``access_token`` (or send ``Authorization: Bearer``) and ``link`` (the Canvas host;
    default: the server's configured Canvas). ``canvas_domain`` is another name for ``link``
    (the extension's student view sends it)."""

    access_token = Text(validate=validate.Length(min=1, max=4096), load_only=True)
    link = CanvasHost(allow_none=True)
    canvas_domain = CanvasHost(allow_none=True)

    @validates_schema
    def _one_host(self, data, **kwargs):
        link, domain = data.get("link"), data.get("canvas_domain")
        if link and domain and link != domain:
            raise ValidationError("Send the Canvas host once: link or canvas_domain.", "link")
