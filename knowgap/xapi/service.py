"""A course's xAPI delivery as its instructors see and switch it."""
from __future__ import annotations

from urllib.parse import urlsplit

from knowgap.core.clock import iso, utcnow
from knowgap.xapi import delivery, store


def lrs_origin(config) -> str | None:
    """Where statements go, without credentials or path."""
    if not config.xapi_lrs_url:
        return None
    parts = urlsplit(config.xapi_lrs_url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _state(enabled: bool, totals: dict, doc: dict) -> str:
    if not enabled:
        return "off"
    if totals["dead"]:
        return "attention"
    if doc.get("next_attempt_at") and totals["pending"]:
        return "waiting"
    if totals["pending"] or (doc.get("pending_through") and (
            doc.get("derived_through") is None
            or doc["derived_through"] < doc["pending_through"])):
        return "sending"
    return "idle"


def status(db, config, course_id: str) -> dict:
    doc = store.course_doc(db, course_id)
    summary = store.outbox_summary(db, course_id)
    enabled = delivery.course_enabled(config, doc)
    return {
        "course_id": str(course_id), "configured": delivery.configured(config),
        "lrs": lrs_origin(config), "enabled": enabled,
        "enabled_by_default": bool(config.xapi_default_on),
        "statements": summary["totals"], "by_kind": summary["kinds"],
        "oldest_pending_at": iso(summary["oldest_pending_at"]),
        "last_delivery_at": iso(doc.get("last_delivery_at")),
        "last_error": doc.get("last_error"), "last_error_at": iso(doc.get("last_error_at")),
        "next_attempt_at": iso(doc.get("next_attempt_at")),
        "derived_through": iso(doc.get("derived_through")),
        "state": _state(enabled, summary["totals"], doc),
        "dead_letters": [{**d, "at": iso(d["at"])} for d in summary["dead_letters"]],
    }


def set_enabled(db, config, course_id: str, enabled: bool, user_id: str) -> dict:
    """Switch the course; turning it on queues a delivery run that sends what is stored."""
    now = utcnow()
    store.set_enabled(db, course_id, enabled, user_id, now)
    if enabled and delivery.configured(config):
        # what the course's last finished update stored (a sync still running is derived
        # when it finishes; see knowgap.xapi.delivery)
        through = delivery.last_update_at(db, course_id)
        if through is not None:
            store.mark_pending(db, course_id, through)
        delivery.enqueue(db, course_id)
    return status(db, config, course_id)


def retry_dead(db, config, course_id: str) -> dict:
    requeued = store.requeue_dead(db, course_id, utcnow())
    if requeued:
        store.set_has_work(db, course_id)
        if delivery.course_enabled(config, store.course_doc(db, course_id)):
            delivery.enqueue(db, course_id)
    return {**status(db, config, course_id), "requeued": requeued}
