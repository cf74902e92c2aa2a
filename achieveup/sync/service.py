"""Storing a course snapshot: the store-results stage of the course pipeline
(``achieveup.pipeline``).

Quizzes, questions and students are stored, and every student's per-question result per
attempt in ``AchieveUp_Question_Results`` with the natural key (host, course, student, quiz,
question, attempt) as ``_id`` (``CourseSnapshot.results()``: Classic Quizzes' submission
histories and New Quizzes' student analysis reports as one kind of record; New Quizzes whose
report is pending, failed, refused (403) or incomplete (it lost students) keep their earlier
rows and are asked for again next time, recorded in the state's ``pending_reports``, named in
the job's ``errors`` with their counts, and shown on the quiz (``achieveup.sync.new_quizzes``)):
new rows are inserted, changed rows (regrades) replaced, identical rows left alone, so
re-running is idempotent; the evidence documents of every student whose results changed are
written first (so a sync interrupted between the two writes finds the results still new next
time), and the course's answers view moves along with them (``store.write_answers``); then
the insights read models are brought up to date (item responses, quiz submissions;
``achieveup.insights``). The sync job that fetches the snapshot is ``achieveup.sync.job``.

Everything is stored for the Canvas host ``db`` is scoped to (``knowgap.core.tenancy``).
"""
from __future__ import annotations

import functools

from achieveup.insights import ingest as insights
from achieveup.mastery import calc
from achieveup.mastery import store
from achieveup.sync import new_quizzes as nq_sync
from knowgap.canvas import results
from knowgap.core.tenancy import key, where


def _num(value):
    if isinstance(value, bool):
        return None
    return value if isinstance(value, (int, float)) else None


# ------------------------------------------------------------------ snapshot -> documents

def quiz_docs(db, course_id: str, quizzes: list, now, states: dict | None = None) -> list[dict]:
    """``states``: {New Quiz id: results state fields} (``nq_sync.report_states``)."""
    out = []
    for q in quizzes:
        qid = str(q.get("id"))
        out.append({**(states or {}).get(qid, {}),
                    "_id": key(db, course_id, qid), **where(db, course_id=course_id),
                    "quiz_id": qid,
                    "title": q.get("title") or f"Quiz {qid}",
                    "assignment_id": str(q["assignment_id"]) if q.get("assignment_id") else None,
                    "points_possible": _num(q.get("points_possible")),
                    "question_count": q.get("question_count"),
                    "scoring_policy": q.get("scoring_policy") or calc.DEFAULT_POLICY,
                    "allowed_attempts": q.get("allowed_attempts"),
                    "published": q.get("published"), "due_at": q.get("due_at"),
                    "source": q.get("source") or results.CLASSIC, "updated_at": now})
    return out


def question_docs(db, course_id: str, questions: dict, now) -> list[dict]:
    out = []
    for quiz_id, items in (questions or {}).items():
        for q in items or []:
            qid = str(q.get("id"))
            out.append({"_id": key(db, course_id, qid), **where(db, course_id=course_id),
                        "quiz_id": str(q.get("quiz_id") or quiz_id), "question_id": qid,
                        "question_name": q.get("question_name"),
                        "question_type": q.get("question_type"),
                        "question_text": q.get("question_text"),
                        "points_possible": _num(q.get("points_possible")),
                        "position": q.get("position"),
                        "answers": insights.answer_docs(q.get("answers")),
                        "entry_ids": [str(e) for e in q.get("entry_ids") or []],
                        "source": q.get("source") or results.CLASSIC, "updated_at": now})
    return out


def student_docs(db, course_id: str, students: list, now) -> list[dict]:
    out = {}
    for e in students or []:
        user = e.get("user") if isinstance(e.get("user"), dict) else {}
        sid = e.get("user_id") or user.get("id") or e.get("id")
        if sid is None:
            continue
        sid_raw, sid = sid, str(sid)
        grades = e.get("grades") or {}
        email = user.get("email") or user.get("primary_email") or e.get("email")
        login = user.get("login_id")
        if not email and isinstance(login, str) and "@" in login:
            email = login
        out[sid] = {"_id": key(db, course_id, sid),
                    **where(db, course_id=course_id, student_id=sid),
                    "canvas_user_id": sid_raw,
                    "name": user.get("name") or e.get("name") or f"Student {sid}",
                    "sortable_name": user.get("sortable_name"), "email": email,
                    "current_score": _num(grades.get("current_score")),
                    "final_score": _num(grades.get("final_score")), "updated_at": now}
    return list(out.values())


