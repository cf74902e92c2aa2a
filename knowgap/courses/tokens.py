"""Registered Canvas tokens and the periodic course refresh (``/add-token``).

A token is stored encrypted (AES-GCM, owner-bound to the Canvas user id) with the courses it
was registered for. Each course gets one schedule entry (``knowgap_sync_schedule``) listing the
registered users, split into instructors and students: the refresh job uses an instructor's
token when there is one (it sees every student) and falls back to each student's own token.
Due-ness is an explicit ``next_due_at`` compared by ``schedule_due_syncs`` (no TTL tricks).

- ``knowgap_tokens`` {canvas_host, base_url, canvas_user_id, token_enc, fingerprint, course_ids,
  roles {course_id: [role]}, invalid_at, created_at, updated_at} unique (canvas_host,
  canvas_user_id)
- ``knowgap_sync_schedule`` {canvas_host, base_url, course_id, instructors [uid], students
  [uid], next_due_at, last_enqueued_at, last_synced_at, last_result} unique (canvas_host,
  course_id)

``base_url`` is the Canvas origin the refresh talks to; ``canvas_host`` the tenant key (from the
same verified link). ``db`` is scoped to that host, except in ``due_courses``, which the
scheduler runs over every host.
"""
from __future__ import annotations

import datetime as dt

from knowgap.core.clock import utcnow

from knowgap.canvas.roles import INSTRUCTOR_TYPES, course_roles
from knowgap.core.crypto import token_fingerprint
from knowgap.core.errors import Forbidden
from knowgap.core.tenancy import where

TOKENS = "knowgap_tokens"
SCHEDULE = "knowgap_sync_schedule"
JOB_KIND = "knowgap_course_sync"


def register_token(svc, caller, course_ids: list[str] | None) -> dict:
    """Store the token for refreshes of the courses Canvas shows the caller active in:
    ``course_ids`` when given (each must be one of them), else all of them."""
    courses = caller.canvas(svc.config, deadline=svc.config.canvas_timeout_seconds).run(
        lambda client: client.list_courses())
    roles = {str(c.get("id")): sorted(course_roles(c)) for c in courses if isinstance(c, dict)}
    if course_ids is None:
        wanted = [cid for cid, held in roles.items() if held]
    else:
        wanted = list(dict.fromkeys(str(c) for c in course_ids))
    missing = [c for c in wanted if not roles.get(c)]
    if missing:
        raise Forbidden(f"You are not enrolled in course(s) {', '.join(missing)} in Canvas.",
                        error="not_enrolled")
    now = utcnow()
    db = svc.db
    db[TOKENS].update_one(
        where(db, canvas_user_id=caller.user_id),
        {"$set": {"base_url": caller.base_url,
                  "token_enc": svc.cipher.encrypt(caller.token, owner=caller.user_id),
                  "fingerprint": token_fingerprint(caller.token),
                  "roles": {c: roles[c] for c in wanted}, "invalid_at": None,
                  "updated_at": now},
         "$addToSet": {"course_ids": {"$each": wanted}},
         "$setOnInsert": {"created_at": now}}, upsert=True)
    for cid in wanted:
        teaches = bool(set(roles[cid]) & INSTRUCTOR_TYPES)
        db[SCHEDULE].update_one(
            where(db, course_id=cid),
            {"$set": {"base_url": caller.base_url},
             "$addToSet": {"instructors" if teaches else "students": caller.user_id},
             "$setOnInsert": {"next_due_at": now, "created_at": now}}, upsert=True)
    return {"status": "success", "user_id": caller.user_id, "course_ids": wanted,
            "sync_every_minutes": svc.config.knowgap_sync_minutes}


def load_token(svc, user_id: str) -> str | None:
    doc = svc.db[TOKENS].find_one(where(svc.db, canvas_user_id=user_id))
    if not doc or doc.get("invalid_at"):
        return None
    return svc.cipher.decrypt(doc["token_enc"], owner=user_id)


def mark_invalid(svc, user_id: str) -> None:
    svc.db[TOKENS].update_one(where(svc.db, canvas_user_id=user_id),
                              {"$set": {"invalid_at": utcnow()}})


def due_courses(db, now: dt.datetime) -> list[dict]:
    """Schedule entries whose refresh is due, of every Canvas host (``db`` unscoped)."""
    return list(db[SCHEDULE].find({"next_due_at": {"$lte": now}}))


def mark_enqueued(db, entry: dict, now: dt.datetime, minutes: int) -> None:
    db[SCHEDULE].update_one({"_id": entry["_id"], "canvas_host": entry["canvas_host"]},
                            {"$set": {"next_due_at": now + dt.timedelta(minutes=minutes),
                                      "last_enqueued_at": now}})


def record_result(db, course_id: str, result: dict) -> None:
    db[SCHEDULE].update_one(where(db, course_id=course_id),
                            {"$set": {"last_synced_at": utcnow(), "last_result": result}})


def schedule_entry(db, course_id: str) -> dict | None:
    return db[SCHEDULE].find_one(where(db, course_id=course_id))
