"""The only place that knows KnowGap's course collections and their queries.

Every document also carries ``canvas_host`` and every query filters by it: ``db`` is scoped to
the caller's Canvas host (``knowgap.core.tenancy``), and the keys below are per host.

Collections (all ids are strings):
- ``knowgap_quizzes``  {course_id, quiz_id, title, assignment_id, points_possible, base_url,
  source classic|new, allowed_attempts (-1 unlimited), lock_at (Canvas' string), synced_at}
  unique (course_id, quiz_id)
- ``knowgap_questions`` {course_id, quiz_id, question_id, position, question_type,
  question_html (as Canvas sent it), question_text (clean text), text_hash, points_possible,
  correct_comments, incorrect_comments, neutral_comments, answers [{id, text, correct,
  comments}] (the instructor's feedback as text, ``knowgap.courses.feedback``), core_topic,
  topic_source ai|heuristic|cache, topic_key, video {title, link, channel, thumbnail,
  video_id} | None, video_status, video_checked_at, video_override, synced_at}
  unique (course_id, question_id)
- ``knowgap_incorrect_answers`` {course_id, student_id, quizzes: {quiz_id: {incorrect [qid],
  correct [qid], picked [{question_id, answer_ids, text?}] (the wrong answers' choices and
  typed text), attempt, graded_at, synced_at}}, synced_at} unique (course_id, student_id)
- ``knowgap_course_context`` {course_id, course_context, context_hash, updated_by, updated_at}
- ``knowgap_sync_state`` {course_id, base_url, cursor (max ``graded_at`` seen, Canvas' string),
  full_synced_at, quizzes [{quiz_id, assignment_id, signature}], pending_reports [{quiz_id,
  progress_url}] (New Quizzes whose report to ask for again), mode, rev, updated_at}
  one per course: what an instructor's incremental sync starts from (see ``service``)
"""
from __future__ import annotations

import hashlib
import re

from pymongo import UpdateOne

from knowgap.core.clock import utcnow
from knowgap.core.db import is_embedded
from knowgap.core.tenancy import where
from knowgap.courses.feedback import question_feedback
from knowgap.topics.text import html_to_text, question_hash

QUIZZES = "knowgap_quizzes"
QUESTIONS = "knowgap_questions"
INCORRECT = "knowgap_incorrect_answers"
CONTEXT = "knowgap_course_context"
SYNC_STATE = "knowgap_sync_state"

NO_TOPIC_TYPES = frozenset({"text_only_question"})   # instructions, not questions
QUIZ_KEY = re.compile(r"^(nq-)?[0-9]+$")


def write_updates(db, collection: str, updates: list[tuple[dict, dict]], *,
                  upsert: bool = False) -> None:
    """Many ``update_one``s: one ``bulk_write`` on MongoDB; a loop on the embedded engine
    (mongomock's bulk API does not accept current pymongo ``UpdateOne`` objects)."""
    if not updates:
        return
    coll = db[collection]
    if is_embedded(db):
        for query, update in updates:
            coll.update_one(query, update, upsert=upsert)
    else:
        coll.bulk_write([UpdateOne(q, u, upsert=upsert) for q, u in updates], ordered=False)


# ------------------------------------------------------------------ quizzes
def save_quizzes(db, course_id: str, quizzes: list[dict], base_url: str, *,
                 prune: bool) -> dict[str, dict]:
    """Upsert quizzes; with ``prune`` delete the course's quizzes Canvas no longer lists."""
    now = utcnow()
    ops, by_id = [], {}
    for q in quizzes:
        qid = str(q["id"])
        doc = {"course_id": course_id, "quiz_id": qid, "title": q.get("title") or f"Quiz {qid}",
               "assignment_id": str(q["assignment_id"]) if q.get("assignment_id") else None,
               "points_possible": q.get("points_possible"), "base_url": base_url,
               "source": q.get("source") or "classic",
               "allowed_attempts": q.get("allowed_attempts"), "lock_at": q.get("lock_at"),
               "synced_at": now}
        by_id[qid] = doc
        ops.append((where(db, course_id=course_id, quiz_id=qid), {"$set": doc}))
    write_updates(db, QUIZZES, ops, upsert=True)
    if prune:
        db[QUIZZES].delete_many(where(db, course_id=course_id, quiz_id={"$nin": list(by_id)}))
    return by_id