def result_docs(db, course_id: str, results) -> list[dict]:
    """One stored row per ``QuestionResult`` (course, student, quiz, question, attempt)."""
    out = []
    scope = where(db, course_id=course_id)
    result_id = store.result_ids(db, course_id)
    for r in results:
        out.append({"_id": result_id(r.student_id, r.quiz_id, r.question_id, r.attempt),
                    **scope, "student_id": r.student_id,
                    "quiz_id": r.quiz_id, "question_id": r.question_id, "attempt": r.attempt,
                    "graded_at": _graded_at(r.graded_at), "credit": r.credit,
                    "points": r.points, "points_possible": r.points_possible,
                    "correct": r.correct, "source": r.source, "answer_ids": list(r.answer_ids),
                    "note": r.note})
    return out


_times: dict = {}


def _graded_at(value):
    """Canvas' ISO time as a date (millisecond precision, as stored); one parse per distinct
    string (a quiz attempt's answers share it)."""
    if value is None or not isinstance(value, str):
        return value
    parsed = _times.get(value)
    if parsed is None:
        if len(_times) > 100_000:
            _times.clear()
        parsed = store.parse_time(value)
        if parsed is not None:
            parsed = parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)
        parsed = _times[value] = parsed if parsed is not None else value
    return parsed


_COMPARED = ("graded_at", "credit", "points", "points_possible", "correct", "source",
             "answer_ids", "note")


def _answer_row(r: dict) -> tuple:
    """The answer as ``store.ANSWER_FIELDS`` (``graded_at`` as ``store.iso`` writes it, the
    same text a stored evidence document gives back)."""
    return (r["quiz_id"], r["question_id"], r["attempt"], _iso(r.get("graded_at")),
            r.get("credit"), r.get("points_possible"))


@functools.lru_cache(maxsize=4096)
def _iso(value) -> str | None:
    """``store.iso`` of a (parsed) ``graded_at``; an attempt's answers share one."""
    return store.iso(_graded_at(value))


def store_results(db, course_id: str, rows: list[dict], now) -> tuple[dict, set]:
    """Insert new rows, replace changed ones; returns (counts, students whose rows changed).
    The changed students' evidence is written first (see the module docstring)."""
    collection = db[store.RESULTS]
    touched_students = sorted({r["student_id"] for r in rows})
    existing = {d["_id"]: d for d in store.fetch_all(
        collection, where(db, course_id=course_id, student_id={"$in": touched_students}))}
    new, changed = [], []
    for r in rows:
        old = existing.get(r["_id"])
        if old is None:
            new.append({**r, "stored_at": now})
        elif any(old.get(k) != r.get(k) for k in _COMPARED):
            changed.append({**r, "stored_at": now})
    dirty = {d["student_id"] for d in new} | {d["student_id"] for d in changed}
    write_evidence(db, course_id, new + changed, now)
    inserted, dups = store.insert_new(collection, new)
    dup_ids = set(dups)
    store.replace_many(collection, changed + [d for d in new if d["_id"] in dup_ids])
    return {"results_new": inserted, "results_changed": len(changed),
            "results_unchanged": len(rows) - len(new) - len(changed)}, dirty


def write_evidence(db, course_id: str, rows: list[dict], now) -> int:
    """Merge new and changed result rows into their students' stored answers (by quiz,
    question and attempt) and store those students' evidence; returns the students."""
    if not rows:
        return 0
    answers = store.course_answers(db, course_id)
    merged: dict = {}
    for r in rows:
        sid = r["student_id"]
        if sid not in merged:
            merged[sid] = {(a[0], a[1], a[2]): a for a in answers.get(sid, ())}
        row = _answer_row(r)
        merged[sid][row[:3]] = row
    store.write_answers(db, course_id, {sid: list(by_key.values())
                                        for sid, by_key in merged.items()}, now, base=answers)
    return len(merged)


def store_snapshot(db, course_id: str, snap, now) -> dict:
    states = nq_sync.report_states(db, course_id, snap, now)
    quizzes = quiz_docs(db, course_id, snap.quizzes, now, states)
    questions = question_docs(db, course_id, snap.questions, now)
    students = student_docs(db, course_id, snap.students, now)
    store.replace_many(db[store.QUIZZES], quizzes)
    store.replace_many(db[store.QUESTIONS], questions)
    store.replace_many(db[store.STUDENTS], students)
    nq_sync.apply_unlisted(db, course_id, states, {d["quiz_id"] for d in quizzes})
    rows = result_docs(db, course_id, snap.results())
    counts, dirty = store_results(db, course_id, rows, now)
    counts["evidence_rebuilt"] = len(dirty)
    counts["item_responses_written"] = insights.update_item_responses(
        db, course_id, rows, now, full=not snap.incremental)
    counts["quiz_submissions_written"] = insights.store_quiz_submissions(
        db, course_id, snap.submissions, quizzes, now)
    counts.update(quizzes=len(quizzes), questions=len(questions), students=len(students),
                  submissions=len(snap.submissions or []))
    return counts
