"""The only place that knows the names and shapes of the synced/derived AchieveUp collections.

Key decisions (see also the module docstrings of ``service`` and ``achieveup.sync.service``):

* Natural keys are encoded in a deterministic string ``_id`` ("course|student|quiz|question|
  attempt" for results, "course|student" for summaries, a hash for badges). The ``_id`` index is
  unique in every MongoDB, so an insert can never duplicate a key and an upsert by ``_id`` is an
  O(1) lookup. Compound *unique* indexes over the same fields would add nothing but cost: the
  embedded engine (mongomock) checks a compound unique index by scanning the whole collection on
  every insert, which is quadratic.
* Bulk reads go through :func:`fetch_all`: mongomock's cursor re-slices its result list on every
  ``next()`` (quadratic in the result size), so on the embedded engine we take the computed
  result list in one step.
* ``AchieveUp_Student_Evidence`` is a packed mirror of each student's rows in
  ``AchieveUp_Question_Results`` (one document per course+student, rebuilt whenever that
  student's results change) so a whole-course recompute reads one document per student instead
  of one per answered question.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Iterable

from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

QUIZZES = "AchieveUp_Canvas_Quizzes"
QUESTIONS = "AchieveUp_Canvas_Questions"
STUDENTS = "AchieveUp_Canvas_Students"
RESULTS = "AchieveUp_Question_Results"
EVIDENCE = "AchieveUp_Student_Evidence"
MASTERY = "AchieveUp_Student_Mastery"
BADGES = "AchieveUp_Badges"
SYNC_STATE = "AchieveUp_Sync_State"
SETTINGS = "AchieveUp_Course_Settings"
MATRICES = "AchieveUp_Skill_Matrices"
QUESTION_SKILLS = "AchieveUp_Question_Skills"
USERS = "AchieveUp_Users"

SEP = "|"


def utcnow() -> dt.datetime:
    now = dt.datetime.now(dt.timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return str(value)


def is_embedded(db: Database) -> bool:
    return type(db).__module__.startswith("mongomock")


def fetch_all(collection, query: dict, projection: dict | None = None, sort=None) -> list[dict]:
    """All matching documents as a list, without mongomock's quadratic cursor iteration."""
    cursor = collection.find(query, projection)
    if sort:
        cursor = cursor.sort(sort)
    if type(cursor).__module__.startswith("mongomock"):
        return list(cursor._compute_results(with_limit_and_skip=True))  # noqa: SLF001
    return list(cursor)


def result_id(course_id, student_id, quiz_id, question_id, attempt) -> str:
    return SEP.join((str(course_id), str(student_id), str(quiz_id), str(question_id),
                     str(int(attempt))))


def summary_id(course_id, student_id) -> str:
    return f"{course_id}{SEP}{student_id}"


def badge_key_id(course_id, student_id, skill, level) -> str:
    raw = SEP.join((str(course_id), str(student_id), skill, level)).encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def insert_new(collection, docs: list[dict]) -> tuple[int, list[str]]:
    """Insert documents whose ``_id`` is new; duplicates (a concurrent writer got there first)
    are left untouched. Returns (inserted, duplicate ids)."""
    if not docs:
        return 0, []
    try:
        result = collection.insert_many(docs, ordered=False)
        return len(result.inserted_ids), []
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        dups = [docs[e["index"]]["_id"] for e in errors if "index" in e]
        return exc.details.get("nInserted", len(docs) - len(dups)), dups
    except DuplicateKeyError:  # engines that stop at the first duplicate
        inserted, dups = 0, []
        for doc in docs:
            try:
                collection.insert_one(doc)
                inserted += 1
            except DuplicateKeyError:
                dups.append(doc["_id"])
        return inserted, dups


def replace_many(collection, docs: Iterable[dict]) -> int:
    """Replace-upsert each document by ``_id``. Uses one unordered bulk request on MongoDB;
    the embedded engine cannot run pymongo 4 bulk operations, so it writes one by one."""
    docs = list(docs)
    if not docs:
        return 0
    if is_embedded(collection.database):
        for doc in docs:
            collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        return len(docs)
    from pymongo import ReplaceOne

    collection.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs],
                          ordered=False)
    return len(docs)


# ------------------------------------------------------------------ course data readers

def course_settings(db: Database, course_id: str) -> dict:
    return db[SETTINGS].find_one({"course_id": course_id}) or {}


def question_skill_map(db: Database, course_id: str) -> dict[str, list[str]]:
    return {str(d["question_id"]): list(d.get("skills") or [])
            for d in fetch_all(db[QUESTION_SKILLS], {"course_id": course_id},
                               {"_id": 0, "question_id": 1, "skills": 1})}


def matrix_skills(db: Database, course_id: str) -> list[str]:
    seen: dict = {}
    for m in fetch_all(db[MATRICES], {"course_id": course_id}, {"skills": 1, "created_at": 1}):
        for s in m.get("skills") or []:
            seen.setdefault(s, None)
    return list(seen)


def quizzes_of(db: Database, course_id: str) -> list[dict]:
    return fetch_all(db[QUIZZES], {"course_id": course_id}, {"_id": 0})


def students_of(db: Database, course_id: str) -> list[dict]:
    return fetch_all(db[STUDENTS], {"course_id": course_id}, {"_id": 0})


def pack(rows: list) -> str:
    return json.dumps(rows, separators=(",", ":"))


def unpack(text: str | None) -> list:
    return json.loads(text) if text else []
