"""The only place that knows the insights collections and the queries over them.

Every document carries ``canvas_host`` and every query filters by it (``db`` is scoped to a
Canvas host, ``knowgap.core.tenancy``).

* ``AchieveUp_Item_Responses`` (one document per course + quiz + question, ``_id``
  "host|course|quiz|question"): ``{course_id, quiz_id, question_id, students, difficulty,
  student_ids: [...], attempts: [...], credits: [...], choices: [[answer ids], ...],
  updated_at}``: each student's answer in their latest attempt of the quiz, the four arrays
  parallel (the i-th student, their attempt, credit and the answer choices they picked);
  ``students`` (graded answers) and ``difficulty`` (their mean credit) summarise them.
  Maintained by ``ingest.update_item_responses`` from the stored result rows, so item
  analysis reads a few small documents instead of every result row of the quiz; every write
  changes the course's ``responses_version``, which keys the course view
  (:func:`course_responses`, ``achieveup.readmodel``).
* ``AchieveUp_Quiz_Submissions`` (one document per course + student, ``_id``
  "host|course|student"): ``{course_id, student_id, last_submitted_at, updated_at,
  quizzes: [{quiz_id, assignment_id, workflow_state, late, missing, excused, attempt, seconds_late, submitted_at,
  graded_at, due_at}]}``, one entry per quiz with the Canvas assignment-submission fields
  engagement needs (datetimes in UTC). One document per student keeps a student's engagement one
  read, and the course's a read of one document per student.
* ``AchieveUp_Leaderboard_Preferences`` (``_id`` = "host|Canvas user id"): ``{canvas_host,
  student_id, opt_in, updated_at}``; a student is listed on leaderboards only with ``opt_in: true``.
* ``AchieveUp_Course_Settings.leaderboard_enabled`` (one field of the course settings document,
  written only by :func:`set_leaderboard_enabled`; absent = on).
"""
from __future__ import annotations

from achieveup import readmodel
from achieveup.mastery import store as mstore
from achieveup.mastery.store import fetch_all, find_one, utcnow
from knowgap.core.tenancy import key, where

RESPONSES = "AchieveUp_Item_Responses"
SUBMISSIONS = "AchieveUp_Quiz_Submissions"
PREFERENCES = "AchieveUp_Leaderboard_Preferences"
LEADERBOARD_FIELD = "leaderboard_enabled"
SEP = mstore.SEP


def response_id(db, course_id, quiz_id, question_id) -> str:
    return key(db, course_id, quiz_id, question_id)


def submission_id(db, course_id, student_id) -> str:
    return key(db, course_id, student_id)


# ------------------------------------------------------------------ item responses

def quiz_response_docs(db, course_id: str, quiz_id: str) -> dict[str, dict]:
    """``{question_id: stored document}`` of one quiz."""
    return {d["question_id"]: d for d in fetch_all(
        db[RESPONSES], where(db, course_id=str(course_id), quiz_id=str(quiz_id)))}


def columns(rows: dict) -> dict:
    """``{student_id: [attempt, credit, picks]}`` as the stored parallel arrays, by student."""
    ids = sorted(rows)
    return {"student_ids": ids, "attempts": [rows[s][0] for s in ids],
            "credits": [rows[s][1] for s in ids],
            "choices": [[p for p in (rows[s][2] or "").split(",") if p] for s in ids]}


def stored_columns(doc: dict) -> dict:
    """``{"s": [student ids], "a": [attempts], "c": [credits], "p": [picks]}`` of a stored
    document (``picks``: the answer ids, comma-separated)."""
    return {"s": list(doc.get("student_ids") or []), "a": list(doc.get("attempts") or []),
            "c": list(doc.get("credits") or []),
            "p": [",".join(str(p) for p in picks or ()) for picks in doc.get("choices") or []]}


def stored_rows(doc: dict) -> dict:
    """``{student_id: [attempt, credit, picks]}`` of a stored document."""
    cols = stored_columns(doc)
    return {s: [a, c, p] for s, a, c, p in zip(cols["s"], cols["a"], cols["c"], cols["p"])}


def quiz_responses(db, course_id: str, quiz_id: str) -> dict[str, dict]:
    """``{question_id: columns}`` of one quiz (see :func:`stored_columns`; read-only)."""
    return dict(course_responses(db, course_id).get(str(quiz_id), {}))


