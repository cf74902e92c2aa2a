"""What the AchieveUp course sync stores for insights (called from ``store_snapshot``).

* :func:`answer_docs`: the answer choices kept on each stored question (``answers: [{id, text,
  correct}]``, from Canvas' ``answers[{id, text, weight}]``, weight > 0 = correct), which the
  distractor analysis needs; :func:`classic_answers` turns them back into Canvas' shape for the
  previous snapshot of an incremental sync.
* :func:`store_quiz_submissions`: per student, one plain entry per quiz with the assignment
  submission fields engagement reads (``late``, ``missing``, ``excused``, ``attempt``,
  ``submitted_at``...), from the snapshot's assignment submissions (an incremental sync's
  delta replaces the entries of the quizzes it holds). Quizzes of every engine with an
  assignment id are mapped, so New Quizzes work as soon as their submissions arrive.
* :func:`update_item_responses`: the item-response read model (see ``store``) from the stored
  result rows (``QuestionResult`` records, the same for Classic and New Quizzes): each
  student's latest attempt of each quiz. A full sync's rows hold every submission, so the
  touched quizzes are rebuilt from them; an incremental sync's rows are the delta, merged into
  the stored documents (a student's newer attempt replaces their older one); a quiz without
  documents yet is built once from all its stored result rows.
"""
from __future__ import annotations

from achieveup.insights import store
from knowgap.core.clock import parse as when
from knowgap.core.numbers import finite_float
from knowgap.core.tenancy import where


# ------------------------------------------------------------------ answer choices

def _answer_text(answer: dict) -> str:
    from knowgap.topics.text import html_to_text

    text = answer.get("text")
    if not text and answer.get("html"):
        text = html_to_text(answer["html"])
    return str(text or answer.get("left") or "")


def answer_docs(answers) -> list[dict]:
    out = []
    for a in answers or []:
        if not isinstance(a, dict) or a.get("id") is None:
            continue
        weight = finite_float(a.get("weight"))
        doc = {"id": str(a["id"]), "text": _answer_text(a),
               "correct": weight is not None and weight > 0}
        if a.get("blank_id") is not None:
            doc["blank_id"] = str(a["blank_id"])
        out.append(doc)
    return out


def classic_answers(docs) -> list[dict]:
    out = []
    for d in docs or []:
        if isinstance(d, dict) and d.get("id") is not None:
            answer = {"id": d["id"], "text": d.get("text") or "",
                      "weight": 100 if d.get("correct") else 0}
            if d.get("blank_id") is not None:
                answer["blank_id"] = d["blank_id"]
            out.append(answer)
    return out


# ------------------------------------------------------------------ quiz submissions

def _int(value):
    number = finite_float(value)
    return int(number) if number is not None else None


def submission_entries(submissions, quiz_by_assignment: dict) -> dict[str, dict[str, dict]]:
    """``{student_id: {quiz_id: entry}}`` from Canvas assignment submissions."""
    out: dict = {}
    for s in submissions or []:
        if not isinstance(s, dict):
            continue
        quiz_id = quiz_by_assignment.get(str(s.get("assignment_id")))
        sid = s.get("user_id")
        if quiz_id is None or sid is None:
            continue
        out.setdefault(str(sid), {})[quiz_id] = {
            "quiz_id": quiz_id, "assignment_id": str(s.get("assignment_id")),
            "workflow_state": s.get("workflow_state"), "late": bool(s.get("late")),
            "missing": bool(s.get("missing")), "excused": bool(s.get("excused")),
            "attempt": _int(s.get("attempt")), "seconds_late": _int(s.get("seconds_late")),
            "submitted_at": when(s.get("submitted_at")), "graded_at": when(s.get("graded_at")),
            "due_at": when(s.get("cached_due_date"))}
    return out


