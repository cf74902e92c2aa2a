"""The students' course summaries (``AchieveUp_Student_Mastery``) and evidence as stored: how
every stage of a course update and every reader reads and writes them.

The mastery stage (``achieveup.mastery.service``) builds the summary documents, the badge
stage (``achieveup.badges.service``) records its badges in them, the course pipeline
(``achieveup.pipeline``) writes them; analytics, insights, exports and KnowGap's risk read
them. None of those imports another to get at a summary: they all come here. The summary
document's fields are described in ``achieveup.mastery.service``.
"""
from __future__ import annotations

from achieveup.mastery import explain
from achieveup.mastery import store
from knowgap.core.tenancy import where

SKILL_FIELDS = ("skill", "score", "level", "questions_attempted", "questions_correct",
                "p_mastery", "evidence_count", "mastered", "last_graded_at", "model", "evidence",
                "explanation")


def answer_dicts(rows) -> list[dict]:
    """Answer rows (``store.ANSWER_FIELDS``) as dicts."""
    return [dict(zip(store.ANSWER_FIELDS, r)) for r in rows]


def score_basis(entry: dict) -> dict:
    """``{model, evidence, explanation}`` of a per-skill entry: what produced its score, how
    many graded answers it rests on, and how, in one sentence. Summaries written before these
    fields existed (percentage or BKT scores) get them from the fields they have."""
    name = entry.get("model") or "percentage"
    if entry.get("explanation"):
        return {"model": name, "evidence": entry["evidence"],
                "explanation": entry["explanation"]}
    if name == "percentage":
        evidence = entry["questions_attempted"]
        text = explain.percentage(evidence, entry["questions_correct"], entry["score"]) \
            if evidence else explain.NOT_STARTED
    else:
        evidence = entry["evidence_count"]
        text = explain.bkt(entry["p_mastery"], evidence, name.removeprefix("bkt_")) \
            if evidence else explain.NOT_STARTED
    return {"model": name, "evidence": evidence, "explanation": text}


def skills_of(doc: dict | None) -> list[dict]:
    """The per-skill entries of a summary."""
    return list((doc or {}).get("skills") or [])


def badge_rows(doc: dict) -> list[dict]:
    """The summary's recorded (non-revoked) badges ``{skill, level, earned_at, percentage,
    evidence_count}`` (a new list)."""
    return list(doc.get("badges") or [])


def write_summaries(db, course_id: str, docs: list[dict]) -> int:
    """Replace the course's summaries with ``docs`` (and drop students no longer present)."""
    store.replace_course_docs(db, store.MASTERY, str(course_id), docs)
    store.bump_version(db, course_id)
    return len(docs)


def summaries_of_course(db, course_id: str, *, projection: dict | None = None) -> list[dict]:
    """Stored summaries of the course (copies)."""
    return store.fetch_all(db[store.MASTERY], where(db, course_id=str(course_id)), projection)


def summary_of(db, course_id: str, student_id: str) -> dict | None:
    return store.find_one(db[store.MASTERY], {"_id": store.summary_id(db, course_id, student_id)})
