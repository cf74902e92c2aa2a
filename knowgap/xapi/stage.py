"""Where the rest of the product hands events to xAPI: one call per kind of change.

* ``course_updated`` — after a course update (the AchieveUp sync) stored its results and
  replaced its mastery summaries and badges: the skill changes are derived right here from the
  summaries it hands over (a cheap comparison with the per-student record of what was sent),
  everything else later by the delivery job from the stored rows; the job is queued.
* ``course_changed`` — something stored outside a course update (badges revoked when a matrix
  lost a skill): the delivery job derives it.
* ``video_watched`` — a student marked a KnowGap video watched.
* ``tutor_session_ended`` — a student ended a tutoring session on a missed question.

Every call takes the database scoped to the course's Canvas host (``knowgap.core.tenancy``).
This module imports nothing of mastery, badges or insights: it receives what it needs (the
summaries' plain per-skill entries), so it can become one more stage of the course pipeline.
Every call costs a dictionary lookup when xAPI is off (no ``XAPI_LRS_URL``, or the course's
instructor has not turned it on) and never raises into its caller: a failure here is logged and
the next course update derives the same changes again.
"""
from __future__ import annotations

import logging

from knowgap.core.clock import iso, utcnow
from knowgap.core.tenancy import host_of, key
from knowgap.xapi import delivery, derive, store
from knowgap.xapi.statements import statement_id

log = logging.getLogger("knowgap.xapi")


def _enabled(db, config, course_id: str) -> bool:
    if not delivery.configured(config):
        return False
    return delivery.course_enabled(config, store.course_doc(db, course_id))


def course_updated(db, config, course_id: str, *, summaries: list[dict],
                   now=None) -> dict | None:
    """A course update finished at ``now``: derive its skill changes from ``summaries`` (each
    ``{student_id, skills: [{skill, score, level, mastered, p_mastery, model, evidence}]}``),
    mark its stored changes for the delivery job and queue it. Returns counts, or None when
    xAPI is off for the course."""
    course_id = str(course_id)
    try:
        if not _enabled(db, config, course_id):
            return None
        now = now or utcnow()
        states = store.states(db, store.SKILL_STATE, course_id)
        events, changed = derive.skill_events(host_of(db), course_id, summaries, states, now)
        if events:
            store.add_batches(db, delivery.make_batches(db, course_id, "skills", events,
                                                        config.xapi_batch_size, now))
        store.save_states(db, store.SKILL_STATE, course_id, states, changed, now)
        store.mark_pending(db, course_id, now)
        job_id = delivery.enqueue(db, course_id)
        return {"skill_statements": len(events), "job_id": job_id}
    except Exception:  # noqa: BLE001 - xAPI must never fail the course update itself
        log.exception("xAPI: could not record the update of course %s|%s; the next update "
                      "derives it again", db.canvas_host, course_id)
        return None


def course_changed(db, config, course_id: str, *, now=None) -> None:
    """Stored changes outside a course update (badge revocations) are ready to derive."""
    course_id = str(course_id)
    try:
        if _enabled(db, config, course_id):
            store.mark_pending(db, course_id, now or utcnow())
            delivery.enqueue(db, course_id)
    except Exception:  # noqa: BLE001
        log.exception("xAPI: could not record a change of course %s|%s", db.canvas_host,
                      course_id)


def video_watched(db, config, course_id: str, student_id: str, link: str, *,
                  now=None) -> bool:
    """A student marked a video watched: one statement per student, course and video (its
    batch's ``_id`` comes from the statement id, so marking it again adds nothing)."""
    now = now or utcnow()
    event = {"kind": "watched", "student_id": str(student_id), "course_id": str(course_id),
             "at": iso(now), "video": link}
    return _one_event(db, config, event, ("video", link), now, "a watched video")


def tutor_session_ended(db, config, session: dict, *, now=None) -> bool:
    """A student ended a tutoring session on a missed question: one statement per session."""
    now = now or utcnow()
    event = {"kind": "tutored", "student_id": str(session["student_id"]),
             "course_id": str(session["course_id"]), "at": iso(now),
             "quiz_id": str(session["quiz_id"]), "question_id": str(session["question_id"]),
             "messages": int(session.get("messages") or 0)}
    return _one_event(db, config, event, ("tutor", str(session["_id"])), now,
                      "a tutoring session")


def _one_event(db, config, event: dict, natural_key: tuple, now, what: str) -> bool:
    """Queue one event of the course (its statement id from the student and ``natural_key``,
    so recording it again adds nothing) and the delivery job; False when xAPI is off."""
    course_id = event["course_id"]
    try:
        if not _enabled(db, config, course_id):
            return False
        sid = statement_id(host_of(db), course_id, event["student_id"], *natural_key)
        event = {**event, "id": sid}
        batch = store.batch_doc(db, course_id, key(db, course_id, event["kind"], sid), [event],
                                now)
        if store.add_batches(db, [batch]):
            store.set_has_work(db, course_id)
            delivery.enqueue(db, course_id)
        return True
    except Exception:  # noqa: BLE001
        log.exception("xAPI: could not record %s of course %s|%s", what, db.canvas_host,
                      course_id)
        return False