def store_quiz_submissions(db, course_id: str, submissions, quizzes: list[dict], now) -> int:
    """Store the snapshot's quiz submissions; returns how many students' documents were new
    or changed."""
    by_assignment = {q["assignment_id"]: q["quiz_id"] for q in quizzes if q.get("assignment_id")}
    fresh = submission_entries(submissions, by_assignment)
    existing = store.existing_submissions(db, course_id, fresh)
    new, changed = [], []
    for sid, entries in fresh.items():
        old = existing.get(sid)
        merged = {e["quiz_id"]: e for e in (old or {}).get("quizzes") or []}
        merged.update(entries)
        quizzes_ = [merged[q] for q in sorted(merged)]
        if old is not None and old.get("quizzes") == quizzes_:
            continue
        stamps = [e["submitted_at"] for e in quizzes_ if e["submitted_at"] is not None]
        doc = {"_id": store.submission_id(db, course_id, sid),
               **where(db, course_id=course_id, student_id=sid), "quizzes": quizzes_,
               "last_submitted_at": max(stamps) if stamps else None, "updated_at": now}
        (new if old is None else changed).append(doc)
    return store.save_submissions(db, new, changed)


# ------------------------------------------------------------------ item responses

def latest_attempts(rows) -> dict[str, dict[str, tuple[int, dict]]]:
    """``{quiz_id: {student_id: (attempt, {question_id: [attempt, credit, picks]})}}``
    holding each student's highest-numbered attempt of each quiz (``picks``: the answer ids,
    comma-separated)."""
    out: dict = {}
    for r in rows:
        quiz, student, attempt = str(r["quiz_id"]), str(r["student_id"]), int(r["attempt"])
        per_quiz = out.setdefault(quiz, {})
        current = per_quiz.get(student)
        if current is None or attempt > current[0]:
            current = per_quiz[student] = (attempt, {})
        if attempt == current[0]:
            current[1][str(r["question_id"])] = [
                attempt, r.get("credit"), ",".join(str(a) for a in r.get("answer_ids") or [])]
    return out


def answers_by_question(latest: dict) -> dict[str, dict]:
    out: dict = {}
    for student, (_, answers) in latest.items():
        for qid, row in answers.items():
            out.setdefault(qid, {})[student] = row
    return out


def _merge(stored: dict[str, dict], latest: dict) -> dict[str, dict]:
    """Replace each student's stored answers by their answers of a newer (or the same,
    regraded) attempt; an older attempt than the stored one changes nothing."""
    merged = {qid: dict(rows) for qid, rows in stored.items()}
    for student, (attempt, answers) in latest.items():
        held = [rows[student][0] for rows in merged.values() if student in rows]
        if held and max(held) > attempt:
            continue
        for rows in merged.values():
            rows.pop(student, None)
        for qid, row in answers.items():
            merged.setdefault(qid, {})[student] = row
    return merged


def update_item_responses(db, course_id: str, rows: list[dict], now, *, full: bool) -> int:
    """Bring the item responses of every quiz in ``rows`` up to date; returns the number of
    documents written or deleted."""
    written = 0
    for quiz_id, latest in latest_attempts(rows).items():
        existing = store.quiz_response_docs(db, course_id, quiz_id)
        if not full and not existing:
            written += rebuild_quiz_responses(db, course_id, quiz_id, now)
            continue
        if full:
            by_question = answers_by_question(latest)
        else:
            stored = {qid: store.unpack_rows(d.get("packed")) for qid, d in existing.items()}
            by_question = _merge(stored, latest)
        written += store.write_quiz_responses(db, course_id, quiz_id, by_question, existing,
                                              now)
    return written


def rebuild_quiz_responses(db, course_id: str, quiz_id: str, now) -> int:
    """Build one quiz's item responses from all its stored result rows (results synced before
    the read model existed)."""
    all_rows = store.results_of_quiz(db, course_id, quiz_id)
    latest = latest_attempts(all_rows).get(str(quiz_id), {})
    existing = store.quiz_response_docs(db, course_id, quiz_id)
    return store.write_quiz_responses(db, course_id, quiz_id, answers_by_question(latest),
                                      existing, now)
