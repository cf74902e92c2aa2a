"""One error hierarchy, turned into the JSON envelope ``{error, message, statusCode}``.

Services raise these; a single handler in ``knowgap.core.error_handlers`` renders them, so no
route needs its own try/except and no client ever sees a stack trace.
"""
from __future__ import annotations


class AppError(Exception):
    status = 500
    error = "internal_error"
    message = "Something went wrong on our side. Please try again later."

    def __init__(self, message: str | None = None, *, error: str | None = None,
                 status: int | None = None, details: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.error = error or self.error
        self.status = status or self.status
        self.details = details
        self.headers = headers or {}

    def to_dict(self) -> dict:
        body = {"error": self.error, "message": self.message, "statusCode": self.status}
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(AppError):
    status, error, message = 400, "bad_request", "The request is not valid."


class ValidationFailed(AppError):
    status, error, message = 422, "validation_error", "Some fields are missing or invalid."


class Unauthorized(AppError):
    status, error, message = 401, "unauthorized", "Please sign in again."


class Forbidden(AppError):
    status, error, message = 403, "forbidden", "You do not have access to this resource."


class NotFound(AppError):
    status, error, message = 404, "not_found", "The requested resource was not found."


class Conflict(AppError):
    status, error, message = 409, "conflict", "This conflicts with existing data."


class Gone(AppError):
    status, error, message = 410, "gone", "This resource is no longer available."


class UpstreamError(AppError):
    """A service we depend on (Canvas, OpenAI, YouTube) failed or answered nonsense."""
    status, error, message = 502, "upstream_error", "An external service failed to answer."


class ServiceUnavailable(AppError):
    status, error, message = 503, "service_unavailable", "The service is temporarily unavailable."
