"""Course export (JSON / CSV / XLSX) and import (JSON, all-or-nothing, idempotent).

Export holds the course's skill matrices, question->skill mapping, per-student skill mastery
and badges. Import takes the JSON export of any course and writes **matrices and mappings
only** into the target course: mastery and badges are derived from the target course's own
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
import re

from marshmallow import ValidationError, validates_schema

from achieveup.mastery import service as mastery
from achieveup.mastery import store
from knowgap.core.errors import ValidationFailed
from knowgap.core.schemas import Id, StrictSchema, Text, fields, validate

SCHEMA_NAME = "achieveup.course-export"
VERSION = 1
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
MAX_MATRICES, MAX_SKILLS, MAX_MAPPINGS, MAX_ROWS = 100, 200, 20000, 200000


def neutralize(value):
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value


# ------------------------------------------------------------------ schema

class MatrixSchema(StrictSchema):
    matrix_name = Text(required=True, validate=validate.Length(1, 200))
    skills = fields.List(Text(validate=validate.Length(1, 200)), required=True,
                         validate=validate.Length(1, MAX_SKILLS))
    description = Text(load_default=None, allow_none=True, validate=validate.Length(max=5000))


class MappingSchema(StrictSchema):
    question_id = Id(required=True)
    quiz_id = Id(load_default=None, allow_none=True)
    skills = fields.List(Text(validate=validate.Length(1, 200)), required=True,
                         validate=validate.Length(1, 50))


class MasteryRowSchema(StrictSchema):
    student_id = Id(required=True)
    student_name = Text(allow_none=True)
    skill = Text(required=True)
    score = fields.Float(allow_none=True)
    level = Text(allow_none=True)
    questions_attempted = fields.Integer(allow_none=True)
    questions_correct = fields.Float(allow_none=True)
    p_mastery = fields.Float(allow_none=True)
    evidence_count = fields.Integer(allow_none=True)


class BadgeRowSchema(StrictSchema):
    badge_id = Text(allow_none=True)
    student_id = Id(required=True)
    skill = Text(required=True)
    level = Text(required=True)
    percentage = fields.Float(allow_none=True)
    evidence_count = fields.Integer(allow_none=True)
    earned_at = Text(allow_none=True)


class ExportSchema(StrictSchema):
    schema = fields.String(required=True, validate=validate.Equal(SCHEMA_NAME))
    version = fields.Integer(required=True, validate=validate.Equal(VERSION))
    course_id = Id(required=True)
    course_name = Text(allow_none=True)
    exported_at = Text(allow_none=True)
    matrices = fields.List(fields.Nested(MatrixSchema), required=True,
                           validate=validate.Length(max=MAX_MATRICES))
    question_skills = fields.List(fields.Nested(MappingSchema), load_default=list,
                                  validate=validate.Length(max=MAX_MAPPINGS))
    mastery = fields.List(fields.Nested(MasteryRowSchema), load_default=list,
                          validate=validate.Length(max=MAX_ROWS))
    badges = fields.List(fields.Nested(BadgeRowSchema), load_default=list,
                         validate=validate.Length(max=MAX_ROWS))

    @validates_schema
    def _consistent(self, data, **_):
        names, skills = set(), set()
        for m in data.get("matrices", []):
            key = m["matrix_name"].casefold()
            if key in names:
                raise ValidationError(f"Matrix name '{m['matrix_name']}' appears twice.",
                                      "matrices")
            names.add(key)
            skills.update(s.casefold() for s in m["skills"])
        unknown = sorted({s for q in data.get("question_skills", []) for s in q["skills"]
                          if s.casefold() not in skills})
        if unknown:
            raise ValidationError("Mapped skills missing from the matrices: "
                                  + ", ".join(unknown[:10]) + ".", "question_skills")


class ImportSchema(StrictSchema):
    course_id = Id(required=True)
    data = fields.Dict(required=True)


# ------------------------------------------------------------------ export

def export_data(db, course_id: str) -> dict:
    course_id = str(course_id)
    matrices = store.fetch_all(db[store.MATRICES], {"course_id": course_id},
                               sort=[("created_at", 1), ("_id", 1)])
    mappings = store.fetch_all(db[store.QUESTION_SKILLS], {"course_id": course_id},
                               sort=[("question_id", 1)])
    rows, badges = [], []
    fields = mastery.PACKED_FIELDS
    for doc in mastery.summaries_of_course(db, course_id, projection={
            "_id": 0, "student_id": 1, "student_name": 1, "packed": 1, "badges": 1}):
        sid, name = doc["student_id"], doc.get("student_name")
        for packed in store.unpack(doc.get("packed")):
            e = dict(zip(fields, packed))
            rows.append({"student_id": sid, "student_name": name,
                         "skill": e["skill"], "score": e["score"], "level": e["level"],
                         "questions_attempted": e["questions_attempted"],
                         "questions_correct": e["questions_correct"],
                         "p_mastery": e["p_mastery"], "evidence_count": e["evidence_count"]})
        # badges as recorded in the summary (the badge collection is never scanned here)
        for skill, level, earned_at, percentage, evidence in mastery.badge_rows(doc):
            badges.append({"badge_id": store.badge_key_id(course_id, sid, skill, level),
                           "student_id": sid, "skill": skill, "level": level,
                           "percentage": percentage, "evidence_count": evidence,
                           "earned_at": earned_at})
    state = db[store.SYNC_STATE].find_one({"_id": course_id}) or {}
    return {"schema": SCHEMA_NAME, "version": VERSION, "course_id": course_id,
            "course_name": state.get("course_name"),
            "exported_at": store.iso(store.utcnow()),
            "matrices": [{"matrix_name": m["matrix_name"], "skills": list(m.get("skills") or []),
                          "description": m.get("description")} for m in matrices],
            "question_skills": [{"question_id": q["question_id"], "quiz_id": q.get("quiz_id"),
                                 "skills": list(q.get("skills") or [])} for q in mappings],
            "mastery": rows, "badges": badges}


SECTIONS = {
    "matrices": ("matrix_name", "skill", "description"),
    "question_skills": ("question_id", "quiz_id", "skill"),
    "mastery": ("student_id", "student_name", "skill", "score", "level", "questions_attempted",
                "questions_correct", "p_mastery", "evidence_count"),
    "badges": ("badge_id", "student_id", "skill", "level", "percentage", "evidence_count",
               "earned_at"),
}


def section_rows(data: dict):
    """(section, row dict) pairs: one row per matrix skill / mapped skill / mastery / badge."""
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


def to_csv(data: dict) -> bytes:
    columns = list(dict.fromkeys(c for cols in SECTIONS.values() for c in cols))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", *columns])
    for section, row in section_rows(data):
        writer.writerow([section, *("" if row.get(c) is None else neutralize(row.get(c))
                                    for c in columns)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (_XML_HEAD + f'<styleSheet xmlns="{_NS}"><fonts count="1"><font><sz val="11"/>'
           '<name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill '
           'patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
           '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
           '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
           'borderId="0"/></cellStyleXfs><cellXfs count="1"><xf numFmtId="0" fontId="0" '
           'fillId="0" borderId="0" xfId="0"/></cellXfs><cellStyles count="1"><cellStyle '
           'name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def _xml_text(value: str) -> str:
    value = _XML_ILLEGAL.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(value) -> str:
    """One ``<c>`` without its reference (optional in SpreadsheetML: cells follow in order)."""
    if value is None:
        return "<c/>"
    if isinstance(value, bool):
        return f'<c t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            return "<c/>"
        return f"<c><v>{value!r}</v></c>"
    text = _xml_text(str(neutralize(value)))
    return f'<c t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _write_sheet(out, cols, rows) -> None:
    """Stream one worksheet into the binary file ``out`` in chunks (bounded memory)."""
    out.write((_XML_HEAD + f'<worksheet xmlns="{_NS}"><sheetData><row r="1">'
               + "".join(_cell(c) for c in cols) + "</row>").encode("utf-8"))
    chunk = []
    for n, row in enumerate(rows, 2):
        chunk.append(f'<row r="{n}">' + "".join([_cell(row.get(c)) for c in cols]) + "</row>")
        if len(chunk) >= 2000:
            out.write("".join(chunk).encode("utf-8"))
            chunk = []
    out.write(("".join(chunk) + "</sheetData></worksheet>").encode("utf-8"))


def to_xlsx(data: dict) -> bytes:
    """The workbook (one sheet per section), written directly as SpreadsheetML.

    openpyxl's write-only mode needs ~13 s for a 1,000-student course (about a million
    cells); this minimal writer (inline strings, no styles beyond the default) produces the
    same cells in a fraction of that, and openpyxl/Excel/LibreOffice read it as usual.
    """
    import zipfile

    by_section: dict = {name: [] for name in SECTIONS}
    for section, row in section_rows(data):
        by_section[section].append(row)
    names = list(SECTIONS)
    content_types = (_XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                     'content-types"><Default Extension="rels" ContentType="application/vnd.'
                     'openxmlformats-package.relationships+xml"/><Default Extension="xml" '
                     'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
                     'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
                     'sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType='
                     '"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                     + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType='
                               '"application/vnd.openxmlformats-officedocument.spreadsheetml.'
                               'worksheet+xml"/>' for i in range(1, len(names) + 1))
                     + "</Types>")
    root_rels = (_XML_HEAD + f'<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
                 f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    workbook = (_XML_HEAD + f'<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}"><sheets>'
                + "".join(f'<sheet name="{_xml_text(n)}" sheetId="{i}" r:id="rId{i}"/>'
                          for i, n in enumerate(names, 1)) + "</sheets></workbook>")
    workbook_rels = (_XML_HEAD + f'<Relationships xmlns="{_PKG_REL_NS}">'
                     + "".join(f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" '
                               f'Target="worksheets/sheet{i}.xml"/>'
                               for i in range(1, len(names) + 1))
                     + f'<Relationship Id="rId{len(names) + 1}" Type="{_REL_NS}/styles" '
                     'Target="styles.xml"/></Relationships>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", content_types)
        zf.writestr("_rels/.rels", root_rels)
        zf.writestr("xl/workbook.xml", workbook)
        zf.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        zf.writestr("xl/styles.xml", _STYLES)
        for i, name in enumerate(names, 1):
            with zf.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as out:
                _write_sheet(out, SECTIONS[name], by_section[name])
    return buf.getvalue()


FORMATS = {
    "json": ("application/json", lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8")),
    "csv": ("text/csv; charset=utf-8", to_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx),
}


def export_file(db, course_id: str, fmt: str) -> tuple[bytes, str, str]:
    if fmt not in FORMATS:
        raise ValidationFailed("Choose format json, csv or xlsx.",
                               details={"format": ["Must be one of: json, csv, xlsx."]})
    content_type, render = FORMATS[fmt]
    data = export_data(db, course_id)
    name = f"achieveup-course-{course_id}-{dt.date.today().isoformat()}.{fmt}"
    return render(data), content_type, name


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
            key = {"course_id": course_id, "name_lower": name_key(m["matrix_name"])}
            old = mcoll.find_one(key)
            fields_ = {"matrix_name": m["matrix_name"], "skills": list(dict.fromkeys(m["skills"])),
                       "description": m.get("description") or "", "updated_at": now}
            undo.append((mcoll, key, old))
            checkpoint()
            if old is None:
                mcoll.insert_one({**key, **fields_, "instructor_id": instructor_id,
                                  "created_at": now})
            elif any(old.get(k) != v for k, v in fields_.items() if k != "updated_at"):
                mcoll.update_one({"_id": old["_id"]}, {"$set": fields_})
        for q in data["question_skills"]:
            key = {"course_id": course_id, "question_id": q["question_id"]}
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
