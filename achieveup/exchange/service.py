"""Course export (JSON / CSV / XLSX) and import (JSON, all-or-nothing, idempotent).

Export holds the course's skill matrices, question->skill mapping, per-student skill mastery
and badges, and the item analysis of every quiz (``items``, see ``achieveup.insights``).
Import takes the JSON export of any course and writes **matrices and mappings only** into the
target course: mastery, badges and item analysis are derived from the target course's own
Canvas results and are recomputed by its next sync, never copied (a badge is a claim about a
student's work in one course). Matrices are matched by case-insensitive name and replaced,
mappings by question id; repeating an import changes nothing. Everything is validated first;
if a write fails midway, the documents written so far are restored to their previous state.

Spreadsheet safety: any text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR is
prefixed with ``'`` so spreadsheet programs show it as text instead of running a formula.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

from marshmallow import ValidationError

from achieveup.exchange import summary, workbook
from achieveup.exchange.schemas import SCHEMA_NAME, VERSION, ExportSchema
from achieveup.insights import service as insights
from achieveup.mastery import service as mastery
from achieveup.mastery import store
from knowgap.core.errors import ValidationFailed
from knowgap.core.tenancy import where

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value):
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value


# ------------------------------------------------------------------ export

def export_data(db, course_id: str, progress: list | None = None) -> dict:
    """The export document; ``progress``, when given, receives every student's course progress
    (the workbook's Summary plots it; it is no part of the document, which is also the import
    format)."""
    course_id = str(course_id)
    matrices = store.fetch_all(db[store.MATRICES], where(db, course_id=course_id),
                               sort=[("created_at", 1), ("_id", 1)])
    mappings = store.fetch_all(db[store.QUESTION_SKILLS], where(db, course_id=course_id),
                               sort=[("question_id", 1)])
    rows, badges = [], []
    fields = mastery.PACKED_FIELDS
    for doc in mastery.summaries_of_course(db, course_id, projection={
            "_id": 0, "student_id": 1, "student_name": 1, "progress": 1, "packed": 1,
            "badges": 1}):
        sid, name = doc["student_id"], doc.get("student_name")
        if progress is not None:
            progress.append(doc.get("progress"))
        for packed in store.unpack(doc.get("packed")):
            e = dict(zip(fields, packed))
            rows.append({"student_id": sid, "student_name": name,
                         "skill": e["skill"], "score": e["score"], "level": e["level"],
                         "questions_attempted": e["questions_attempted"],
                         "questions_correct": e["questions_correct"],
                         "p_mastery": e["p_mastery"], "evidence_count": e["evidence_count"]})
        # badges as recorded in the summary (the badge collection is never scanned here)
        for skill, level, earned_at, percentage, evidence in mastery.badge_rows(doc):
            badges.append({"badge_id": store.badge_key_id(db, course_id, sid, skill, level),
                           "student_id": sid, "skill": skill, "level": level,
                           "percentage": percentage, "evidence_count": evidence,
                           "earned_at": earned_at})
    state = store.sync_state(db, course_id)
    return {"schema": SCHEMA_NAME, "version": VERSION, "course_id": course_id,
            "course_name": state.get("course_name"),
            "exported_at": store.iso(store.utcnow()),
            "matrices": [{"matrix_name": m["matrix_name"], "skills": list(m.get("skills") or []),
                          "description": m.get("description")} for m in matrices],
            "question_skills": [{"question_id": q["question_id"], "quiz_id": q.get("quiz_id"),
                                 "skills": list(q.get("skills") or [])} for q in mappings],
            "mastery": rows, "badges": badges, "items": insights.course_item_rows(db, course_id)}


SECTIONS = {
    "matrices": ("matrix_name", "skill", "description"),
    "question_skills": ("question_id", "quiz_id", "skill"),
    "mastery": ("student_id", "student_name", "skill", "score", "level", "questions_attempted",
                "questions_correct", "p_mastery", "evidence_count"),
    "badges": ("badge_id", "student_id", "skill", "level", "percentage", "evidence_count",
               "earned_at"),
    "items": insights.ITEM_COLUMNS,
}


def section_rows(data: dict):
    """(section, row dict) pairs: one row per matrix skill / mapped skill / mastery / badge /
    quiz question (item analysis)."""
    for m in data["matrices"]:
        for s in m["skills"]:
            yield "matrices", {"matrix_name": m["matrix_name"], "skill": s,
                               "description": m.get("description")}
    for q in data["question_skills"]:
        for s in q["skills"]:
            yield "question_skills", {"question_id": q["question_id"], "quiz_id": q.get("quiz_id"),
                                      "skill": s}
    for r in data["mastery"]:
        yield "mastery", r
    for b in data["badges"]:
        yield "badges", b
    for item in data.get("items", []):
        yield "items", item


def to_csv(data: dict) -> bytes:
    columns = list(dict.fromkeys(c for cols in SECTIONS.values() for c in cols))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", *columns])
    for section, row in section_rows(data):
        writer.writerow([section, *("" if row.get(c) is None else neutralize(row.get(c))
                                    for c in columns)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(data: dict, progress: list) -> bytes:
    """The workbook: a Summary sheet (``progress``: each student's course progress), then one
    sheet per section; text cells neutralized like the CSV's."""
    by_section: dict = {name: [] for name in SECTIONS}
    for section, row in section_rows(data):
        by_section[section].append(row)
    return workbook.write_workbook(
        {name: (SECTIONS[name], by_section[name]) for name in SECTIONS},
        summary.summarize(data, progress), data, text=neutralize)


FORMATS = {    # format -> (content type, render(document, students' progress))
    "json": ("application/json",
             lambda d, _: json.dumps(d, ensure_ascii=False).encode("utf-8")),
    "csv": ("text/csv; charset=utf-8", lambda d, _: to_csv(d)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx),
}


def export_file(db, course_id: str, fmt: str) -> tuple[bytes, str, str]:
    """(file bytes, content type, file name); ``fmt`` is one of ``FORMATS`` (the route's
    query schema only lets those through)."""
    content_type, render = FORMATS[fmt]
    progress: list = []
    data = export_data(db, course_id, progress)
    name = f"achieveup-course-{course_id}-{dt.date.today().isoformat()}.{fmt}"
    return render(data, progress), content_type, name


# ------------------------------------------------------------------ import

def validate_import(raw: dict) -> dict:
    try:
        return ExportSchema().load(raw)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"data": exc.messages}
        raise ValidationFailed("The import file is not a valid AchieveUp export. Fix the listed "
                               "fields and try again.", details={"data": messages}) from exc


