"""Course mastery settings the instructor owns, and the recompute job a change starts.

The settings live in ``AchieveUp_Course_Settings`` (one document per course, ``_id`` =
"host|course"; fields as in ``achieveup.mastery.model.DEFAULTS``, plus ``updated_at``, ``updated_by``,
``revision`` and ``recompute_job_id``). A ``PUT`` stores only the fields it names (``$set``,
so two instructors changing different settings at once both keep their change), then queues a
recompute of the course's mastery and badges (job kind ``achieveup_mastery_recompute``, one
per course (and Canvas host) and settings revision) and answers 202 with its id.

Idempotent: a ``PUT`` that changes nothing stores nothing and answers with the job that applies
the current settings (a new one only if that one failed or is gone). The recompute itself is
``achieveup.mastery.service.recompute_course`` and so follows the badge rule: a badge, once
earned, stays earned (a new threshold or model can award more badges, never take one away or
create a second copy of one; only removing a skill from every matrix revokes its badges).
"""
from __future__ import annotations

import logging
import uuid

from achieveup.mastery import model, outcomes, service as mastery
from achieveup.mastery import store
from knowgap.core.errors import ValidationFailed
from knowgap.core.tenancy import scoped
from knowgap.jobs.queue import enqueue, get_job

log = logging.getLogger("achieveup.settings")

RECOMPUTE_JOB_KIND = "achieveup_mastery_recompute"


def view(course_id: str, settings: dict, doc: dict, fit_docs: list[dict]) -> dict:
    fitted = model.describe_fits(fit_docs)
    fitted["fitted_at"] = store.iso(fitted["fitted_at"])
    if "recency" in fitted:
        fitted["recency"]["fitted_at"] = store.iso(fitted["recency"]["fitted_at"])
    return {"course_id": str(course_id), **{k: settings[k] for k in model.SETTING_FIELDS},
            "updated_at": store.iso(doc.get("updated_at")), "fitted_parameters": fitted}


def get_settings(db, config, course_id: str) -> dict:
    doc = store.course_settings(db, course_id)
    return view(course_id, mastery.settings_of(doc, config), doc,
                store.fitted_parameters(db, course_id))


def update_settings(db, config, course_id: str, changes: dict, user_id: str) -> tuple[dict, str,
                                                                                        bool]:
    """Store ``changes`` (validated by the schema) and make sure a recompute applies them:
    ``(settings view, recompute job id, whether anything changed)``."""
    course_id = str(course_id)
    doc = store.course_settings(db, course_id)
    before = mastery.settings_of(doc, config)
    changes = _with_calculation_int(changes, doc, before)
    after = mastery.settings_of({**doc, **changes}, config)
    changed = {k: v for k, v in changes.items() if before[k] != after[k]}
    if changed:
        now = store.utcnow()
        revision = uuid.uuid4().hex
        store.update_course_settings(db, course_id, {**changed, "updated_at": now,
                                                     "updated_by": user_id,
                                                     "revision": revision})
        doc = store.course_settings(db, course_id)
        log.info("course %s: mastery settings changed (%s)", course_id, ", ".join(changed))
    job_id = _recompute_job(db, course_id, doc, user_id, fresh=bool(changed))
    return get_settings(db, config, course_id), job_id, bool(changed)


def _with_calculation_int(changes: dict, doc: dict, before: dict) -> dict:
    """``changes`` with Canvas's rule for ``calculation_int`` applied and checked against the
    model it will go with: a new ``mastery_model`` without one resets it to that method's
    default (stored as null); one that does not fit the model is refused (422), nothing
    stored."""
    if "mastery_model" not in changes and "calculation_int" not in changes:
        return changes
    method = changes.get("mastery_model", before["mastery_model"])
    if "calculation_int" in changes:
        value = changes["calculation_int"]
    elif method != before["mastery_model"]:
        changes = {**changes, "calculation_int": None}
        value = None
    else:
        value = doc.get("calculation_int")
    problem = outcomes.int_problem(method, value)
    if problem:
        raise ValidationFailed(problem, details={"calculation_int": [problem]})
    return changes


def _recompute_job(db, course_id: str, doc: dict, user_id: str, *, fresh: bool) -> str:
    """The job that recomputes the course under the settings revision in ``doc``."""
    if not fresh and doc.get("recompute_job_id"):
        job = get_job(db, doc["recompute_job_id"])
        if job is not None and job["state"] != "failed":
            return job["id"]
    revision = doc.get("revision") or "initial"
    job_id, _ = enqueue(db, RECOMPUTE_JOB_KIND, f"{course_id}|{revision}",
                        {"course_id": course_id, "user_id": user_id, "revision": revision})
    store.update_course_settings(db, course_id, {"recompute_job_id": job_id})
    return job_id


def handle_recompute(services, job, report) -> dict:
    """Recompute mastery and badges of the course under its current settings (refitting the
    BKT parameters first when they are due, e.g. after forgetting was switched on)."""
    course_id = str((job.get("payload") or {})["course_id"])
    report(progress=0.05)
    counts: dict = {}
    summaries, awarded = mastery.recompute_course(scoped(services.db, job["canvas_host"]),
                                                  services.config, course_id, refit=True,
                                                  counts=counts)
    counts.update(students_with_mastery=len(summaries), badges_awarded=len(awarded))
    report(progress=1.0, counts=counts)
    return counts


def _register() -> None:
    from knowgap.jobs.worker import register_handler

    register_handler(RECOMPUTE_JOB_KIND, handle_recompute)


_register()
