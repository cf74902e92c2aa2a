"""One structured log line per request, tagged with a request id.

Only method, path, status, duration and ids are logged: never bodies, query strings, or
headers, which is where passwords and tokens travel.
"""
from __future__ import annotations

import json
import logging
import time
import uuid

from flask import Flask, g, request

log = logging.getLogger("knowgap.request")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        extra = getattr(record, "fields", None)
        if extra:
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_knowgap", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        handler._knowgap = True
        root.addHandler(handler)
    root.setLevel(level.upper())


def init_request_log(app: Flask) -> None:
    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        duration_ms = round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if g.get("canvas_stale"):
            # Canvas failed and a cached copy was served: say so to clients and in the log.
            response.headers["X-Cache-Stale"] = "true"
        log.info("request", extra={"fields": {
            "method": request.method, "path": request.path, "status": response.status_code,
            "duration_ms": duration_ms, "request_id": g.get("request_id"),
            "stale": response.headers.get("X-Cache-Stale") == "true" or None}})
        return response
