"""The AchieveUp course sync job (kind ``achieveup_course_sync``).

Steps, each reported through the job reporter:

1. decrypt the requesting instructor's stored Canvas token and fetch a course snapshot
   (``fetch_course_snapshot``; submissions only graded since the course's cursor in
   ``AchieveUp_Sync_State`` unless a full sync was asked for);
2. run the course pipeline on the snapshot (``achieveup.pipeline.update_course``): store
   quizzes, questions, students and every student's per-question result per attempt
   (``achieveup.sync.service``; New Quizzes whose report is pending, failed, refused or
   incomplete keep their earlier rows and are named in the job's ``errors`` with their
   counts), then recompute mastery for the whole course from all stored results (the BKT
   parameters are fitted again first when enough new evidence arrived, see
   ``achieveup.mastery.model.refit_due``), award the badges it newly justifies (only the
   difference to the badges the previous summaries record), the engagement and risk indices,
   and replace the summaries, all under the course's write lock;
3. move the cursor forward, only now: an interrupted sync re-reads the same window next time.

Incremental syncs: ``fetch_course_snapshot`` re-reads only what changed when it gets the previous
snapshot (``previous=``) along with the cursor. That snapshot is not stored a second time: it is
rebuilt (``previous_snapshot``) from what the sync keeps anyway, namely the stored questions
(``AchieveUp_Canvas_Questions``) and students (``AchieveUp_Canvas_Students``, which also keep
Canvas' raw user id) plus three small fields of the course's ``AchieveUp_Sync_State`` document,
all written together with the cursor, i.e. only after a successful sync:

* ``course_record``: the few course fields the sync uses (id, name, course_code, total_students);
* ``quiz_signatures``: ``[raw quiz id, *quiz_signature(quiz)]`` per quiz whose questions were
  stored. Taking the signatures from the state (not from ``AchieveUp_Canvas_Quizzes``, which a
  sync that failed midway may already have rewritten) means a quiz that changed during a failed
  sync still differs from the last good signature next time, so its questions are re-fetched;
* ``last_full_sync_at``: when the last successful full sync finished.

A full sync (no cursor, no previous snapshot) runs when asked for (``?full=true``), when there is
no usable previous state (first sync, or state written before these fields existed, or no cursor
yet), and when the last full sync is older than ``FULL_SYNC_INTERVAL`` (24 h): only a full sync
sees a renamed course, edited question text with an unchanged question count, or new students
without graded work.

A Canvas failure in step 1 raises before anything is written, so previous summaries stay intact
and the job fails with Canvas' error message as the reason.

Everything is stored for the Canvas host the job was queued for (``knowgap.core.tenancy``): the
host of the instructor who asked for it, whose token reads Canvas.
"""
from __future__ import annotations

import datetime as dt
import logging

from achieveup import pipeline
from achieveup.insights import ingest as insights
from achieveup.mastery import store
from achieveup.sync import new_quizzes as nq_sync
from achieveup.sync.kinds import COURSE_SYNC_JOB_KIND
from knowgap.canvas import quiz_sources
from knowgap.core.errors import AppError, BadRequest
from knowgap.core.tenancy import where
from knowgap.jobs.queue import enqueue
from knowgap.jobs.worker import register_handler

log = logging.getLogger("achieveup.sync")

JOB_KIND = COURSE_SYNC_JOB_KIND
SYNC_TIMEOUT_SECONDS = 900
#: A sync is full (everything re-read from Canvas) when the last full one is older than this;
#: in between, syncs are incremental (see the module docstring).
FULL_SYNC_INTERVAL = dt.timedelta(hours=24)
#: The course fields kept in the sync state for incremental syncs (not the syllabus body).
COURSE_RECORD_FIELDS = ("id", "name", "course_code", "total_students", "workflow_state")


# ------------------------------------------------------------------ incremental state

