"""Skill matrices, course descriptions, question-skill assignments and course imports.

Plain functions over a database handle (and, for the import that reads quizzes, a Canvas
gateway). Authorization (role, "do you teach this course") is checked by the routes before
these are called; the services only enforce data rules.

Decisions worth knowing:

- Matrix names are unique per course ignoring case (unique index on ``(course_id,
  name_lower)``); a clash is a 409.
- Skills assigned to questions must exist in one of the course's matrices (matched ignoring
  case, stored with the matrix's spelling). When a matrix loses skills (edit or delete),
  assignments to skills that no matrix of the course has any more are removed, so "every
  assigned skill is in a matrix" stays true for mastery and badges, and the badges of those
  skills are revoked at once (their credentials' status-list bits with them), not at the next
  sync.
- Importing matrices from another course: a source matrix whose name is free in the target is
  copied; one whose name is taken is skipped when the target's matrix has the same skills
  (so importing twice is harmless), otherwise copied as "<name> (imported)" (then
  "(imported 2)", ...).
- Importing question skills: quizzes are matched by normalized title, questions inside matched
  quizzes by normalized text. If the target course has no matrix yet, the source's matrices
  are imported first; only skills that exist in the target's matrices are copied. Imported
  skills are added to (never replace) a target question's existing skills.
"""
from __future__ import annotations

import logging

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from achieveup import pipeline
from achieveup.mastery import store as mastery_store
from achieveup.skills import store
from knowgap.core.clock import iso
from knowgap.core.errors import BadRequest, Conflict, NotFound, ServiceUnavailable

log = logging.getLogger(__name__)
from knowgap.topics.text import normalize_question_text
from knowgap.xapi import stage as xapi

IMPORT_SUFFIX = "imported"


def matrix_json(doc: dict) -> dict:
    return {
        "_id": str(doc["_id"]),
        "course_id": doc["course_id"],
        "matrix_name": doc["matrix_name"],
        "skills": list(doc.get("skills") or []),
        "description": doc.get("description") or "",
        "created_at": iso(doc.get("created_at")),
        "updated_at": iso(doc.get("updated_at")),
    }


def _taken(name: str) -> Conflict:
    return Conflict(f"A skill matrix named '{name}' already exists in this course. "
                    "Choose a different name.", error="duplicate_matrix_name")


# ------------------------------------------------------------------ matrices


def list_matrices(db, course_id: str) -> list[dict]:
    return [matrix_json(m) for m in store.matrices_of(db, course_id)]


def first_matrix(db, course_id: str) -> dict:
    found = store.first_matrix(db, course_id)
    return matrix_json(found) if found else {}


def load_matrix(db, matrix_id: str) -> dict:
    found = store.matrix_by_id(db, matrix_id)
    if found is None:
        raise NotFound("This skill matrix does not exist (it may have been deleted). "
                       "Reload the page.", error="matrix_not_found")
    return found


def create_matrix(db, *, course_id: str, instructor_id: str, matrix_name: str,
                  skills: list[str], description: str | None = "") -> dict:
    if store.matrix_by_name(db, course_id, matrix_name):
        raise _taken(matrix_name)
    now = store.utcnow()
    doc = {"course_id": course_id, "instructor_id": instructor_id, "matrix_name": matrix_name,
           "name_lower": store.name_key(matrix_name), "skills": list(skills),
           "description": description or "", "created_at": now, "updated_at": now}
    try:
        store.insert_matrix(db, doc)
    except DuplicateKeyError:
        raise _taken(matrix_name) from None
    return matrix_json(doc)


def update_matrix(db, matrix: dict, changes: dict, config) -> dict:
    update: dict = {}
    if "matrix_name" in changes:
        name = changes["matrix_name"]
        clash = store.matrix_by_name(db, matrix["course_id"], name)
        if clash and clash["_id"] != matrix["_id"]:
            raise _taken(name)
        update.update(matrix_name=name, name_lower=store.name_key(name))
    if "skills" in changes:
        update["skills"] = list(changes["skills"])
    if "description" in changes:
        update["description"] = changes["description"] or ""
    update["updated_at"] = store.utcnow()
    try:
        doc = store.update_matrix(db, matrix["_id"], update)
    except DuplicateKeyError:
        raise _taken(changes["matrix_name"]) from None
    if doc is None:
        raise NotFound("This skill matrix was deleted meanwhile. Reload the page.",
                       error="matrix_not_found")
    if "skills" in changes:
        _skills_changed(db, config, matrix["course_id"])
    return matrix_json(doc)


def delete_matrix(db, matrix: dict, config) -> dict:
    store.delete_matrix(db, matrix["_id"])
    _skills_changed(db, config, matrix["course_id"])
    return {"message": f"Skill matrix '{matrix['matrix_name']}' was deleted.",
            "matrix_id": str(matrix["_id"])}


