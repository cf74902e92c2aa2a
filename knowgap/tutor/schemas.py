"""Request bodies and queries of the tutor endpoints (unknown fields -> 422)."""
from __future__ import annotations

from knowgap.core.schemas import Id, StrictSchema, Text, validate
from knowgap.identity.schemas import CallerBody, CanvasHost

MAX_MESSAGE_CHARS = 2000


class SessionBody(CallerBody):
    course_id = Id(required=True)
    quiz_id = Id(required=True)
    question_id = Id(required=True)


class MessageBody(CallerBody):
    content = Text(required=True, validate=validate.Length(min=1, max=MAX_MESSAGE_CHARS),
                   metadata={"description": "The student's message (1-2000 characters)."})


class CallerQuery(StrictSchema):
    """Reads take the Canvas token as ``Authorization: Bearer`` and the Canvas as ``link``."""

    link = CanvasHost()


class SessionsQuery(CallerQuery):
    course_id = Id()
