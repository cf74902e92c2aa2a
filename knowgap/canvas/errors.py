"""Canvas failures as ``AppError``s, so views need no try/except and users get a next step.

The split matters to callers: ``CanvasTokenInvalid`` means "ask the user for a new token",
``CanvasPermissionDenied`` means "this token may not see that", and only ``CanvasUnavailable`` /
``CanvasBadResponse`` are transient enough that serving a stale cached copy is right.
"""
from __future__ import annotations

from knowgap.core.errors import AppError


class CanvasError(AppError):
    """Base class of every Canvas failure."""
    status, error, message = 502, "canvas_error", "Canvas could not be reached. Please try again."


class CanvasTokenInvalid(CanvasError):
    status, error = 401, "canvas_token_invalid"
    message = ("Your Canvas token is invalid or expired. Generate a new one in Canvas and save "
               "it in Settings.")


class CanvasPermissionDenied(CanvasError):
    status, error = 403, "canvas_permission_denied"
    message = "Canvas says you do not have permission for this course or resource."


class CanvasNotFound(CanvasError):
    status, error = 404, "canvas_not_found"
    message = "Canvas has no such course or resource. Check the id and try again."


class CanvasConflict(CanvasError):
    """409: e.g. a New Quizzes report of that type is already being generated."""
    status, error = 409, "canvas_conflict"
    message = "Canvas is already working on this request. Please try again in a minute."


class CanvasUnavailable(CanvasError):
    """Canvas kept failing (5xx, throttling, network) or did not answer before the deadline."""
    status, error = 502, "canvas_unavailable"
    message = "Canvas is not answering right now. Please try again in a few minutes."


class CanvasBadResponse(CanvasError):
    status, error = 502, "canvas_bad_response"
    message = "Canvas sent a response we could not read. Please try again later."


class CanvasBadRequest(CanvasBadResponse):
    """400: Canvas refused what we sent (e.g. a New Quizzes report format it will not build)."""
    message = ("Canvas refused the request (HTTP 400). Please try again later or contact "
               "support.")


def canvas_timeout(seconds: float) -> CanvasUnavailable:
    return CanvasUnavailable(f"Canvas did not answer within {seconds:g} seconds. "
                             "Please try again in a few minutes.", status=504)


# Failures for which a stale cached copy is a better answer than an error.
TRANSIENT = (CanvasUnavailable, CanvasBadResponse)
