"""The only place that knows the names and shapes of the synced/derived AchieveUp collections.

Key decisions (see also the module docstrings of ``service`` and ``achieveup.sync.service``):

* Every document carries ``canvas_host`` and every query filters by it (``db`` is scoped to a
  Canvas host, ``knowgap.core.tenancy``): course 101 of one Canvas is not course 101 of another.
* Natural keys are encoded in a deterministic string ``_id`` ("host|course|student|quiz|
  question|attempt" for results, "host|course|student" for summaries, a hash of the key for
  badges). The ``_id`` index is
  unique in every MongoDB, so an insert can never duplicate a key and an upsert by ``_id`` is an
  O(1) lookup. Compound *unique* indexes over the same fields would add nothing but cost: the
  embedded engine (mongomock) checks a compound unique index by scanning the whole collection on
  every insert, which is quadratic.
* Bulk reads go through :func:`fetch_all`: mongomock's cursor re-slices its result list on every
  ``next()`` (quadratic in the result size), so on the embedded engine we take the computed
  result list in one step.
* Course-level writers of derived data (mastery recompute, badge awards and revocations) run
  under :func:`course_lock` (a lease in ``AchieveUp_Course_Versions``), so a badge award can
  never be lost between two summary rewrites; every such write also changes the course's
  ``version`` there, which readers can use to cache derived views (see ``achieveup.analytics``).
* Summaries of a course are rewritten with :func:`replace_course_docs`: one bulk request on
  MongoDB; on the embedded engine (whose update-by-_id scans the collection) delete + one
  ``insert_many`` under a process lock that :func:`fetch_all` also takes, so readers never see
  the course half-written.
* ``AchieveUp_Student_Evidence`` is a packed mirror of each student's rows in
  ``AchieveUp_Question_Results`` (one document per course+student, rebuilt whenever that
  student's results change) so a whole-course recompute reads one document per student instead
  of one per answered question.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
import time
import uuid
from typing import Iterable

import orjson
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from knowgap.core.clock import iso, utcnow  # noqa: F401  (used as store.iso/store.utcnow)
from knowgap.core.db import is_embedded
from knowgap.core.tenancy import host_of, key, where

QUIZZES = "AchieveUp_Canvas_Quizzes"
QUESTIONS = "AchieveUp_Canvas_Questions"
STUDENTS = "AchieveUp_Canvas_Students"
RESULTS = "AchieveUp_Question_Results"
EVIDENCE = "AchieveUp_Student_Evidence"
MASTERY = "AchieveUp_Student_Mastery"
BADGES = "AchieveUp_Badges"
SYNC_STATE = "AchieveUp_Sync_State"
SETTINGS = "AchieveUp_Course_Settings"
BKT_PARAMETERS = "AchieveUp_BKT_Parameters"
MATRICES = "AchieveUp_Skill_Matrices"
QUESTION_SKILLS = "AchieveUp_Question_Skills"
USERS = "AchieveUp_Users"
VERSIONS = "AchieveUp_Course_Versions"

SEP = "|"


#: Makes a course rewrite (delete + insert) atomic for readers on the embedded engine only.
_EMBEDDED_LOCK = threading.RLock()


def fetch_all(collection, query: dict, projection: dict | None = None, sort=None) -> list[dict]:
    """All matching documents as a list, without mongomock's quadratic cursor iteration."""
    cursor = collection.find(query, projection)
    if sort:
        cursor = cursor.sort(sort)
    if type(cursor).__module__.startswith("mongomock"):
        with _EMBEDDED_LOCK:
            return list(cursor._compute_results(with_limit_and_skip=True))  # noqa: SLF001
    return list(cursor)


def find_one(collection, query: dict, projection: dict | None = None) -> dict | None:
    if is_embedded(collection.database):
        with _EMBEDDED_LOCK:
            return collection.find_one(query, projection)
    return collection.find_one(query, projection)


