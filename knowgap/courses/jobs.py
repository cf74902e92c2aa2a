"""The scheduled KnowGap course refresh on the shared jobs worker.

``schedule_due_syncs(services, now)`` enqueues one ``knowgap_course_sync`` job per course whose
``next_due_at`` has passed (the queue reuses an active job with the same host and key, so a
course is never synced twice at once) and moves ``next_due_at`` forward by
``knowgap_sync_minutes``. It is registered with the worker's schedule loop (every minute) and
can also be called directly. It sees every Canvas host's schedule; each job runs scoped to the
host of its course.

The handler prefers an instructor's stored token (one sync covers every student); a token
Canvas rejects is marked invalid and the next one is tried; without a working instructor token
each registered student is synced with their own token.
"""
from __future__ import annotations

import logging

from knowgap.canvas.errors import CanvasTokenInvalid
from knowgap.core.errors import AppError
from knowgap.core.tenancy import scoped
from knowgap.courses import tokens
from knowgap.courses.service import sync_course
from knowgap.identity.canvas_access import CanvasAccess
from knowgap.jobs.queue import enqueue
from knowgap.jobs.worker import register_handler, register_schedule

log = logging.getLogger("knowgap.courses.jobs")


def schedule_due_syncs(services, now) -> list[str]:
    """Enqueue a sync job for every course that is due; returns the job ids."""
    job_ids = []
    for entry in tokens.due_courses(services.db, now):
        job_id, _ = enqueue(scoped(services.db, entry["canvas_host"]), tokens.JOB_KIND,
                            entry["course_id"],
                            {"base_url": entry["base_url"], "course_id": entry["course_id"]},
                            now=now)
        tokens.mark_enqueued(services.db, entry, now, services.config.knowgap_sync_minutes)
        job_ids.append(job_id)
    return job_ids


def _sync_with(services, base_url, course_id, user_id, *, instructor: bool):
    token = tokens.load_token(services, user_id)
    if token is None:
        return None
    try:
        return sync_course(services, CanvasAccess(base_url, token, services.config), course_id,
                           instructor=instructor)
    except CanvasTokenInvalid:
        tokens.mark_invalid(services, user_id)
        log.info("stored Canvas token of user %s is invalid; marked", user_id)
        return None


def handle_course_sync(services, job, report) -> dict:
    payload = job.get("payload") or {}
    base_url, course_id = payload["base_url"], payload["course_id"]
    services = services.scoped(job["canvas_host"])
    entry = tokens.schedule_entry(services.db, course_id) or {}
    for uid in entry.get("instructors", []):
        result = _sync_with(services, base_url, course_id, uid, instructor=True)
        if result is not None:
            counts = {k: result[k] for k in ("quizzes", "questions", "students",
                                             "incorrect_answers")}
            tokens.record_result(services.db, course_id, counts)
            return counts
    students = entry.get("students", [])
    synced = failed = 0
    for i, uid in enumerate(students):
        try:
            result = _sync_with(services, base_url, course_id, uid, instructor=False)
        except AppError as exc:
            report(error=f"student {uid}: {exc.message}")
            result = None
        synced += result is not None
        failed += result is None
        report(progress=(i + 1) / len(students), counts={"students_synced": synced})
    if not students and not entry.get("instructors"):
        raise AppError("No Canvas token is registered for this course.", status=400,
                       error="no_token")
    if synced == 0:
        raise AppError("No registered Canvas token for this course works any more.",
                       status=400, error="no_working_token")
    counts = {"students_synced": synced, "students_failed": failed}
    tokens.record_result(services.db, course_id, counts)
    return counts


register_handler(tokens.JOB_KIND, handle_course_sync)
register_schedule(schedule_due_syncs, 60)
