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
* Bulk reads and writes go through ``achieveup.readmodel`` (``fetch_all``, ``insert_new``,
  ``replace_many``, ``replace_course_docs`` here are its functions under the names the stores
  use): one step on either engine, and the fast paths of the embedded engine stay in its
  adapter (``knowgap.core.db``).
* Course-level writers of derived data (mastery recompute, badge awards and revocations) run
  under :func:`course_lock` (a lease in ``AchieveUp_Course_Versions``), so a badge award can
  never be lost between two summary rewrites; every such write also changes the course's
  ``version`` there, which readers can use to cache derived views (see ``achieveup.analytics``).
* Summaries of a course are rewritten with :func:`replace_course_docs` (one bulk request on
  MongoDB; on the embedded engine readers never see the course half written).
* ``AchieveUp_Question_Results`` holds one document per graded answer (``graded_at`` a date,
  ``credit`` and points numbers). ``AchieveUp_Student_Evidence`` is the same answers per
  student, one document per course + student: ``attempts: [{quiz_id, attempt, graded_at,
  question_ids: [...], credits: [...], points_possible: [...]}]`` (the arrays are parallel: the
  attempt's i-th question, its credit and its points), rewritten together with the student's
  results, so a whole-course recompute reads one document per student.
  :func:`course_answers` is the course's answers as the calculations read them, a course view
  of ``achieveup.readmodel`` for the course's ``answers_version``.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
import time
import uuid
from typing import Iterable

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from achieveup import readmodel
from knowgap.core.clock import iso, utcnow  # noqa: F401  (used as store.iso/store.utcnow)
from knowgap.core.clock import parse as parse_time
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


def fetch_all(collection, query: dict, projection: dict | None = None, sort=None) -> list[dict]:
    """All matching documents as a list (``readmodel.read``)."""
    return readmodel.read(collection, query, projection, sort)


def find_one(collection, query: dict, projection: dict | None = None) -> dict | None:
    return readmodel.read_one(collection, query, projection)


def replace_course_docs(db: Database, name: str, course_id: str, docs: list[dict]) -> int:
    """Make ``docs`` the course's documents in collection ``name`` (by ``_id``; others of the
    course are deleted)."""
    return readmodel.replace_all(db[name], where(db, course_id=str(course_id)), docs)


# ------------------------------------------------------------------ course version and lock

def new_version() -> str:
    return uuid.uuid4().hex


def bump_version(db: Database, course_id: str) -> str:
    version = new_version()
    db[VERSIONS].update_one({"_id": key(db, course_id)},
                            {"$set": {**where(db, course_id=str(course_id)), "version": version,
                                      "updated_at": utcnow()}}, upsert=True)
    return version


def version_of(db: Database, course_id: str, field: str = "version") -> str | None:
    """The course's ``version`` (summaries and badges), or another version ``field``
    (``ANSWERS_VERSION``, ``achieveup.insights.store.VERSION``)."""
    doc = db[VERSIONS].find_one({"_id": key(db, course_id)}, {field: 1})
    return (doc or {}).get(field)


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


def result_ids(db: Database, course_id):
    """``result_id`` of the course as a function of (student, quiz, question, attempt)."""
    prefix = key(db, course_id)
    return lambda student_id, quiz_id, question_id, attempt: \
        f"{prefix}{SEP}{student_id}{SEP}{quiz_id}{SEP}{question_id}{SEP}{int(attempt)}"


def summary_id(db: Database, course_id, student_id) -> str:
    return key(db, course_id, student_id)


def badge_key_id(db: Database, course_id, student_id, skill, level) -> str:
    return hashlib.sha256(key(db, course_id, student_id, skill, level).encode()).hexdigest()[:24]


def insert_new(collection, docs: list[dict]) -> tuple[int, list[str]]:
    """Insert documents whose ``_id`` is new; duplicates (a concurrent writer got there first)
    are left untouched. Returns (inserted, duplicate ids)."""
    return readmodel.insert_new(collection, docs)


def replace_many(collection, docs: Iterable[dict]) -> int:
    """Replace-upsert each document by ``_id``."""
    return readmodel.upsert(collection, docs)


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


# ------------------------------------------------------------------ answers (evidence)

#: The course's version of its results and evidence (``AchieveUp_Course_Versions``).
ANSWERS_VERSION = "answers_version"
#: One answer as the calculations read it (``achieveup.mastery.calc.group_rows``).
ANSWER_FIELDS = ("quiz_id", "question_id", "attempt", "graded_at", "credit", "points_possible")


def evidence_doc(db: Database, course_id: str, student_id: str, rows, now) -> dict:
    """The student's ``AchieveUp_Student_Evidence`` document from answer rows ``(quiz_id,
    question_id, attempt, graded_at ISO or None, credit, points_possible)``, sorted."""
    attempts: dict = {}
    for quiz_id, question_id, attempt, graded_at, credit, points_possible in rows:
        entry = attempts.get((quiz_id, attempt, graded_at))
        if entry is None:
            entry = attempts[(quiz_id, attempt, graded_at)] = {
                "quiz_id": quiz_id, "attempt": attempt, "graded_at": parse_time(graded_at),
                "question_ids": [], "credits": [], "points_possible": []}
        entry["question_ids"].append(question_id)
        entry["credits"].append(credit)
        entry["points_possible"].append(points_possible)
    return {"_id": summary_id(db, course_id, student_id),
            **where(db, course_id=str(course_id), student_id=str(student_id)),
            "count": len(rows), "attempts": list(attempts.values()), "updated_at": now}


def evidence_rows(doc: dict | None) -> list[tuple]:
    """The answer rows of an evidence document, sorted by quiz, question and attempt."""
    rows = []
    for e in (doc or {}).get("attempts") or []:
        quiz_id, attempt, graded_at = e["quiz_id"], e["attempt"], iso(e.get("graded_at"))
        rows.extend((quiz_id, n, attempt, graded_at, c, p) for n, c, p in
                    zip(e["question_ids"], e["credits"], e["points_possible"]))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return rows


def _load_answers(db: Database, course_id: str) -> dict[str, list[tuple]]:
    return {d["student_id"]: evidence_rows(d) for d in fetch_all(
        db[EVIDENCE], where(db, course_id=str(course_id)),
        {"_id": 0, "student_id": 1, "attempts": 1})}


def course_answers(db: Database, course_id: str) -> dict[str, list[tuple]]:
    """``{student_id: answer rows}`` of the whole course (read-only). The course view when a
    sync left it behind (:func:`write_answers`); otherwise read from the evidence and not
    kept (a course's answers are the largest view: a course recomputed without a sync in
    between, e.g. after a settings change, reads them again rather than holding them)."""
    course_id = str(course_id)
    view = readmodel.cached(db, course_id, "answers",
                            version_of(db, course_id, ANSWERS_VERSION))
    return view if view is not None else _load_answers(db, course_id)


def student_answers(db: Database, course_id: str, student_id: str) -> list[tuple]:
    """One student's answer rows (from the course view when it is current)."""
    course_id = str(course_id)
    view = readmodel.cached(db, course_id, "answers",
                            version_of(db, course_id, ANSWERS_VERSION))
    if view is not None:
        return view.get(str(student_id), [])
    return evidence_rows(find_one(db[EVIDENCE], {"_id": summary_id(db, course_id, student_id)},
                                  {"attempts": 1}))


def write_answers(db: Database, course_id: str, changed: dict[str, list], now, *,
                  base: dict | None = None) -> None:
    """Store the complete answer rows of the students in ``changed`` (``{student_id: rows}``)
    as their evidence documents, and change the course's ``answers_version``. ``base``: the
    course's answers before (``course_answers``, read by the caller); with it, or with the
    course view current, the new view is cached without a reload."""
    course_id = str(course_id)
    if not changed:
        return
    before = version_of(db, course_id, ANSWERS_VERSION)
    view = base if base is not None else readmodel.cached(db, course_id, "answers", before)
    replace_many(db[EVIDENCE], [evidence_doc(db, course_id, sid, rows, now)
                                for sid, rows in sorted(changed.items())])
    after = advance_version(db, course_id, before, ANSWERS_VERSION)
    if view is not None and after is not None:
        readmodel.put(db, course_id, "answers", after, {**view, **{
            str(sid): sorted(rows, key=lambda r: (r[0], r[1], r[2]))
            for sid, rows in changed.items()}})


def advance_version(db: Database, course_id: str, before: str | None, field: str) -> str | None:
    """Give the course a new ``answers_version`` (every writer of results and evidence calls
    it after writing; writers of item responses change ``responses_version`` the same way).
    Returns the new version when it replaced ``before`` (no other writer came in between: a
    view of ``before`` plus this writer's changes is the new one), else None."""
    after = new_version()
    fields = {"$set": {**where(db, course_id=str(course_id)), field: after,
                       "updated_at": utcnow()}}
    try:            # a course without a versions document yet gets one (the upsert)
        db[VERSIONS].update_one({"_id": key(db, course_id), field: before}, fields,
                                upsert=True)
        return after
    except DuplicateKeyError:    # the document exists with another version: someone else wrote
        db[VERSIONS].update_one({"_id": key(db, course_id)}, fields)
        return None