def replace_course_docs(db: Database, name: str, course_id: str, docs: list[dict]) -> int:
    """Make ``docs`` the course's documents in collection ``name`` (by ``_id``; others of the
    course are deleted)."""
    course_id = str(course_id)
    collection = db[name]
    if is_embedded(db):
        with _EMBEDDED_LOCK:
            collection.delete_many(where(db, course_id=course_id))
            if docs:
                collection.insert_many(docs, ordered=True)
        return len(docs)
    from pymongo import ReplaceOne

    if docs:
        collection.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs],
                              ordered=False)
    collection.delete_many(where(db, course_id=course_id,
                                 _id={"$nin": [d["_id"] for d in docs]}))
    return len(docs)


# ------------------------------------------------------------------ course version and lock

def new_version() -> str:
    return uuid.uuid4().hex


def bump_version(db: Database, course_id: str) -> str:
    version = new_version()
    db[VERSIONS].update_one({"_id": key(db, course_id)},
                            {"$set": {**where(db, course_id=str(course_id)), "version": version,
                                      "updated_at": utcnow()}}, upsert=True)
    return version


def version_of(db: Database, course_id: str) -> str | None:
    doc = db[VERSIONS].find_one({"_id": key(db, course_id)}, {"version": 1})
    return (doc or {}).get("version")


_held = threading.local()


@contextlib.contextmanager
def course_lock(db: Database, course_id: str, *, lease_seconds: float = 300.0,
                wait_seconds: float = 120.0):
    """Exclusive right to rewrite the course's derived data (re-entrant within a thread).

    A lease (``lock_until``) in the course's ``AchieveUp_Course_Versions`` document, so it
    works across processes and a crashed holder blocks others for ``lease_seconds`` at most.
    Taking and releasing it both change ``version``: a reader that cached a view while the
    holder was writing can never match the final version.
    """
    from knowgap.core.errors import ServiceUnavailable

    lock = (id(db.client), db.name, host_of(db), str(course_id))
    held = getattr(_held, "keys", None)
    if held is None:
        held = _held.keys = {}
    if held.get(lock):
        held[lock] += 1
        try:
            yield
        finally:
            held[lock] -= 1
        return
    coll = db[VERSIONS]
    owner = new_version()
    deadline = time.monotonic() + wait_seconds
    delay = 0.01
    while True:
        now = utcnow()
        try:
            coll.update_one(
                {"_id": key(db, course_id),
                 "$or": [{"lock_until": None}, {"lock_until": {"$lt": now}}]},
                {"$set": {**where(db, course_id=str(course_id)), "lock_owner": owner,
                          "lock_until": now + dt.timedelta(seconds=lease_seconds),
                          "version": new_version(), "updated_at": now}},
                upsert=True)
            break
        except DuplicateKeyError:
            if time.monotonic() > deadline:
                raise ServiceUnavailable("Another update of this course is still running. "
                                         "Try again in a minute.", error="course_busy")
            time.sleep(delay)
            delay = min(0.25, delay * 2)
    held[lock] = 1
    try:
        yield
    finally:
        del held[lock]
        coll.update_one({"_id": key(db, course_id), "lock_owner": owner},
                        {"$set": {"lock_owner": None, "lock_until": None,
                                  "version": new_version(), "updated_at": utcnow()}})


def result_id(db: Database, course_id, student_id, quiz_id, question_id, attempt) -> str:
    return key(db, course_id, student_id, quiz_id, question_id, int(attempt))


def summary_id(db: Database, course_id, student_id) -> str:
    return key(db, course_id, student_id)


def badge_key_id(db: Database, course_id, student_id, skill, level) -> str:
    return hashlib.sha256(key(db, course_id, student_id, skill, level).encode()).hexdigest()[:24]


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
    return db[SETTINGS].find_one({"_id": key(db, course_id)}) or {}


