"""The only place that knows the xAPI collections.

* ``xapi_outbox`` — events waiting for, or done with, the LRS. One document per **batch**
  (one POST to the LRS): ``{_id, canvas_host, course_id, state: pending|delivered|dead,
  events: [{kind, id, student_id, course_id, at, …}], count, kinds: {answered: n, …},
  attempts, next_attempt_at, last_error, created_at, delivered_at}``. Batches rather than one
  document per statement because a course produces hundreds of thousands of statements: the
  delivery job reads, sends and marks one document per request, on MongoDB and on the embedded
  engine alike (which scans a collection on every query). A batch's ``_id`` is its natural key
  (Canvas host, course, what it was derived from, when, index), so deriving the same changes
  again inserts nothing. A delivered batch keeps its counts and drops its events (the LRS holds
  them now); a ``dead`` batch holds the statements the LRS refused, one per batch, with the
  LRS's own error in ``last_error``.
* ``xapi_courses`` — per course: whether the instructor turned delivery on (``enabled``), the
  derivation cursors (``derived_through``: stored changes up to this time are in the outbox;
  ``pending_through``: the latest completed course update), delivery counters and the last
  error, which instructors read as the course's delivery status.
* ``xapi_skill_state`` / ``xapi_answer_state`` — per (course, student): what the statements
  sent so far say (each skill's level and mastery, each answer's and quiz attempt's outcome and
  revision). New statements are derived as the difference between the stored data and this, so
  a second derivation of the same data derives nothing.

Every function takes the database scoped to one Canvas host (``knowgap.core.tenancy``): every
document carries ``canvas_host`` and ``course_id``, every ``_id`` is a host-prefixed natural key,
every filter names the host, and every index starts with it (``knowgap.core.indexes``), so the
same course id on two Canvas hosts is two courses. Only ``courses_due`` (the retry timer) looks
at every host, on purpose.
"""
from __future__ import annotations

import uuid

from pymongo import ASCENDING, ReplaceOne, ReturnDocument

from achieveup.mastery.store import fetch_all, insert_new
from knowgap.core.clock import utcnow
from knowgap.core.db import is_embedded
from knowgap.core.tenancy import key, unwrap, where

OUTBOX = "xapi_outbox"
COURSES = "xapi_courses"
SKILL_STATE = "xapi_skill_state"
ANSWER_STATE = "xapi_answer_state"
COLLECTIONS = (OUTBOX, COURSES, SKILL_STATE, ANSWER_STATE)

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def scope(db, course_id: str, **fields) -> dict:
    """The course's filter (and a new document's scope fields) on ``db``'s Canvas host."""
    return where(db, course_id=str(course_id), **fields)


# ------------------------------------------------------------------ course settings and status

def course_doc(db, course_id: str) -> dict:
    return db[COURSES].find_one({"_id": key(db, course_id)}) or {}


def _update_course(db, course_id: str, update: dict, *, upsert: bool = False):
    return db[COURSES].update_one({"_id": key(db, course_id)}, update, upsert=upsert)


def set_enabled(db, course_id: str, enabled: bool, by: str, now) -> dict:
    return db[COURSES].find_one_and_update(
        {"_id": key(db, course_id)},
        {"$set": {**scope(db, course_id), "enabled": bool(enabled), "enabled_by": by,
                  "enabled_changed_at": now}},
        upsert=True, return_document=ReturnDocument.AFTER)


def mark_pending(db, course_id: str, through) -> None:
    """A course update finished at ``through``: its stored changes may be derived now."""
    _update_course(db, course_id, {"$set": {**scope(db, course_id), "has_work": True,
                                            "work_token": uuid.uuid4().hex},
                                   "$max": {"pending_through": through}}, upsert=True)


def set_has_work(db, course_id: str) -> None:
    """New batches are waiting (the scheduler looks at ``has_work``)."""
    _update_course(db, course_id, {"$set": {**scope(db, course_id), "has_work": True,
                                            "work_token": uuid.uuid4().hex}}, upsert=True)


def clear_has_work(db, course_id: str, token) -> bool:
    """Nothing left to do, unless new work was signalled after ``token`` was read or a batch
    is still pending (e.g. waiting for its next attempt)."""
    if db[OUTBOX].find_one(scope(db, course_id, state=PENDING), {"_id": 1}):
        return False
    result = db[COURSES].update_one({"_id": key(db, course_id), "work_token": token},
                                    {"$set": {"has_work": False}})
    return result.modified_count == 1


def set_derived(db, course_id: str, through) -> None:
    _update_course(db, course_id, {"$max": {"derived_through": through}})


def record_delivery(db, course_id: str, *, delivered: int = 0, dead: int = 0,
                    error: str | None = None, next_attempt_at=None, now=None) -> None:
    """Counters and the last outcome shown in the course's delivery status."""
    now = now or utcnow()
    update: dict = {"$inc": {"delivered": delivered, "dead": dead}}
    if error is None:
        update["$set"] = {"last_delivery_at": now, "failures": 0, "next_attempt_at": None}
    else:
        update["$set"] = {"last_error": error[:500], "last_error_at": now,
                          "next_attempt_at": next_attempt_at}
        update["$inc"]["failures"] = 1
    _update_course(db, course_id, update)


