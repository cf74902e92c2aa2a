"""Fields every KnowGap request body may carry to identify the caller."""
from __future__ import annotations

from knowgap.core.schemas import StrictSchema, Text, validate


class CallerBody(StrictSchema):
    """``access_token`` (or send ``Authorization: Bearer``) and ``link`` (the Canvas host;
    default: the server's configured Canvas)."""

    access_token = Text(validate=validate.Length(min=1, max=4096), load_only=True)
    link = Text(validate=validate.Length(max=500), allow_none=True)