def update_course_settings(db: Database, course_id: str, fields: dict) -> None:
    """``$set`` fields of the course's ``AchieveUp_Course_Settings`` document (``_id``
    "host|course"), creating it when needed."""
    db[SETTINGS].update_one({"_id": key(db, course_id)},
                            {"$set": {**where(db, course_id=str(course_id)), **fields}},
                            upsert=True)


def fitted_parameters(db: Database, course_id: str) -> list[dict]:
    """The course's stored BKT fit (see ``achieveup.mastery.model``)."""
    return fetch_all(db[BKT_PARAMETERS], where(db, course_id=str(course_id)))


def question_skill_map(db: Database, course_id: str) -> dict[str, list[str]]:
    return {str(d["question_id"]): list(d.get("skills") or [])
            for d in fetch_all(db[QUESTION_SKILLS], where(db, course_id=course_id),
                               {"_id": 0, "question_id": 1, "skills": 1})}


def matrix_skills(db: Database, course_id: str) -> list[str]:
    seen: dict = {}
    for m in fetch_all(db[MATRICES], where(db, course_id=course_id),
                       {"skills": 1, "created_at": 1}):
        for s in m.get("skills") or []:
            seen.setdefault(s, None)
    return list(seen)


def quizzes_of(db: Database, course_id: str) -> list[dict]:
    return fetch_all(db[QUIZZES], where(db, course_id=course_id), {"_id": 0})


def students_of(db: Database, course_id: str) -> list[dict]:
    return fetch_all(db[STUDENTS], where(db, course_id=course_id), {"_id": 0})


def sync_state(db: Database, course_id: str, projection: dict | None = None) -> dict:
    """The course's ``AchieveUp_Sync_State`` document (``{}`` before the first sync)."""
    return db[SYNC_STATE].find_one({"_id": key(db, course_id)}, projection) or {}


def save_sync_state(db: Database, course_id: str, fields: dict) -> None:
    db[SYNC_STATE].update_one({"_id": key(db, course_id)},
                              {"$set": {**fields, **where(db, course_id=str(course_id))}},
                              upsert=True)


def scoped_docs(db: Database, docs: list[dict]) -> list[dict]:
    """Documents built by a pure module with a course-level natural ``_id`` ("course|…"): the
    same with the host in front of the ``_id`` and ``canvas_host`` set."""
    host = host_of(db)
    return [{**d, "_id": f"{host}{SEP}{d['_id']}", "canvas_host": host} for d in docs]


def pack(value) -> str:
    """Compact JSON text (orjson: the recompute parses a million rows of it)."""
    return orjson.dumps(value).decode()


def unpack(text: str | None) -> list:
    return orjson.loads(text) if text else []


def pack_evidence(rows: list) -> str:
    """Evidence rows ``[quiz_id, question_id, attempt, graded_at, credit, points_possible]`` in a
    dictionary-encoded flat form (about 3x smaller and faster to parse than one JSON array per
    row): ``{"v": 2, "q": [quiz ids], "n": [question ids], "t": [graded_at], "r": [quiz index,
    question index, attempt, graded_at index, credit, points_possible, ...]}``."""
    index: tuple = ({}, {}, {})
    flat: list = []
    add = flat.extend
    for r in rows:
        q, n, t = index[0].setdefault(r[0], len(index[0])), \
            index[1].setdefault(r[1], len(index[1])), index[2].setdefault(r[3], len(index[2]))
        add((q, n, r[2], t, r[4], r[5] if len(r) > 5 else None))
    return pack({"v": 2, "q": list(index[0]), "n": list(index[1]), "t": list(index[2]),
                 "r": flat})


def unpack_evidence(text: str | None) -> list:
    """Rows from :func:`pack_evidence` (or from the older one-array-per-row form)."""
    if not text:
        return []
    data = orjson.loads(text)
    if isinstance(data, list):
        return data
    q, n, t = data["q"], data["n"], data["t"]
    it = iter(data["r"])
    return [[q[a], n[b], c, t[d], e, f] for a, b, c, d, e, f in zip(it, it, it, it, it, it)]
