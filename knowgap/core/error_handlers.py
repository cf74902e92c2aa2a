"""Render every failure as the JSON envelope, whatever raised it."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError
from werkzeug.exceptions import HTTPException

from knowgap.core.errors import AppError, ServiceUnavailable

log = logging.getLogger("knowgap.errors")

HTTP_MESSAGES = {
    400: ("bad_request", "The request could not be understood. Send valid JSON."),
    401: ("unauthorized", "Please sign in again."),
    403: ("forbidden", "You do not have access to this resource."),
    404: ("not_found", "No such endpoint or resource. Check the URL."),
    405: ("method_not_allowed", "This endpoint does not accept that HTTP method."),
    413: ("payload_too_large", "The request body is too large. Send a smaller request."),
    415: ("unsupported_media_type", "Send the body as JSON with Content-Type: application/json."),
    429: ("rate_limited", "Too many requests. Please wait a moment and try again."),
}


def _flatten_validation(messages) -> dict:
    """webargs nests errors by location ({'json': {field: [...]}}); clients want fields."""
    if not isinstance(messages, dict):
        return {"_schema": messages if isinstance(messages, list) else [str(messages)]}
    flat: dict = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            flat.update(errors)
        else:
            flat[location] = errors
    return flat


def _response(err: AppError):
    response = jsonify(err.to_dict())
    response.status_code = err.status
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


def _validation_message(details: dict) -> str:
    names = ", ".join(sorted(str(k) for k in details)[:5])
    return f"Some fields are missing or invalid: {names}. Fix them and try again."


def handle_http_exception(exc: HTTPException):
    code = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if code in (400, 422) and "messages" in data:
        details = _flatten_validation(data["messages"])
        return _response(AppError(_validation_message(details), error="validation_error",
                                  status=code, details=details))
    error, message = HTTP_MESSAGES.get(code, ("http_error", exc.description or "Request failed."))
    headers = {}
    valid_methods = getattr(exc, "valid_methods", None)
    if code == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    if code == 429:
        retry = getattr(exc, "retry_after", None)
        limit = getattr(exc, "description", None)
        if retry:
            headers["Retry-After"] = str(retry)
        if limit:
            message = f"Too many requests ({limit}). Please wait a moment and try again."
    return _response(AppError(message, error=error, status=code, headers=headers))


def handle_app_error(exc: AppError):
    if exc.status >= 500:
        log.warning("request_id=%s %s: %s", g.get("request_id"), exc.error, exc.message)
    return _response(exc)


def handle_db_down(exc: Exception):
    log.error("request_id=%s database unreachable: %s", g.get("request_id"), type(exc).__name__)
    return _response(ServiceUnavailable(
        "The database is unreachable right now. Please try again in a minute.",
        error="database_unavailable"))


def handle_unexpected(exc: Exception):
    log.exception("request_id=%s unhandled error", g.get("request_id"))
    return _response(AppError(
        f"Something went wrong on our side (request id {g.get('request_id', '-')}). "
        "Please try again later."))


# What every error body looks like, for the OpenAPI document. flask-smorest documents its own
# ``{code, status, message, errors}`` schema (with additionalProperties false) as "Error" for
# every default/4xx response; our handlers never emit that shape, so clients generated from
# the document (and schema-based fuzzers) would reject every real error. Replace it.
ERROR_ENVELOPE_SCHEMA = {
    "type": "object",
    "required": ["error", "message", "statusCode"],
    "properties": {
        "error": {"type": "string", "description": "Short machine-readable code."},
        "message": {"type": "string", "minLength": 1,
                    "description": "A sentence the user can act on."},
        "statusCode": {"type": "integer", "description": "The HTTP status, repeated."},
        "details": {"type": "object", "additionalProperties": True,
                    "description": "Validation errors: {field: [reasons]}."},
    },
    "additionalProperties": False,
}


def _document_error_envelope(app: Flask) -> None:
    ext = app.extensions.get("flask-smorest") or {}
    for entry in (ext.get("apis") or {}).values():
        api = entry.get("ext_obj")
        schemas = getattr(getattr(getattr(api, "spec", None), "components", None), "schemas",
                          None)
        if isinstance(schemas, dict):
            schemas["Error"] = dict(ERROR_ENVELOPE_SCHEMA)


def register_error_handlers(app: Flask) -> None:
    from knowgap.core.json_guard import init_json_guard

    _document_error_envelope(app)
    init_json_guard(app)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(ServerSelectionTimeoutError, handle_db_down)
    app.register_error_handler(ConnectionFailure, handle_db_down)
    app.register_error_handler(Exception, handle_unexpected)
