"""Request and response schemas of a course's xAPI delivery (instructors)."""
from __future__ import annotations

from knowgap.core.schemas import StrictSchema, fields


class DeliveryUpdateSchema(StrictSchema):
    enabled = fields.Boolean(required=True, truthy={True}, falsy={False}, metadata={
        "description": "Send this course's learning events to the institution's LRS (JSON "
                       "true or false)."})


class CountsSchema(StrictSchema):
    pending = fields.Integer(required=True)
    delivered = fields.Integer(required=True)
    dead = fields.Integer(required=True, metadata={
        "description": "Statements the LRS (or validation) refused; see dead_letters."})


class DeadLetterSchema(StrictSchema):
    statement_id = fields.String(required=True)
    kind = fields.String(required=True)
    error = fields.String(required=True, allow_none=True, metadata={
        "description": "The LRS's own error message, or why the statement was not sent."})
    at = fields.String(required=True, allow_none=True)


class DeliveryStatusSchema(StrictSchema):
    course_id = fields.String(required=True)
    configured = fields.Boolean(required=True, metadata={
        "description": "An LRS is configured on this server (XAPI_LRS_URL)."})
    lrs = fields.String(required=True, allow_none=True, metadata={
        "description": "The LRS's address (origin only; never credentials)."})
    enabled = fields.Boolean(required=True, metadata={
        "description": "Whether this course's events are sent (false when not configured)."})
    enabled_by_default = fields.Boolean(required=True)
    statements = fields.Nested(CountsSchema, required=True)
    by_kind = fields.Dict(keys=fields.String(), values=fields.Nested(CountsSchema),
                          required=True)
    oldest_pending_at = fields.String(required=True, allow_none=True)
    last_delivery_at = fields.String(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    last_error_at = fields.String(required=True, allow_none=True)
    next_attempt_at = fields.String(required=True, allow_none=True, metadata={
        "description": "When delivery is tried again after a failure."})
    derived_through = fields.String(required=True, allow_none=True, metadata={
        "description": "Stored changes up to this time are in the outbox."})
    state = fields.String(required=True, metadata={
        "description": "off, idle (everything delivered), sending, waiting (the LRS failed; "
                       "retrying), or attention (statements were refused)."})
    dead_letters = fields.List(fields.Nested(DeadLetterSchema), required=True)


class RetryResultSchema(DeliveryStatusSchema):
    requeued = fields.Integer(required=True)