def courses_due(db, now) -> list[dict]:
    """Courses of every Canvas host with work whose next attempt is due (the retry timer)."""
    return fetch_all(unwrap(db)[COURSES], {"has_work": True, "$or": [
        {"next_attempt_at": None}, {"next_attempt_at": {"$lte": now}}]},
        {"canvas_host": 1, "course_id": 1, "enabled": 1})


# ------------------------------------------------------------------ outbox

def batch_doc(db, course_id: str, batch_id: str, events: list[dict], now) -> dict:
    return {"_id": batch_id, **scope(db, course_id), "state": PENDING, "events": events,
            "count": len(events), "kinds": kind_counts(events), "attempts": 0,
            "next_attempt_at": now, "last_error": None, "created_at": now,
            "delivered_at": None}


def add_batches(db, docs: list[dict]) -> int:
    """Insert new batches; one whose ``_id`` exists (derived before) is left as it is."""
    inserted, _ = insert_new(db[OUTBOX], docs)
    return inserted


def next_due(db, course_id: str, now) -> dict | None:
    """The oldest pending batch of the course that may be tried now."""
    docs = fetch_all(db[OUTBOX], scope(db, course_id, state=PENDING,
                                       next_attempt_at={"$lte": now}),
                     {"events": 0}, sort=[("created_at", ASCENDING), ("_id", ASCENDING)])
    if not docs:
        return None
    return db[OUTBOX].find_one({"_id": docs[0]["_id"]})


def kind_counts(events) -> dict:
    kinds: dict = {}
    for e in events:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    return kinds


def mark_delivered(db, batch_id: str, now, delivered: list[dict], *, conflicts: int = 0) -> None:
    """The LRS has ``delivered`` (the batch's events less those dead-lettered apart)."""
    db[OUTBOX].update_one({"_id": batch_id}, {
        "$set": {"state": DELIVERED, "delivered_at": now, "last_error": None,
                 "conflicts": conflicts, "count": len(delivered),
                 "kinds": kind_counts(delivered)},
        "$unset": {"events": ""}, "$inc": {"attempts": 1}})


def mark_failed(db, batch_id: str, error: str, next_attempt_at) -> None:
    db[OUTBOX].update_one({"_id": batch_id}, {
        "$set": {"last_error": error[:500], "next_attempt_at": next_attempt_at},
        "$inc": {"attempts": 1}})


def dead_letter(db, course_id: str, event: dict, error: str, now) -> dict:
    """A statement the LRS (or our validation) refused: kept with the reason, never retried
    unless an instructor asks (``requeue_dead``)."""
    doc = batch_doc(db, course_id, key(db, course_id, "dead", event["id"]), [event], now)
    doc.update(state=DEAD, last_error=error[:500], attempts=1)
    db[OUTBOX].replace_one({"_id": doc["_id"]}, doc, upsert=True)
    return doc


def requeue_dead(db, course_id: str, now) -> int:
    result = db[OUTBOX].update_many(scope(db, course_id, state=DEAD),
                                    {"$set": {"state": PENDING, "next_attempt_at": now}})
    if result.modified_count:
        _update_course(db, course_id, {"$inc": {"dead": -result.modified_count}})
    return result.modified_count


def outbox_summary(db, course_id: str) -> dict:
    """Statements per state and per kind, the oldest pending one, the dead letters."""
    docs = fetch_all(db[OUTBOX], scope(db, course_id), {"events": 0})
    totals = {PENDING: 0, DELIVERED: 0, DEAD: 0}
    kinds: dict = {}
    oldest = None
    for d in docs:
        totals[d["state"]] = totals.get(d["state"], 0) + d.get("count", 0)
        for kind, n in (d.get("kinds") or {}).items():
            slot = kinds.setdefault(kind, {PENDING: 0, DELIVERED: 0, DEAD: 0})
            slot[d["state"]] += n
        if d["state"] == PENDING and (oldest is None or d["created_at"] < oldest):
            oldest = d["created_at"]
    dead = fetch_all(db[OUTBOX], scope(db, course_id, state=DEAD),
                     sort=[("created_at", ASCENDING)])
    return {"totals": totals, "kinds": kinds, "oldest_pending_at": oldest,
            "dead_letters": [{"statement_id": d["events"][0]["id"],
                              "kind": d["events"][0]["kind"], "error": d.get("last_error"),
                              "at": d.get("created_at")} for d in dead[:50] if d.get("events")]}


# ------------------------------------------------------------------ derivation state

def states(db, collection: str, course_id: str) -> dict[str, dict]:
    """``{student_id: state document}`` of the course."""
    return {d["student_id"]: d for d in fetch_all(db[collection], scope(db, course_id))}


def save_states(db, collection: str, course_id: str, states: dict, changed: dict,
                now) -> int:
    """Store the course's state documents after ``changed`` (``{student_id: new fields}``)
    replaced those of some students in ``states`` (from :func:`states`): one bulk request on
    MongoDB; the embedded engine, whose update by ``_id`` scans the collection, deletes the
    course's and re-inserts them, as ``achieveup.mastery.store.replace_course_docs`` does."""
    if not changed:
        return 0
    for sid, fields in changed.items():
        states[sid] = {"_id": key(db, course_id, sid),
                       **scope(db, course_id, student_id=str(sid)), **fields}
    docs = list(states.values())
    for d in docs:
        d["updated_at"] = now
    if is_embedded(db):
        db[collection].delete_many(scope(db, course_id))
        db[collection].insert_many(docs, ordered=False)
        return len(docs)
    db[collection].bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs],
                              ordered=False)
    return len(docs)
