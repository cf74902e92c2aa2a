"""Course sync: quizzes, questions and each student's incorrect answers, then topics/videos.

Two ways in, same code: ``/update-course-db`` (the caller's own token) and the scheduled
``knowgap_course_sync`` job (a stored token). An instructor's token sees everything: all
quizzes, all questions (all pages), every student's submissions with history. A student's
token cannot list questions (Canvas answers 401/403 to students), so a student sync reads the
quiz list and the student's *own* submissions (``student_ids[]=self``) and relies on the
questions stored by an instructor's sync for texts, topics and videos.

Fetching is concurrent (questions per quiz, submissions per quiz) inside one Canvas client
session, which enforces Canvas' per-token concurrency limit itself.

Instructor syncs are incremental. After each successful instructor sync the course's
``knowgap_sync_state`` holds a cursor (the latest ``graded_at`` seen) and each quiz's
``quiz_signature`` and assignment id. The next instructor sync then lists the quizzes (always:
it is how changes are seen) and fetches
* questions only of quizzes that are new or whose signature changed (or whose questions could
  not be read last time), replacing those quizzes' stored questions;
* submissions with ``graded_since=<cursor>`` for the known quizzes (batches of
  ``INCREMENTAL_BATCH`` assignments, so an unchanged course costs one request), and all
  submissions of quizzes that are new or got another assignment;
and replaces, for the students in that delta only, the incorrect-answer entry of each quiz they
have newly graded work in (latest attempt, as in a full sync). An unchanged 3-quiz course
re-syncs with 2 Canvas requests (quiz list + one empty submissions page).

A full sync (everything refetched, data of quizzes no longer in Canvas dropped) runs when there
is no state or no cursor yet (e.g. nothing graded so far), when the Canvas host changed, when
the last full sync is older than ``FULL_SYNC_MAX_AGE`` (24 h: it catches what neither the
signature nor ``graded_since`` shows, e.g. an edited question text with the same count, a
submission deleted or a grade changed without a new ``graded_at``), and when a known quiz is no
longer listed. The cursor and signatures are written only after the sync's data is stored, so
a failed sync is simply repeated from the old cursor (re-applying a delta is idempotent).

Student-token syncs are not incremental (they are small: one quiz list and one submissions
request) and never touch the sync state.

Topics and videos: ``generate_course_content`` runs over the course after each sync; it only
calls the AI/YouTube for questions whose topic key (text hash + course context) is new or
stale, or for earlier fallbacks/failures worth retrying, so unchanged questions cost nothing
and a re-sync with no new questions makes no AI or YouTube call.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging

from knowgap.canvas.errors import CanvasNotFound, CanvasPermissionDenied
from knowgap.canvas.snapshot import quiz_signature
from knowgap.core.clock import aware, utcnow
from knowgap.courses import store
from knowgap.canvas import quiz_sources
from knowgap.canvas.new_quizzes import is_new_quiz_id
from knowgap.canvas.results import NEW
from knowgap.canvas.snapshot import reports_due, results_of
from knowgap.courses.answers import incorrect_rows
from knowgap.topics.pipeline import generate_course_content

log = logging.getLogger("knowgap.courses")

# A full instructor sync at least this often, whatever the cursor says (see the module doc).
FULL_SYNC_MAX_AGE = dt.timedelta(hours=24)
# Assignment ids per ``graded_since`` submissions request (a delta is small: one page).
INCREMENTAL_BATCH = 50


async def _questions_or_none(client, course_id, quiz_id):
    try:
        return await quiz_sources.quiz_questions(client, course_id, quiz_id)
    except (CanvasPermissionDenied, CanvasNotFound):
        return None


async def _submissions(client, course_id, assignment_ids, student_ids, graded_since=None):
    try:
        return await client.list_submissions_with_history(course_id, assignment_ids,
                                                          graded_since=graded_since,
                                                          student_ids=student_ids)
    except (CanvasPermissionDenied, CanvasNotFound):
        return []          # e.g. a course designer: may see questions, not grades


def _signature(quiz: dict) -> list:
    return list(quiz_signature(quiz))               # as MongoDB stores it (a list)


def _aid(quiz: dict) -> str | None:
    return str(quiz["assignment_id"]) if quiz.get("assignment_id") else None


def known_quizzes(state: dict | None) -> dict[str, dict]:
    """``{quiz_id: {assignment_id, signature}}`` of the previous instructor sync."""
    return {str(e["quiz_id"]): e for e in (state or {}).get("quizzes") or []}


def full_sync_reason(state: dict | None, base_url: str, now: dt.datetime) -> str | None:
    """Why this instructor sync must be a full one, or None when it can be incremental."""
    if not state:
        return "first sync"
    if not state.get("cursor"):
        return "no cursor"
    if state.get("base_url") != base_url:
        return "canvas host changed"
    last_full = aware(state.get("full_synced_at"))
    if last_full is None or now - last_full >= FULL_SYNC_MAX_AGE:
        return "last full sync older than 24 h"
    return None


async def fetch_instructor_view(client, course_id: str, state: dict | None = None, *,
                                report_wait: float = 120.0) -> dict:
    """Quizzes, questions and submissions, and the reports of New Quizzes (the ones with
    newly graded work when incremental; see ``knowgap.canvas.snapshot.reports_due``);
    incremental from ``state`` when it is given and no known quiz disappeared
    (``incremental`` in the result says which it was). New Quizzes that Canvas refused to list
    (403, ``new_quizzes_refused``) have not disappeared."""
    classic, (new, refused) = await asyncio.gather(
        client.list_quizzes(course_id), quiz_sources.new_quiz_listing(client, course_id))
    quizzes = list(classic) + new
    ids = [str(q["id"]) for q in quizzes]
    known = known_quizzes(state) if state else None
    reason = None
    gone = set(known or ()) - set(ids)
    if refused:
        gone = {q for q in gone if not is_new_quiz_id(q)}
    if known is not None and gone:
        known, reason = None, "a quiz was removed"
    if known is None:
        to_fetch, full_aids, delta_aids = ids, [_aid(q) for q in quizzes if _aid(q)], []
    else:
        to_fetch = [str(q["id"]) for q in quizzes
                    if known.get(str(q["id"]), {}).get("signature") != _signature(q)]
        full_aids, delta_aids = [], []
        for q in quizzes:
            aid = _aid(q)
            if aid is None:
                continue
            prev = known.get(str(q["id"]))
            (delta_aids if prev is not None and prev.get("assignment_id") == aid
             else full_aids).append(aid)
    cursor = state.get("cursor") if known is not None else None
    delta_batches = [delta_aids[i:i + INCREMENTAL_BATCH]
                     for i in range(0, len(delta_aids), INCREMENTAL_BATCH)]
    question_lists, full_lists, delta_lists = await asyncio.gather(
        asyncio.gather(*(_questions_or_none(client, course_id, qid) for qid in to_fetch)),
        asyncio.gather(*(_submissions(client, course_id, [aid], ("all",))
                         for aid in full_aids)),
        asyncio.gather(*(_submissions(client, course_id, batch, ("all",), graded_since=cursor)
                         for batch in delta_batches)))
    questions = {qid: qs for qid, qs in zip(to_fetch, question_lists) if qs is not None}
    submissions = [s for chunk in (*full_lists, *delta_lists) for s in chunk]
    pending = quiz_sources.remembered((state or {}).get("pending_reports"))
    due = reports_due(quizzes, submissions, set(known or ()), pending) if known is not None \
        else [q["id"] for q in quizzes if q.get("source") == NEW and q.get("published") is not False]
    reports = await quiz_sources.read_reports(
        client, course_id, due, wait_seconds=report_wait, remembered=pending,
        questions=questions, submissions=submissions if known is None else None)
    return {"quizzes": quizzes, "questions": questions, "submissions": submissions,
            "reports": reports.results, "report_outcome": reports, "new_quizzes_refused": refused,
            "incremental": known is not None, "reason": reason, "refetched": to_fetch}


async def fetch_student_view(client, course_id: str) -> dict:
    quizzes = await quiz_sources.all_quizzes(client, course_id)
    # New Quizzes' per-item results are only in their reports, which students may not ask
    # for: those come from an instructor's sync
    assignment_ids = [q["assignment_id"] for q in quizzes
                      if q.get("assignment_id") and q.get("source") != NEW]
    subs = await _submissions(client, course_id, assignment_ids, ("self",)) if assignment_ids else []
    return {"quizzes": quizzes, "questions": {}, "submissions": subs, "reports": {}}


def course_results(data: dict) -> list:
    """The fetched work as ``QuestionResult`` records, Classic and New Quizzes alike."""
    return results_of(data["quizzes"], data["questions"], data["submissions"], data["reports"])


def _stamp(value) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def latest_graded_at(submissions: list, since: str | None = None) -> str | None:
    """The latest ``graded_at`` (Canvas' own string) among submissions and their history."""
    best, best_ts = since, _stamp(since)
    for sub in submissions:
        for entry in (sub, *(sub.get("submission_history") or [])):
            ts = _stamp(entry.get("graded_at")) if isinstance(entry, dict) else None
            if ts is not None and (best_ts is None or ts > best_ts):
                best, best_ts = entry["graded_at"], ts
    return best


def next_sync_state(state: dict | None, data: dict, base_url: str, now: dt.datetime) -> dict:
    """The state after a successful instructor sync of ``data``."""
    known = known_quizzes(state) if data["incremental"] else {}
    refetched = set(data["refetched"])
    entries = []
    for q in data["quizzes"]:
        qid = str(q["id"])
        if qid in data["questions"]:
            signature = _signature(q)
        elif qid in refetched:
            signature = None                     # could not read them: try again next time
        else:
            signature = known.get(qid, {}).get("signature")
        entries.append({"quiz_id": qid, "assignment_id": _aid(q), "signature": signature})
    if data.get("new_quizzes_refused"):          # not listed, not gone: still known
        listed = {e["quiz_id"] for e in entries}
        entries += [e for q, e in known_quizzes(state).items()
                    if is_new_quiz_id(q) and q not in listed]
    since = state.get("cursor") if data["incremental"] and state else None
    return {"base_url": base_url, "quizzes": entries,
            "pending_reports": data["report_outcome"].pending_entries(),
            "cursor": latest_graded_at(data["submissions"], since),
            "full_synced_at": (state or {}).get("full_synced_at") if data["incremental"] else now,
            "mode": "incremental" if data["incremental"] else "full"}


def sync_course(svc, access, course_id: str, *, instructor: bool, generate: bool = True,
                full: bool = False) -> dict:
    """Fetch from Canvas with ``access`` (a ``CanvasAccess``/gateway) and store; returns counts.
    ``full`` makes an instructor sync a full one whatever the sync state says."""
    course_id = str(course_id)
    if not instructor:
        return _student_sync(svc, access, course_id, generate=generate)
    db = svc.db
    now = utcnow()
    state = store.get_sync_state(db, course_id)
    reason = "full sync asked for" if full else full_sync_reason(state, access.base_url, now)
    wait = svc.config.canvas_report_wait_seconds
    if access.deadline:
        wait = min(wait, access.deadline / 2)     # leave time for everything else
    data = access.run(lambda client: fetch_instructor_view(
        client, course_id, None if reason else state, report_wait=wait))
    reason = reason or data["reason"]
    refused = data["new_quizzes_refused"]       # keep what is stored for the New Quizzes
    quizzes = store.save_quizzes(db, course_id, data["quizzes"], access.base_url,
                                 prune=not refused)
    store.save_questions(db, course_id, data["questions"], prune=True)
    if not data["incremental"] and not refused:
        store.drop_other_quizzes(db, course_id, quizzes)
    rows = incorrect_rows(course_results(data))
    store.save_incorrect(db, course_id, rows)
    students, n_incorrect = store.incorrect_totals(db, course_id, quizzes)
    summary = {
        "status": "success", "course_id": course_id, "mode": "instructor",
        "full": not data["incremental"], "quizzes": len(quizzes),
        "questions": store.question_count(db, course_id),
        "students": students,
        "incorrect_answers": n_incorrect,
    }
    notes = data["report_outcome"].notes({str(q["id"]): q.get("title") for q in data["quizzes"]})
    if refused:
        notes.insert(0, f"Canvas did not list this course's New Quizzes. {refused} What was "
                        "stored for them is kept.")
    if notes:
        summary["notes"] = notes
    if generate:
        content = generate_course_content(svc, course_id)
        summary.update(topics=content["topics"], videos=content["videos"],
                       video_status=content["video_status"])
    new_state = next_sync_state(state, data, access.base_url, now)
    saved = store.save_sync_state(db, course_id, new_state, (state or {}).get("rev"))
    log.info("knowgap course %s: %s sync%s; questions refetched for %d quiz(zes), %d "
             "submission(s), %d student(s) updated%s", course_id, new_state["mode"],
             f" ({reason})" if reason else "", len(data["refetched"]), len(data["submissions"]),
             len({r["student_id"] for r in rows}),
             "" if saved else "; sync state left to a concurrent sync")
    return summary


def _student_sync(svc, access, course_id: str, *, generate: bool) -> dict:
    """A student's own token: quiz list and own submissions, every time (small)."""
    data = access.run(lambda client: fetch_student_view(client, course_id))
    db = svc.db
    quizzes = store.save_quizzes(db, course_id, data["quizzes"], access.base_url, prune=False)
    rows = incorrect_rows(course_results(data))
    n_incorrect = store.save_incorrect(db, course_id, rows)
    summary = {
        "status": "success", "course_id": course_id, "mode": "student",
        "quizzes": len(quizzes),
        "questions": store.question_count(db, course_id),
        "students": len({r["student_id"] for r in rows}),
        "incorrect_answers": n_incorrect,
    }
    if summary["questions"] == 0:
        summary["message"] = ("Question texts come from your instructor's sync; none are stored "
                              "for this course yet, so videos will appear after it runs.")
    if generate:
        content = generate_course_content(svc, course_id)
        summary.update(topics=content["topics"], videos=content["videos"],
                       video_status=content["video_status"])
    return summary


# ------------------------------------------------------------------ small Canvas reads
def course_quizzes(svc, caller, course_id: str) -> dict:
    quizzes = caller.canvas(svc.config, deadline=svc.config.canvas_timeout_seconds).run(
        lambda client: quiz_sources.all_quizzes(client, course_id))
    return {"status": "success",
            "quizzes": {str(q["id"]): q.get("title") or "" for q in quizzes}}


def student_grade(svc, caller, course_id: str, user_id: str) -> dict:
    enrollments = caller.canvas(svc.config, deadline=svc.config.canvas_timeout_seconds).run(
        lambda client: client.list_enrollments(course_id, user_id=user_id,
                                               types=["StudentEnrollment"]))
    grades = next((e.get("grades") for e in enrollments
                   if isinstance(e, dict) and e.get("grades") is not None), None)
    if grades is None:
        from knowgap.core.errors import NotFound
        raise NotFound(f"User {user_id} has no student enrollment with grades in course "
                       f"{course_id}.", error="grade_not_found")
    return {"status": "success", "grade": {"current_score": grades.get("current_score"),
                                           "final_score": grades.get("final_score")}}


def questions_by_course(svc, caller, course_id: str) -> dict:
    """Stored questions: all for instructors; for a student only quizzes they submitted
    (question texts of unreleased quizzes must not leak to students)."""
    questions = store.questions_of(svc.db, course_id)
    if not caller.is_instructor:
        taken = {row["quiz_id"] for row in store.incorrect_of(svc.db, course_id, caller.user_id)}
        questions = [q for q in questions if q["quiz_id"] in taken]
    titles = store.quiz_titles(svc.db, course_id)
    return {"status": "success", "data": {"course_id": course_id, "questions": [
        {"question_id": q["question_id"], "quiz_id": q["quiz_id"],
         "quiz_name": titles.get(q["quiz_id"], ""), "position": q.get("position"),
         "question_type": q.get("question_type"), "question_text": q.get("question_text", ""),
         "points_possible": q.get("points_possible"), "core_topic": q.get("core_topic")}
        for q in questions]}}


def role_report(course_id: str) -> dict:
    """The popup's ``{user_role}`` report: acknowledged, never stored (roles come from Canvas,
    checked on every call; a token-less report proves nothing)."""
    return {"status": "ignored", "course_id": course_id,
            "message": "Nothing was stored: KnowGap reads your role in the course from Canvas. "
                       "To set the course context, send it as text with your Canvas token."}


def update_context(svc, caller, course_id: str, text: str) -> dict:
    store.set_context(svc.db, course_id, text, caller.user_id)
    content = generate_course_content(svc, course_id)
    return {"status": "success", "course_id": course_id, "course_context": text,
            "regenerated": content["generated"], "topics": content["topics"],
            "videos": content["videos"], "video_status": content["video_status"]}
