"""The only place that knows the tutor's collections. ``db`` is scoped to a Canvas host
(``knowgap.core.tenancy``): every document carries ``canvas_host`` and every query filters by
it, besides course and student.

- ``knowgap_tutor_sessions`` {_id (random, unguessable), canvas_host, course_id, student_id,
  quiz_id, question_id, state active|ended, grounding {the material sent to the model,
  ``knowgap.tutor.prompt.Grounding``}, messages, created_at, updated_at, checked_at, ended_at}
- ``knowgap_tutor_messages`` {_id (random), canvas_host, course_id, student_id, session_id,
  seq, role user|assistant, content, status (user: answered|pending|unanswered; assistant:
  complete|incomplete), source ai|offline (assistant), error {code, message}, tokens,
  created_at}
- ``knowgap_tutor_usage`` {_id host|course|day, canvas_host, course_id, day (UTC YYYY-MM-DD),
  tokens, ai_answers, offline_answers}: the course's daily model budget
"""
from __future__ import annotations

import secrets

from pymongo import ReturnDocument

from knowgap.core.clock import utcnow
from knowgap.core.tenancy import key, where

SESSIONS = "knowgap_tutor_sessions"
MESSAGES = "knowgap_tutor_messages"
USAGE = "knowgap_tutor_usage"

_PUBLIC = {"canvas_host": 0}


def new_id() -> str:
    return secrets.token_hex(12)


# ------------------------------------------------------------------ sessions
def active_session(db, course_id: str, student_id: str, question_id: str) -> dict | None:
    return db[SESSIONS].find_one(where(db, course_id=course_id, student_id=student_id,
                                       question_id=question_id, state="active"), _PUBLIC)


def create_session(db, course_id: str, student_id: str, quiz_id: str, question_id: str,
                   grounding: dict) -> dict:
    now = utcnow()
    doc = {"_id": new_id(), **where(db, course_id=course_id, student_id=student_id),
           "quiz_id": quiz_id, "question_id": question_id, "state": "active",
           "grounding": grounding, "messages": 0, "created_at": now, "updated_at": now,
           "checked_at": now, "ended_at": None}
    db[SESSIONS].insert_one(doc)
    doc.pop("canvas_host")
    return doc


def get_session(db, session_id: str) -> dict | None:
    """The session, when it is this host's (ownership is the caller's to check)."""
    return db[SESSIONS].find_one(where(db, _id=session_id), _PUBLIC)


def sessions_of(db, student_id: str, course_id: str | None = None) -> list[dict]:
    query = where(db, student_id=student_id)
    if course_id:
        query["course_id"] = course_id
    return list(db[SESSIONS].find(query, {**_PUBLIC, "grounding": 0})
                .sort([("updated_at", -1)]).limit(500))


def touch_session(db, session_id: str, **fields) -> None:
    db[SESSIONS].update_one(where(db, _id=session_id),
                            {"$set": {"updated_at": utcnow(), **fields}})


def end_session(db, session_id: str) -> dict | None:
    now = utcnow()
    return db[SESSIONS].find_one_and_update(
        where(db, _id=session_id, state="active"),
        {"$set": {"state": "ended", "ended_at": now, "updated_at": now}},
        projection={**_PUBLIC, "grounding": 0}, return_document=ReturnDocument.AFTER)


def question_counts(db, course_id: str) -> list[dict]:
    """Per question: sessions, distinct students and student messages (never their text)."""
    out: dict[str, dict] = {}
    for doc in db[SESSIONS].find(where(db, course_id=course_id),
                                 {"quiz_id": 1, "question_id": 1, "student_id": 1,
                                  "messages": 1}):
        row = out.setdefault(doc["question_id"], {"quiz_id": doc["quiz_id"],
                                                  "question_id": doc["question_id"],
                                                  "sessions": 0, "students": set(),
                                                  "messages": 0})
        row["sessions"] += 1
        row["students"].add(doc["student_id"])
        row["messages"] += doc.get("messages") or 0
    return [{**row, "students": len(row["students"])}
            for row in sorted(out.values(), key=lambda r: (-r["sessions"], r["question_id"]))]


# ------------------------------------------------------------------ messages
def add_message(db, session: dict, role: str, content: str, status: str, **fields) -> dict:
    """Append a message (``seq`` from the session's counter, so concurrent sends keep order)."""
    counted = db[SESSIONS].find_one_and_update(
        where(db, _id=session["_id"]), {"$inc": {"messages": 1},
                                        "$set": {"updated_at": utcnow()}},
        projection={"messages": 1}, return_document=ReturnDocument.AFTER)
    doc = {"_id": new_id(), **where(db, course_id=session["course_id"],
                                    student_id=session["student_id"]),
           "session_id": session["_id"], "seq": counted["messages"], "role": role,
           "content": content, "status": status, "created_at": utcnow(), **fields}
    db[MESSAGES].insert_one(doc)
    doc.pop("canvas_host")
    return doc


def update_message(db, message_id: str, **fields) -> None:
    db[MESSAGES].update_one(where(db, _id=message_id), {"$set": fields})


def messages_of(db, session_id: str) -> list[dict]:
    return list(db[MESSAGES].find(where(db, session_id=session_id), _PUBLIC).sort("seq", 1))


# ------------------------------------------------------------------ course budget
def tokens_used(db, course_id: str, day: str) -> int:
    doc = db[USAGE].find_one({"_id": key(db, course_id, day)}, {"tokens": 1})
    return int((doc or {}).get("tokens") or 0)


def add_usage(db, course_id: str, day: str, *, tokens: int, source: str) -> None:
    db[USAGE].update_one({"_id": key(db, course_id, day)},
                         {"$inc": {"tokens": int(tokens), f"{source}_answers": 1},
                          "$setOnInsert": where(db, course_id=course_id, day=day)},
                         upsert=True)