def import_data(db, course_id: str, instructor_id: str, raw: dict, *, _fail_after=None) -> dict:
    from achieveup.badges import service as badges
    from achieveup.skills.store import name_key

    data = validate_import(raw)
    course_id = str(course_id)
    now = store.utcnow()
    mcoll, qcoll = db[store.MATRICES], db[store.QUESTION_SKILLS]
    undo: list = []          # (collection, filter, previous document or None)
    writes = 0

    def checkpoint():
        nonlocal writes
        writes += 1
        if _fail_after is not None and writes > _fail_after:
            raise RuntimeError("injected write failure")

    try:
        for m in data["matrices"]:
            key = where(db, course_id=course_id, name_lower=name_key(m["matrix_name"]))
            old = mcoll.find_one(key)
            fields_ = {"matrix_name": m["matrix_name"], "skills": list(dict.fromkeys(m["skills"])),
                       "description": m.get("description") or "", "updated_at": now}
            undo.append((mcoll, key, old))
            checkpoint()
            if old is None:
                mcoll.insert_one({**key, **fields_, "instructor_id": instructor_id,
                                  "created_at": now})
            elif any(old.get(k) != v for k, v in fields_.items() if k != "updated_at"):
                mcoll.update_one(where(db, _id=old["_id"]), {"$set": fields_})
        for q in data["question_skills"]:
            key = where(db, course_id=course_id, question_id=q["question_id"])
            old = qcoll.find_one(key)
            undo.append((qcoll, key, old))
            checkpoint()
            fields_ = {"skills": list(dict.fromkeys(q["skills"])), "updated_at": now}
            if q.get("quiz_id"):
                fields_["quiz_id"] = q["quiz_id"]
            if old is None or old.get("skills") != fields_["skills"]:
                qcoll.update_one(key, {"$set": fields_}, upsert=True)
    except Exception:
        for coll, key, old in reversed(undo):
            coll.delete_many(key)
            if old is not None:
                coll.insert_one(old)
        raise
    skills = set(store.matrix_skills(db, course_id))
    revoked = badges.revoke_missing_skills(db, course_id, skills, now=now)
    return {"message": "Import complete. Mastery and badges are recomputed by the next sync.",
            "course_id": course_id, "matrices_imported": len(data["matrices"]),
            "mappings_imported": len(data["question_skills"]), "badges_revoked": revoked,
            "derived_data_imported": False}