def quiz_of(db, course_id: str, quiz_id: str) -> dict | None:
    return db[QUIZZES].find_one(where(db, course_id=course_id, quiz_id=str(quiz_id)), {"_id": 0})


def quiz_titles(db, course_id: str) -> dict[str, str]:
    return {d["quiz_id"]: d.get("title", "") for d in
            db[QUIZZES].find(where(db, course_id=course_id), {"quiz_id": 1, "title": 1})}


# ------------------------------------------------------------------ questions
def save_questions(db, course_id: str, questions_by_quiz: dict, *, prune: bool) -> int:
    """Upsert questions (original HTML kept, clean text and its hash for topics).

    Topic/video fields are never touched here: whether they are stale is decided by comparing
    ``topic_key`` with the current text hash and course context when content is generated.
    """
    now = utcnow()
    ops, seen = [], []
    for quiz_id, questions in questions_by_quiz.items():
        for q in questions or []:
            qid = str(q["id"])
            seen.append(qid)
            html = q.get("question_text") or ""
            ops.append((
                where(db, course_id=course_id, question_id=qid),
                {"$set": {"quiz_id": str(q.get("quiz_id") or quiz_id),
                          "position": q.get("position"),
                          "question_name": q.get("question_name"),
                          "question_type": q.get("question_type"),
                          "question_html": html,
                          "question_text": html_to_text(html),
                          "text_hash": question_hash(html),
                          "points_possible": q.get("points_possible"),
                          **question_feedback(q), "synced_at": now},
                 "$setOnInsert": {"core_topic": None, "topic_source": None, "topic_key": None,
                                  "video": None, "video_status": None, "video_override": False}}))
    write_updates(db, QUESTIONS, ops, upsert=True)
    if prune:
        db[QUESTIONS].delete_many(where(db, course_id=course_id,
                                        quiz_id={"$in": [str(k) for k in questions_by_quiz]},
                                        question_id={"$nin": seen}))
    return len(seen)


def question_count(db, course_id: str) -> int:
    return db[QUESTIONS].count_documents(where(db, course_id=course_id))


def questions_of(db, course_id: str, question_ids=None) -> list[dict]:
    query: dict = where(db, course_id=course_id)
    if question_ids is not None:
        query["question_id"] = {"$in": [str(q) for q in question_ids]}
    return list(db[QUESTIONS].find(query, {"_id": 0}).sort([("quiz_id", 1), ("position", 1)]))


def find_question(db, quiz_id: str, question_id: str, course_id: str | None = None):
    query = where(db, quiz_id=str(quiz_id), question_id=str(question_id))
    if course_id:
        query["course_id"] = str(course_id)
    return db[QUESTIONS].find_one(query, {"_id": 0})


def update_question(db, course_id: str, question_id: str, fields: dict) -> None:
    db[QUESTIONS].update_one(where(db, course_id=course_id, question_id=question_id),
                             {"$set": fields})


def update_generated(db, course_id: str, results: list[tuple[str, dict]]) -> None:
    """Store generated topics/videos (``[(question_id, fields)]``), never over an override."""
    write_updates(db, QUESTIONS, [
        (where(db, course_id=course_id, question_id=qid, video_override={"$ne": True}),
         {"$set": fields}) for qid, fields in results])


# ------------------------------------------------------------------ incorrect answers
def save_incorrect(db, course_id: str, rows: list[dict]) -> int:
    """``rows``: {student_id, quiz_id, incorrect, correct, attempt, graded_at}.

    One document per (course, student) with a ``quizzes`` map, each quiz entry replaced as a
    whole: a student's view is one read, and a 300-student x 15-quiz course is 300 upserts.
    """
    now = utcnow()
    by_student: dict[str, dict] = {}
    for r in rows:
        if not QUIZ_KEY.match(str(r["quiz_id"])):
            continue       # map keys must be plain: Canvas ids are numbers, New Quizzes' nq-<n>
        entry = {k: r[k] for k in ("incorrect", "correct", "picked", "attempt", "graded_at")
                 if k in r}
        entry["synced_at"] = now
        by_student.setdefault(r["student_id"], {})[f"quizzes.{r['quiz_id']}"] = entry
    write_updates(db, INCORRECT, [
        (where(db, course_id=course_id, student_id=sid), {"$set": {**fields, "synced_at": now}})
        for sid, fields in by_student.items()], upsert=True)
    return sum(len(r["incorrect"]) for r in rows)