def _load_responses(db, course_id: str) -> dict:
    out: dict = {}
    for d in fetch_all(db[RESPONSES], where(db, course_id=str(course_id))):
        out.setdefault(d["quiz_id"], {})[d["question_id"]] = stored_columns(d)
    return out


def course_responses(db, course_id: str) -> dict[str, dict[str, dict]]:
    """``{quiz_id: {question_id: columns}}`` of the whole course (read-only; a course view)."""
    course_id = str(course_id)
    return readmodel.view(db, course_id, "responses",
                          mstore.version_of(db, course_id, VERSION),
                          lambda: _load_responses(db, course_id))


def difficulties(db, course_id: str, question_ids) -> dict[str, float]:
    """``{question_id: difficulty}`` for the questions that have one."""
    return {d["question_id"]: d["difficulty"] for d in fetch_all(
        db[RESPONSES], where(db, course_id=str(course_id),
                             question_id={"$in": sorted({str(q) for q in question_ids})}),
        {"_id": 0, "question_id": 1, "difficulty": 1})
        if d.get("difficulty") is not None}


def response_doc(db, course_id: str, quiz_id: str, question_id: str, rows: dict, now) -> dict:
    graded = [r[1] for r in rows.values() if r[1] is not None]
    return {"_id": response_id(db, course_id, quiz_id, question_id),
            **where(db, course_id=str(course_id)),
            "quiz_id": str(quiz_id), "question_id": str(question_id), "students": len(graded),
            "difficulty": round(sum(graded) / len(graded), 3) if graded else None,
            **columns(rows), "updated_at": now}


def write_quiz_responses(db, course_id: str, quiz_id: str, by_question: dict,
                         existing: dict, now) -> int:
    """Store ``{question_id: {student_id: row}}`` as the quiz's documents; documents whose
    rows did not change are left alone and questions without rows are deleted."""
    changed = []
    for qid, rows in by_question.items():
        if not rows:
            continue
        doc = response_doc(db, course_id, quiz_id, qid, rows, now)
        old = existing.get(qid)
        if old is None or any(old.get(k) != doc[k] for k in RESPONSE_COLUMNS):
            changed.append(doc)
    before = mstore.version_of(db, course_id, VERSION)
    mstore.replace_many(db[RESPONSES], changed)
    gone = [d["_id"] for qid, d in existing.items() if not by_question.get(qid)]
    if gone:
        db[RESPONSES].delete_many(where(db, _id={"$in": gone}))
    if changed or gone:
        mstore.advance_version(db, course_id, before, VERSION)
    return len(changed) + len(gone)


RESPONSE_COLUMNS = ("student_ids", "attempts", "credits", "choices")
#: The course's version of its item responses (``AchieveUp_Course_Versions``).
VERSION = "responses_version"


def results_of_quiz(db, course_id: str, quiz_id: str) -> list[dict]:
    """The stored result rows of one quiz (for building its responses the first time)."""
    return fetch_all(db[mstore.RESULTS], where(db, course_id=str(course_id), quiz_id=str(quiz_id)),
                     {"_id": 0, "student_id": 1, "quiz_id": 1, "question_id": 1, "attempt": 1,
                      "credit": 1, "answer_ids": 1})


def has_results(db, course_id: str, quiz_id: str) -> bool:
    return find_one(db[mstore.RESULTS], where(db, course_id=str(course_id),
                                              quiz_id=str(quiz_id)), {"_id": 1}) is not None


# ------------------------------------------------------------------ quizzes and questions

def quiz_of(db, course_id: str, quiz_id: str) -> dict | None:
    return find_one(db[mstore.QUIZZES], {"_id": key(db, course_id, quiz_id)}, {"_id": 0})


def quizzes_of(db, course_id: str) -> list[dict]:
    return mstore.quizzes_of(db, str(course_id))


def questions_of(db, course_id: str, quiz_id: str | None = None, question_ids=None) -> list:
    query: dict = where(db, course_id=str(course_id))
    if quiz_id is not None:
        query["quiz_id"] = str(quiz_id)
    if question_ids is not None:
        query["question_id"] = {"$in": sorted({str(q) for q in question_ids})}
    return fetch_all(db[mstore.QUESTIONS], query, {"_id": 0, "updated_at": 0})


# ------------------------------------------------------------------ quiz submissions