#: How long a matrix change waits for a running recompute of the course before leaving the
#: mastery summaries to the next one (the badges are revoked before the wait either way).
REVOKE_WAIT_SECONDS = 10.0


def _skills_changed(db, config, course_id: str) -> None:
    """A matrix of the course lost or changed skills: drop assignments to skills no matrix has
    and revoke their badges now (and void their xAPI ``earned`` statements)."""
    store.prune_question_skills(db, course_id, store.course_skill_index(db, course_id))
    skills = set(mastery_store.matrix_skills(db, course_id))
    try:
        pipeline.revoke_removed_skills(db, course_id, skills,
                                       wait_seconds=REVOKE_WAIT_SECONDS)
    except ServiceUnavailable:
        log.info("course %s is being recomputed: badges of removed skills are revoked; the "
                 "mastery summaries list them as revoked after the next recompute", course_id)
    xapi.course_changed(db, config, course_id)


def _same_skills(a: list[str], b: list[str]) -> bool:
    return {store.name_key(s) for s in a} == {store.name_key(s) for s in b}


def _import_names(name: str):
    yield name
    for n in range(1, 1000):
        suffix = f" ({IMPORT_SUFFIX})" if n == 1 else f" ({IMPORT_SUFFIX} {n})"
        yield name[: 120 - len(suffix)] + suffix


def _name_variants(db, course_id: str, name: str) -> list[dict]:
    """The target's matrices named ``name`` or ``name (imported[ n])``."""
    found = []
    for candidate in _import_names(name):
        matrix = store.matrix_by_name(db, course_id, candidate)
        if matrix is None and candidate != name:
            break
        if matrix is not None:
            found.append(matrix)
    return found


def _free_import_name(db, course_id: str, name: str) -> str:
    for candidate in _import_names(name):
        if not store.matrix_by_name(db, course_id, candidate):
            return candidate
    raise Conflict("Too many imported copies of this matrix exist. Rename or delete some.",
                   error="duplicate_matrix_name")


def import_matrices(db, *, source_course_id: str, target_course_id: str,
                    instructor_id: str) -> dict:
    source = store.matrices_of(db, source_course_id)
    imported: list[dict] = []
    skipped = 0
    for matrix in source:
        name = matrix["matrix_name"]
        existing = store.matrix_by_name(db, target_course_id, name)
        if existing is not None:
            if any(_same_skills(m.get("skills") or [], matrix.get("skills") or [])
                   for m in _name_variants(db, target_course_id, name)):
                skipped += 1
                continue
            name = _free_import_name(db, target_course_id, name)
        now = store.utcnow()
        doc = {"course_id": target_course_id, "instructor_id": instructor_id,
               "matrix_name": name, "name_lower": store.name_key(name),
               "skills": list(matrix.get("skills") or []),
               "description": matrix.get("description") or "", "created_at": now,
               "updated_at": now, "imported_from": {"course_id": source_course_id,
                                                    "matrix_id": str(matrix["_id"])}}
        try:
            store.insert_matrix(db, doc)
        except DuplicateKeyError:      # created concurrently under the same name
            skipped += 1
            continue
        imported.append(matrix_json(doc))
    if source:
        store.mark_imported(db, target_course_id, source_course_id, matrices=True)
    if not source:
        message = "The source course has no skill matrices to import."
    else:
        message = f"Imported {len(imported)} skill matrix(es)."
        if skipped:
            message = (f"Imported {len(imported)} skill matrix(es); skipped {skipped} that "
                       "already exist in this course with the same skills.")
    return {"message": message, "imported_count": len(imported), "matrices": imported}


# ------------------------------------------------------------------ course descriptions


def get_description(db, course_id: str, instructor_id: str) -> dict:
    doc = store.description_of(db, course_id, instructor_id)
    return {"course_id": course_id, "description": (doc or {}).get("description", ""),
            "updated_at": iso((doc or {}).get("updated_at"))}


def save_description(db, course_id: str, instructor_id: str, text: str) -> dict:
    doc = store.save_description(db, course_id, instructor_id, text.strip())
    return {"course_id": course_id, "description": doc["description"],
            "updated_at": iso(doc["updated_at"])}


# ------------------------------------------------------------------ import status


def import_status(db, course_id: str) -> dict:
    doc = store.import_status(db, course_id) or {}
    body = {"target_course_id": course_id}
    if doc.get("source_course_id"):
        body["source_course_id"] = doc["source_course_id"]
    body["matrices_imported"] = bool(doc.get("matrices_imported"))
    body["assignments_imported"] = bool(doc.get("assignments_imported"))
    return body