def incorrect_totals(db, course_id: str, quiz_ids) -> tuple[int, int]:
    """(students with at least one stored quiz entry, incorrect answers) over ``quiz_ids``."""
    keep = {str(q) for q in quiz_ids}
    students = answers = 0
    for doc in db[INCORRECT].find(where(db, course_id=course_id), {"quizzes": 1}):
        entries = [e for qid, e in (doc.get("quizzes") or {}).items() if qid in keep]
        students += bool(entries)
        answers += sum(len(e.get("incorrect") or []) for e in entries)
    return students, answers


def drop_other_quizzes(db, course_id: str, quiz_ids) -> None:
    """Delete the questions and incorrect-answer entries of quizzes not in ``quiz_ids`` (quizzes
    deleted in Canvas; their quiz records are pruned by ``save_quizzes``)."""
    keep = [str(q) for q in quiz_ids]
    db[QUESTIONS].delete_many(where(db, course_id=course_id, quiz_id={"$nin": keep}))
    stale: set[str] = set()
    for doc in db[INCORRECT].find(where(db, course_id=course_id), {"quizzes": 1}):
        stale.update(set(doc.get("quizzes") or {}) - set(keep))
    for qid in stale:
        db[INCORRECT].update_many(where(db, course_id=course_id,
                                        **{f"quizzes.{qid}": {"$exists": True}}),
                                  {"$unset": {f"quizzes.{qid}": ""}})


def incorrect_of(db, course_id: str, student_id: str) -> list[dict]:
    """The student's rows ``{quiz_id, incorrect, correct, attempt, graded_at}``, by quiz."""
    doc = db[INCORRECT].find_one(where(db, course_id=course_id, student_id=str(student_id))) or {}
    return [{"quiz_id": qid, **entry} for qid, entry in
            sorted((doc.get("quizzes") or {}).items())]


# ------------------------------------------------------------------ incremental sync state
def get_sync_state(db, course_id: str) -> dict | None:
    return db[SYNC_STATE].find_one(where(db, course_id=course_id), {"_id": 0})


def save_sync_state(db, course_id: str, state: dict, expected_rev) -> bool:
    """Write the state if nobody else wrote it since it was read (``rev``); a sync that lost
    the race leaves the winner's state (its data was stored all the same)."""
    doc = {**state, **where(db, course_id=course_id), "rev": (expected_rev or 0) + 1,
           "updated_at": utcnow()}
    if expected_rev is None:
        if db[SYNC_STATE].find_one(where(db, course_id=course_id), {"_id": 1}) is not None:
            return False
        db[SYNC_STATE].update_one(where(db, course_id=course_id), {"$set": doc}, upsert=True)
        return True
    result = db[SYNC_STATE].update_one(where(db, course_id=course_id, rev=expected_rev),
                                       {"$set": doc})
    return result.matched_count == 1


# ------------------------------------------------------------------ course context
def context_hash(text: str | None) -> str:
    return hashlib.sha256((text or "").strip().encode()).hexdigest()[:16]


def get_context(db, course_id: str) -> tuple[str, str]:
    doc = db[CONTEXT].find_one(where(db, course_id=course_id)) or {}
    text = doc.get("course_context") or ""
    return text, context_hash(text)


def set_context(db, course_id: str, text: str, updated_by: str) -> str:
    h = context_hash(text)
    db[CONTEXT].update_one(where(db, course_id=course_id),
                           {"$set": {"course_context": text, "context_hash": h,
                                     "updated_by": updated_by, "updated_at": utcnow()}},
                           upsert=True)
    return h