def submissions_of_course(db, course_id: str) -> dict[str, list[dict]]:
    """``{student_id: [quiz entries]}``."""
    return {d["student_id"]: list(d.get("quizzes") or []) for d in fetch_all(
        db[SUBMISSIONS], where(db, course_id=str(course_id)), {"_id": 0, "student_id": 1,
                                                              "quizzes": 1})}


def submissions_of_student(db, course_id: str, student_id: str) -> list[dict]:
    doc = find_one(db[SUBMISSIONS], {"_id": submission_id(db, course_id, student_id)},
                   {"quizzes": 1})
    return list((doc or {}).get("quizzes") or [])


def latest_submission_at(db, course_id: str):
    """The course's latest quiz submission time (its own clock for recency), or None."""
    docs = list(db[SUBMISSIONS].find(where(db, course_id=str(course_id),
                                           last_submitted_at={"$ne": None}),
                                     {"_id": 0, "last_submitted_at": 1})
                .sort("last_submitted_at", -1).limit(1))
    return docs[0]["last_submitted_at"] if docs else None


def existing_submissions(db, course_id: str, student_ids) -> dict[str, dict]:
    ids = sorted({str(s) for s in student_ids})
    if not ids:
        return {}
    return {d["student_id"]: d for d in fetch_all(db[SUBMISSIONS], where(
        db, course_id=str(course_id), student_id={"$in": ids}))}


def save_submissions(db, new: list[dict], changed: list[dict]) -> int:
    """Insert the new students' documents and replace the changed ones."""
    _, dups = mstore.insert_new(db[SUBMISSIONS], new)
    dup_ids = set(dups)
    mstore.replace_many(db[SUBMISSIONS], changed + [d for d in new if d["_id"] in dup_ids])
    return len(new) + len(changed)


# ------------------------------------------------------------------ leaderboard

def leaderboard_enabled(db, course_id: str) -> bool:
    value = mstore.course_settings(db, str(course_id)).get(LEADERBOARD_FIELD)
    return True if value is None else bool(value)


def set_leaderboard_enabled(db, course_id: str, enabled: bool, by: str) -> None:
    mstore.update_course_settings(db, str(course_id), {
        LEADERBOARD_FIELD: bool(enabled), "leaderboard_updated_by": by,
        "leaderboard_updated_at": utcnow()})


def opt_in_of(db, student_id: str) -> bool:
    doc = db[PREFERENCES].find_one({"_id": key(db, student_id)}, {"opt_in": 1})
    return bool((doc or {}).get("opt_in"))


def set_opt_in(db, student_id: str, opt_in: bool) -> None:
    db[PREFERENCES].update_one({"_id": key(db, student_id)},
                               {"$set": {**where(db, student_id=str(student_id)),
                                         "opt_in": bool(opt_in), "updated_at": utcnow()}},
                               upsert=True)


def opted_in(db, student_ids) -> set[str]:
    ids = sorted({str(s) for s in student_ids})
    return {d["student_id"] for d in fetch_all(
        db[PREFERENCES], where(db, _id={"$in": [key(db, s) for s in ids]}, opt_in=True),
        {"_id": 0, "student_id": 1})}


# ------------------------------------------------------------------ KnowGap videos

def question_videos(db, course_id: str, question_ids=None) -> dict[str, dict]:
    """``{question_id: video}`` of the course's KnowGap questions that have a video."""
    from knowgap.courses import store as kstore

    query: dict = where(db, course_id=str(course_id), video={"$ne": None})
    if question_ids is not None:
        query["question_id"] = {"$in": sorted({str(q) for q in question_ids})}
    return {d["question_id"]: d["video"] for d in fetch_all(
        db[kstore.QUESTIONS], query, {"_id": 0, "question_id": 1, "video": 1})
        if isinstance(d.get("video"), dict) and d["video"].get("link")}


def watched_by_student(db, course_id: str) -> dict[str, set]:
    from knowgap.videos import store as vstore

    out: dict = {}
    for d in fetch_all(db[vstore.WATCHED], where(db, course_id=str(course_id), watched=True),
                       {"_id": 0, "student_id": 1, "video_link": 1}):
        out.setdefault(str(d["student_id"]), set()).add(d["video_link"])
    return out


def watched_of(db, course_id: str, student_id: str) -> set[str]:
    from knowgap.videos import store as vstore

    return vstore.watched_links(db, str(course_id), str(student_id))