# ------------------------------------------------------------------ question skills


def assign_skills(db, course_id: str, question_skills: dict[str, list[str]]) -> dict:
    known = store.course_skill_index(db, course_id)
    unknown: list[str] = []
    resolved: dict[str, list[str]] = {}
    for qid, skills in question_skills.items():
        names = []
        for skill in skills:
            canonical = known.get(store.name_key(skill))
            if canonical is None:
                if skill not in unknown:
                    unknown.append(skill)
            elif canonical not in names:
                names.append(canonical)
        resolved[qid] = names
    if unknown:
        shown = ", ".join(f"'{s}'" for s in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        hint = ("This course has no skill matrix yet; create one first." if not known
                else "Add them to a skill matrix of this course first, or fix the spelling.")
        raise BadRequest(f"These skills are not in any skill matrix of this course: "
                         f"{shown}{more}. {hint}", error="unknown_skills",
                         details={"unknown_skills": unknown})
    assigned, removed = store.write_question_skills(db, course_id, resolved)
    message = f"Saved skills for {assigned} question(s)."
    if removed:
        message = f"Saved skills for {assigned} question(s) and removed {removed} mapping(s)."
    return {"message": message, "assigned": assigned}


def get_assignments(db, course_id: str, question_ids: list[str]) -> dict:
    docs = store.question_skills(db, course_id, question_ids or None)
    return {"course_id": course_id,
            "question_skills": {d["question_id"]: list(d.get("skills") or []) for d in docs}}


def _title_key(title) -> str:
    return normalize_question_text(title or "")


def import_question_skills(db, gateway, *, source_course_id: str, target_course_id: str,
                           instructor_id: str) -> dict:
    """Copy question-skill assignments from a past course (see module docstring)."""
    if not store.matrices_of(db, target_course_id):
        import_matrices(db, source_course_id=source_course_id,
                        target_course_id=target_course_id, instructor_id=instructor_id)
    target_skills = store.course_skill_index(db, target_course_id)
    source_map = {d["question_id"]: d.get("skills") or []
                  for d in store.question_skills(db, source_course_id)}

    source_quizzes: dict[str, list] = {}
    for quiz in gateway.quizzes(source_course_id) or []:
        source_quizzes.setdefault(_title_key(quiz.get("title")), []).append(quiz)

    matched_quizzes = matched_questions = 0
    mapping: dict[str, list[str]] = {}
    quiz_of: dict[str, str] = {}
    existing = {d["question_id"]: d.get("skills") or []
                for d in store.question_skills(db, target_course_id)}
    for quiz in gateway.quizzes(target_course_id) or []:
        key = _title_key(quiz.get("title"))
        if not key or key not in source_quizzes:
            continue
        matched_quizzes += 1
        by_text: dict[str, list[str]] = {}
        for src_quiz in source_quizzes[key]:
            for question in gateway.questions(source_course_id, str(src_quiz["id"])) or []:
                text = normalize_question_text(question.get("question_text"))
                if text:
                    by_text.setdefault(text, []).append(str(question["id"]))
        for question in gateway.questions(target_course_id, str(quiz["id"])) or []:
            text = normalize_question_text(question.get("question_text"))
            if not text or text not in by_text:
                continue
            matched_questions += 1
            qid = str(question["id"])
            skills = list(mapping.get(qid) or existing.get(qid) or [])
            seen = {store.name_key(s) for s in skills}
            added = False
            for src_qid in by_text[text]:
                for skill in source_map.get(src_qid, []):
                    canonical = target_skills.get(store.name_key(skill))
                    if canonical and store.name_key(canonical) not in seen:
                        skills.append(canonical)
                        seen.add(store.name_key(canonical))
                        added = True
            if added:
                mapping[qid] = skills
                quiz_of[qid] = str(quiz["id"])
    if mapping:
        store.write_question_skills(db, target_course_id, mapping, quiz_of)
    store.mark_imported(db, target_course_id, source_course_id, assignments=True)
    return {"imported_count": len(mapping), "matched_quizzes": matched_quizzes,
            "matched_questions": matched_questions}


def course_skills(db, course_id: str, matrix_id: str | None = None) -> list[str]:
    """The skills suggestions may use: one matrix's (it must belong to the course) or the
    union of the course's matrices, in matrix order, without duplicates."""
    if matrix_id:
        matrix = store.matrix_by_id(db, matrix_id) if ObjectId.is_valid(matrix_id) else None
        if matrix is None or matrix["course_id"] != course_id:
            raise NotFound("This skill matrix does not exist in this course. Reload the page.",
                           error="matrix_not_found")
        return list(matrix.get("skills") or [])
    return list(store.course_skill_index(db, course_id).values())
