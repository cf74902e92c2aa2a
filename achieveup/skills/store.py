"""The only module that knows the skills collections and their queries.

Every document carries ``canvas_host`` and every query filters by it (``db`` is scoped to a
Canvas host, ``knowgap.core.tenancy``); the unique keys below are per host.

Collections (all ids stored as strings):

- ``AchieveUp_Skill_Matrices`` ``{_id ObjectId, course_id, instructor_id, matrix_name,
  name_lower, skills: [str], description, created_at, updated_at}``, unique
  ``(course_id, name_lower)``.
- ``AchieveUp_Question_Skills`` ``{course_id, question_id, quiz_id?, skills: [str],
  updated_at}``, unique ``(course_id, question_id)``.
- ``AchieveUp_Course_Descriptions`` ``{course_id, instructor_id, description, updated_at}``,
  unique ``(course_id, instructor_id)`` (each instructor keeps their own description).
- ``AchieveUp_Import_Status`` ``{target_course_id, source_course_id, matrices_imported,
  assignments_imported, updated_at}``, unique ``target_course_id``.
"""
from __future__ import annotations

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.database import Database

from knowgap.core.clock import utcnow
from knowgap.core.tenancy import where

MATRICES = "AchieveUp_Skill_Matrices"
QUESTION_SKILLS = "AchieveUp_Question_Skills"
DESCRIPTIONS = "AchieveUp_Course_Descriptions"
IMPORT_STATUS = "AchieveUp_Import_Status"


def name_key(name: str) -> str:
    return name.casefold()


# ------------------------------------------------------------------ matrices


def matrices_of(db: Database, course_id: str) -> list[dict]:
    return list(db[MATRICES].find(where(db, course_id=course_id))
                .sort([("created_at", ASCENDING), ("_id", ASCENDING)]))


def first_matrix(db: Database, course_id: str) -> dict | None:
    found = matrices_of(db, course_id)
    return found[0] if found else None


def matrix_by_id(db: Database, matrix_id: str) -> dict | None:
    if not ObjectId.is_valid(matrix_id):
        return None
    return db[MATRICES].find_one(where(db, _id=ObjectId(matrix_id)))


def matrix_by_name(db: Database, course_id: str, name: str) -> dict | None:
    return db[MATRICES].find_one(where(db, course_id=course_id, name_lower=name_key(name)))


def insert_matrix(db: Database, doc: dict) -> dict:
    """Insert (for ``db``'s Canvas host); raises ``pymongo.errors.DuplicateKeyError`` on a
    taken (course, name)."""
    doc.update(where(db))
    result = db[MATRICES].insert_one(doc)
    doc["_id"] = result.inserted_id
    return doc


def update_matrix(db: Database, matrix_id, changes: dict) -> dict | None:
    """Apply ``changes``; raises ``DuplicateKeyError`` when a rename collides."""
    db[MATRICES].update_one(where(db, _id=matrix_id), {"$set": changes})
    return db[MATRICES].find_one(where(db, _id=matrix_id))


def delete_matrix(db: Database, matrix_id) -> bool:
    return db[MATRICES].delete_one(where(db, _id=matrix_id)).deleted_count == 1


def course_skill_index(db: Database, course_id: str) -> dict[str, str]:
    """Every skill of every matrix of the course: casefolded name -> spelling (first wins)."""
    index: dict[str, str] = {}
    for matrix in matrices_of(db, course_id):
        for skill in matrix.get("skills") or []:
            index.setdefault(name_key(skill), skill)
    return index


# ------------------------------------------------------------------ question skills


def question_skills(db: Database, course_id: str, question_ids: list[str] | None = None
                    ) -> list[dict]:
    query: dict = where(db, course_id=course_id)
    if question_ids:
        query["question_id"] = {"$in": list(question_ids)}
    return list(db[QUESTION_SKILLS].find(query).sort("question_id", ASCENDING))


def write_question_skills(db: Database, course_id: str, mapping: dict[str, list[str]],
                          quiz_ids: dict[str, str] | None = None) -> tuple[int, int]:
    """Upsert non-empty mappings, delete empty ones. Returns (assigned, removed)."""
    now = utcnow()
    quiz_ids = quiz_ids or {}
    assigned = removed = 0
    # One write per question (not bulk_write: the in-process engine cannot run pymongo 4's
    # bulk operations); each write is atomic, and the set is validated before any is made.
    collection = db[QUESTION_SKILLS]
    for qid, skills in mapping.items():
        key = where(db, course_id=course_id, question_id=qid)
        if skills:
            fields = {"skills": list(skills), "updated_at": now}
            if quiz_ids.get(qid):
                fields["quiz_id"] = quiz_ids[qid]
            collection.update_one(key, {"$set": fields}, upsert=True)
            assigned += 1
        else:
            removed += collection.delete_one(key).deleted_count
    return assigned, removed


def prune_question_skills(db: Database, course_id: str, keep: dict[str, str]) -> int:
    """Drop assigned skills that no matrix of the course has any more (``keep`` is the
    course's skill index); a question left with no skill loses its mapping. Returns the
    number of questions changed."""
    changed = 0
    now = utcnow()
    for doc in db[QUESTION_SKILLS].find(where(db, course_id=course_id)):
        skills = doc.get("skills") or []
        kept = [keep[name_key(s)] for s in skills if name_key(s) in keep]
        if kept == skills:
            continue
        changed += 1
        if kept:
            db[QUESTION_SKILLS].update_one(where(db, _id=doc["_id"]),
                                           {"$set": {"skills": kept, "updated_at": now}})
        else:
            db[QUESTION_SKILLS].delete_one(where(db, _id=doc["_id"]))
    return changed


# ------------------------------------------------------------------ course descriptions


def description_of(db: Database, course_id: str, instructor_id: str) -> dict | None:
    return db[DESCRIPTIONS].find_one(where(db, course_id=course_id,
                                           instructor_id=instructor_id))


def save_description(db: Database, course_id: str, instructor_id: str, text: str) -> dict:
    now = utcnow()
    db[DESCRIPTIONS].update_one(
        where(db, course_id=course_id, instructor_id=instructor_id),
        {"$set": {"description": text, "updated_at": now},
         "$setOnInsert": {"created_at": now}},
        upsert=True)
    return description_of(db, course_id, instructor_id)


# ------------------------------------------------------------------ import status


def import_status(db: Database, target_course_id: str) -> dict | None:
    return db[IMPORT_STATUS].find_one(where(db, target_course_id=target_course_id))


def mark_imported(db: Database, target_course_id: str, source_course_id: str, *,
                  matrices: bool = False, assignments: bool = False) -> None:
    changes: dict = {"source_course_id": source_course_id, "updated_at": utcnow()}
    defaults: dict = {}
    for name, flag in (("matrices_imported", matrices), ("assignments_imported", assignments)):
        if flag:
            changes[name] = True
        else:
            defaults[name] = False
    update: dict = {"$set": changes}
    if defaults:
        update["$setOnInsert"] = defaults
    db[IMPORT_STATUS].update_one(where(db, target_course_id=target_course_id), update,
                                 upsert=True)