#: Quiz fields kept per quiz in the sync state; a superset of what ``quiz_signature`` reads.
SIGNATURE_FIELDS = ("question_count", "points_possible", "published", "version_number",
                    "updated_at")


def course_record(course) -> dict:
    course = course if isinstance(course, dict) else {}
    return {k: course.get(k) for k in COURSE_RECORD_FIELDS if k in course}


def quiz_signatures(snap) -> list[dict]:
    """``{"id": raw quiz id, <signature fields>}`` for every quiz whose questions were stored."""
    return [{"id": q.get("id"), **{k: q.get(k) for k in SIGNATURE_FIELDS}}
            for q in snap.quizzes or [] if q.get("id") in (snap.questions or {})]


def _aware(value):
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value if isinstance(value, dt.datetime) else None


def needs_full_sync(state: dict, now, *, full: bool = False) -> bool:
    if full or not state.get("graded_since"):
        return True
    if not isinstance(state.get("course_record"), dict) or not isinstance(
            state.get("quiz_signatures"), list):
        return True
    last_full = _aware(state.get("last_full_sync_at"))
    return last_full is None or now - last_full >= FULL_SYNC_INTERVAL


def _raw_user_id(doc: dict):
    raw = doc.get("canvas_user_id")
    if raw is not None:
        return raw
    sid = doc.get("student_id")
    return int(sid) if isinstance(sid, str) and sid.isdigit() else sid


def previous_snapshot(db, course_id: str, state: dict):
    """The last successful sync's snapshot, rebuilt from the stored questions, students and
    the sync state (see the module docstring); ``None`` when the state cannot support it."""
    from knowgap.canvas.snapshot import CourseSnapshot

    if not isinstance(state.get("course_record"), dict) or not isinstance(
            state.get("quiz_signatures"), list):
        return None
    by_quiz: dict = {}
    for q in store.fetch_all(db[store.QUESTIONS], where(db, course_id=course_id),
                             {"_id": 0, "quiz_id": 1, "question_id": 1, "question_name": 1,
                              "question_type": 1, "question_text": 1, "points_possible": 1,
                              "position": 1, "answers": 1, "entry_ids": 1}):
        by_quiz.setdefault(str(q.get("quiz_id")), []).append(
            {"id": q.get("question_id"), "quiz_id": q.get("quiz_id"),
             "question_name": q.get("question_name"), "question_type": q.get("question_type"),
             "question_text": q.get("question_text"),
             "points_possible": q.get("points_possible"), "position": q.get("position"),
             "answers": insights.classic_answers(q.get("answers")),
             "entry_ids": q.get("entry_ids") or []})
    quizzes, questions = [], {}
    for sig in state["quiz_signatures"]:
        if not isinstance(sig, dict) or sig.get("id") is None:
            continue
        quizzes.append(dict(sig))
        items = by_quiz.get(str(sig["id"]), [])
        if items or not sig.get("question_count"):
            # a quiz that should have questions but has none stored is left out: re-fetched
            questions[sig["id"]] = sorted(items, key=lambda x: (
                x.get("position") if isinstance(x.get("position"), (int, float)) else 0,
                str(x.get("id"))))
    students = []
    for d in store.fetch_all(db[store.STUDENTS], where(db, course_id=course_id)):
        uid = _raw_user_id(d)
        students.append({"user_id": uid, "type": "StudentEnrollment",
                         "user": {"id": uid, "name": d.get("name"),
                                  "sortable_name": d.get("sortable_name"),
                                  "email": d.get("email")},
                         "grades": {"current_score": d.get("current_score"),
                                    "final_score": d.get("final_score")}})
    students.sort(key=lambda e: str(e["user_id"]))
    return CourseSnapshot(course_id=course_id, course=dict(state["course_record"]),
                          quizzes=quizzes, questions=questions, students=students,
                          submissions=[], graded_since=state.get("graded_since"))


# ------------------------------------------------------------------ the job

def _user_token(services, user_id: str) -> tuple[dict, str]:
    """The instructor and their Canvas token; their Canvas must be the job's (``services.db``
    is scoped to the host the job was queued for)."""
    from achieveup.auth import store as auth_store

    user = auth_store.find_by_id(services.db, user_id)
    if user is None:
        raise BadRequest("The instructor who started this sync no longer exists.",
                         error="user_missing")
    stored = user.get("canvas_token_enc")
    if not stored:
        raise BadRequest("Add your Canvas API token in Settings first.",
                         error="canvas_token_missing")
    if auth_store.user_host(user, services.config) != services.db.canvas_host:
        raise BadRequest("Your Canvas account now belongs to another Canvas than this course's. "
                         "Start the sync again.", error="canvas_host_changed")
    return user, services.cipher.decrypt(stored, owner=str(user["_id"]))


def run_course_sync(services, course_id: str, user_id: str, *, full: bool = False,
                    report=None) -> dict:
    """Sync ``course_id`` of the Canvas host ``services.db`` is scoped to."""
    from knowgap.canvas.gateway import CanvasGateway
    from knowgap.canvas.snapshot import fetch_course_snapshot

    report = report or (lambda **_: None)
    db, config = services.db, services.config
    course_id = str(course_id)
    user, token = _user_token(services, user_id)
    gateway = CanvasGateway(services, token, base_url=user.get("canvas_base_url"))
    state = store.sync_state(db, course_id)
    previous = None
    if not needs_full_sync(state, store.utcnow(), full=full):
        previous = previous_snapshot(db, course_id, state)
    since = state.get("graded_since") if previous is not None else None

    def on_progress(fraction):
        report(progress=0.05 + 0.55 * fraction)

    report(progress=0.02)
    snap = gateway.run(lambda client: fetch_course_snapshot(
        client, course_id, graded_since=since, on_progress=on_progress, previous=previous,
        report_wait=config.canvas_report_wait_seconds,
        pending_reports=quiz_sources.remembered(state.get("pending_reports"))),
        timeout=SYNC_TIMEOUT_SECONDS)
    now = store.utcnow()
    counts = {"incremental": int(bool(snap.incremental)), "canvas_requests": snap.requests,
              **nq_sync.report_counts(snap)}
    for note in nq_sync.report_notes(db, course_id, snap):
        report(error=note)
    course = snap.course or {}
    course_name = course.get("name") or state.get("course_name")
    pipeline.update_course(db, config, course_id, snap, now, course_name=course_name,
                           counts=counts, report=report)
    # the cursor and the incremental state move together, and only after a successful sync
    fields = {"course_name": course_name,
              "course_code": course.get("course_code") or state.get("course_code"),
              "graded_since": snap.next_graded_since or since, "last_synced_at": now,
              "last_synced_by": str(user["_id"]), "last_counts": counts,
              "course_record": course_record(course), "quiz_signatures": quiz_signatures(snap),
              "pending_reports": snap.report_outcome.pending_entries()}
    if not snap.incremental:
        fields["last_full_sync_at"] = now
    store.save_sync_state(db, course_id, fields)
    report(progress=1.0, counts=counts)
    return counts


def handle_course_sync(services, job, report) -> dict:
    payload = job.get("payload") or {}
    try:
        return run_course_sync(services.scoped(job["canvas_host"]), payload["course_id"],
                               payload["user_id"], full=bool(payload.get("full")),
                               report=report)
    except AppError as exc:
        log.warning("AchieveUp sync of course %s failed: %s", payload.get("course_id"),
                    exc.message)
        raise


def enqueue_sync(db, course_id: str, user_id: str, *, full: bool = False):
    """Queue the sync of ``course_id`` of ``db``'s Canvas host (one active per course)."""
    return enqueue(db, JOB_KIND, str(course_id),
                   {"course_id": str(course_id), "user_id": user_id, "full": full})


register_handler(JOB_KIND, handle_course_sync)
