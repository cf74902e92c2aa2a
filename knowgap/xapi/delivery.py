"""The delivery job (kind ``xapi_delivery``, one per course at a time): derive, then send.

1. **Derive** the course's stored changes up to the latest finished course update
   (``pending_through``) into outbox batches (``derive_stored``): answers and quiz attempts
   from ``AchieveUp_Question_Results`` (rows stored since ``derived_through``; the first time,
   all of them), badges awarded or revoked in the window from ``AchieveUp_Badges``. The window's
   upper end is a time a course update *finished* at (or a change outside one), and nothing is
   derived while a course update of the course is queued or running, so rows a sync is still
   writing (stamped with that sync's start) are never half read.
2. **Send** the course's due batches oldest first, one POST per batch (``deliver``). Every
   statement is built from its event and validated first (``knowgap.xapi.schema``); one that
   fails is dead-lettered with the reason and never sent. Outcomes (``knowgap.xapi.lrs``):
   stored → the batch is delivered (its events dropped, its counts kept); a 409 or a refused
   batch → its statements go one by one (PUT), where 409 means the LRS already has it (success)
   and a refusal dead-letters that one statement with the LRS's message; anything else (the LRS
   down, timing out, 5xx, 429, wrong credentials) → the batch stays pending, its next attempt
   backs off exponentially (5 s, 10 s, 20 s … capped at ``XAPI_RETRY_MAX_SECONDS``, or the
   LRS's ``Retry-After``) and the job ends. Nothing is lost while the LRS is away, and nothing
   is doubled when it comes back: a statement id the LRS already has is never stored twice.
3. A run stops after ``RUN_BUDGET_SECONDS`` so one big course cannot hold a worker; the
   scheduler (``enqueue_due``, every ``TICK_SECONDS``) queues the next run for every course
   with work whose next attempt is due.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from achieveup.mastery import store as records
from achieveup.sync.kinds import COURSE_SYNC_JOB_KIND
from knowgap.core.clock import iso, utcnow
from knowgap.core.tenancy import host_of, key, scoped, where
from knowgap.jobs import queue
from knowgap.xapi import derive, lrs, schema, store
from knowgap.xapi.statements import Identity, build

log = logging.getLogger("knowgap.xapi")

JOB_KIND = "xapi_delivery"
TICK_SECONDS = 10.0
RUN_BUDGET_SECONDS = 60.0
FIRST_BACKOFF_SECONDS = 5.0


def configured(config) -> bool:
    return bool(config.xapi_lrs_url)


def course_enabled(config, doc: dict) -> bool:
    """Delivery is on for the course: an LRS is configured and the instructor's switch (or,
    never switched, ``XAPI_DEFAULT_ON``) says so."""
    if not configured(config):
        return False
    enabled = doc.get("enabled")
    return bool(config.xapi_default_on if enabled is None else enabled)


# ------------------------------------------------------------------ batches

def make_batches(db, course_id: str, tag: str, events: list[dict], size: int,
                 now) -> list[dict]:
    """Outbox batches of ``size`` events; ``_id`` host|course|tag|time|n (a natural key: the
    same derivation makes the same batches)."""
    clean = [{k: v for k, v in e.items() if v is not None} for e in events]
    stamp = iso(now)
    return [store.batch_doc(db, course_id, key(db, course_id, tag, stamp, i // size),
                            clean[i:i + size], now)
            for i in range(0, len(clean), size)]


def emails_of(db, config, course_id: str) -> dict[str, str] | None:
    """Students' e-mails, only when actors are to be identified by e-mail (``XAPI_ACTOR_MBOX``)."""
    if not config.xapi_actor_mbox:
        return None
    return {str(d["student_id"]): d["email"] for d in records.fetch_all(
        db[records.STUDENTS], where(db, course_id=str(course_id)),
        {"student_id": 1, "email": 1}) if d.get("email")}


# ------------------------------------------------------------------ 1. derive

def last_update_at(db, course_id: str):
    """When the course's last successful sync finished storing (None: never synced)."""
    return records.sync_state(db, course_id, {"last_synced_at": 1}).get("last_synced_at")


def update_active(db, course_id: str) -> bool:
    """A course update (the AchieveUp sync) of the course is queued or running."""
    claim = queue.active_key(host_of(db), COURSE_SYNC_JOB_KIND, str(course_id))
    return db[queue.JOBS].find_one({"active_key": claim}, {"_id": 1}) is not None


def derive_stored(db, config, course_id: str, now=None) -> dict:
    """Answers, quiz attempts and badges stored up to the course's ``pending_through`` into the
    outbox; returns counts. Deferred (``deferred``: 1) while a course update of the course is
    queued or running: one that started before ``pending_through`` (marked by a change outside
    a sync, ``stage.course_changed``) may still be writing rows stamped inside the window, which
    a derivation now would half read and then never look at again."""
    course_id, host = str(course_id), host_of(db)
    doc = store.course_doc(db, course_id)
    through, since = doc.get("pending_through"), doc.get("derived_through")
    if through is None or (since is not None and since >= through):
        return {"derived": 0}
    if update_active(db, course_id):
        return {"derived": 0, "deferred": 1}
    now = now or utcnow()
    results = db[records.RESULTS]
    if since is None:
        rows = records.fetch_all(results, where(db, course_id=course_id))
    else:
        touched = sorted({r["student_id"] for r in records.fetch_all(
            results, where(db, course_id=course_id,
                           stored_at={"$gt": since, "$lte": through}), {"student_id": 1})})
        rows = records.fetch_all(results, where(db, course_id=course_id,
                                                student_id={"$in": touched})) if touched else []
    rows = [r for r in rows if r.get("stored_at") is None or r["stored_at"] <= through]
    questions = {d["question_id"]: d for d in records.fetch_all(
        db[records.QUESTIONS], where(db, course_id=course_id),
        {"question_id": 1, "question_name": 1, "question_type": 1})}
    quizzes = {d["quiz_id"]: d for d in records.fetch_all(
        db[records.QUIZZES], where(db, course_id=course_id), {"quiz_id": 1, "title": 1})}
    states = store.states(db, store.ANSWER_STATE, course_id)
    events, changed = derive.answer_events(host, course_id, rows, states, questions, quizzes)
    badges = records.fetch_all(db[records.BADGES], where(db, course_id=course_id),
                               {"student_id": 1, "skill": 1, "level": 1, "earned_at": 1,
                                "percentage": 1, "evidence_count": 1, "model": 1,
                                "revoked": 1, "revoked_at": 1, "revocation_reason": 1})
    events += derive.badge_events(host, course_id, badges, since, through)
    store.add_batches(db, make_batches(db, course_id, "stored", events, config.xapi_batch_size,
                                       through))
    store.save_states(db, store.ANSWER_STATE, course_id, states, changed, now)
    store.set_derived(db, course_id, through)
    if events:
        store.set_has_work(db, course_id)
    log.info("xAPI: course %s|%s derived %d statements from stored changes", host, course_id,
             len(events))
    return {"derived": len(events)}


# ------------------------------------------------------------------ 2. send

def backoff_seconds(attempts: int, cap: float, retry_after: float | None = None) -> float:
    wait = min(cap, FIRST_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    return max(wait, min(cap, retry_after)) if retry_after else wait


def _statements(batch: dict, ident: Identity, canvas_host: str, now,
                emails: dict | None) -> tuple[list, list]:
    """([(event, statement)], [(event, problem)]): valid statements (duplicate ids once) and
    the events whose statement is not valid xAPI. ``emails``: students' addresses when
    actors are identified by e-mail (read at sending time: the outbox holds none)."""
    good, bad, seen = [], [], set()
    for event in batch.get("events") or []:
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        try:
            email = emails.get(event.get("student_id")) if emails else None
            statement = build({**event, "email": email} if email else event, ident,
                              canvas_host)
            problem = schema.problems(statement, now)
        except (KeyError, TypeError, ValueError) as exc:
            problem = f"the event cannot be turned into a statement ({type(exc).__name__})"
        if problem:
            bad.append((event, f"Not sent: {problem}"))
        else:
            good.append((event, statement))
    return good, bad


async def _one_by_one(client: lrs.LrsClient, good: list) -> tuple[list, int, lrs.Outcome | None]:
    """PUT each statement: (refused [(event, message)], conflicts, the retry outcome that
    stopped it or None)."""
    refused, conflicts = [], 0
    for event, statement in good:
        outcome = await client.put(statement)
        if outcome.kind == lrs.CONFLICT:
            conflicts += 1
        elif outcome.kind == lrs.REJECTED:
            refused.append((event, outcome.message))
        elif outcome.kind == lrs.RETRY:
            return refused, conflicts, outcome
    return refused, conflicts, None


async def _send_batch(db, config, client, ident, course_id, batch, now,
                      emails) -> tuple[int, int, lrs.Outcome | None]:
    """(delivered, dead, retry outcome or None) for one batch."""
    good, bad = _statements(batch, ident, host_of(db), now, emails)
    refused: list = []
    conflicts = 0
    if good:
        outcome = await client.post([s for _, s in good])
        if outcome.kind in (lrs.CONFLICT, lrs.REJECTED):
            if len(good) == 1:
                if outcome.kind == lrs.REJECTED:
                    refused = [(good[0][0], outcome.message)]
                else:
                    conflicts = 1
            else:
                refused, conflicts, stopped = await _one_by_one(client, good)
                if stopped is not None:
                    outcome = stopped
        if outcome.kind == lrs.RETRY:
            _retry_later(db, config, course_id, batch, outcome, now)
            return 0, 0, outcome
    for event, message in bad + refused:
        store.dead_letter(db, course_id, event, message, now)
    gone = {event["id"] for event, _ in refused}
    delivered = [event for event, _ in good if event["id"] not in gone]
    store.mark_delivered(db, batch["_id"], now, delivered, conflicts=conflicts)
    return len(delivered), len(bad) + len(refused), None


def _retry_later(db, config, course_id, batch, outcome, now) -> None:
    wait = backoff_seconds(batch.get("attempts", 0) + 1, config.xapi_retry_max_seconds,
                           outcome.retry_after)
    when = now + dt.timedelta(seconds=wait)
    store.mark_failed(db, batch["_id"], outcome.message, when)
    store.record_delivery(db, course_id, error=outcome.message, next_attempt_at=when, now=now)
    log.warning("xAPI: course %s|%s: %s; next attempt in %.0f s", host_of(db), course_id,
                outcome.message, wait)


async def deliver(db, config, course_id: str, *,
                  budget_seconds: float | None = RUN_BUDGET_SECONDS, report=None) -> dict:
    """Send the course's due batches until none is due, the LRS fails, or the budget is spent."""
    ident = Identity.from_config(config)
    counts = {"batches": 0, "delivered": 0, "dead": 0, "waiting": 0}
    token = store.course_doc(db, course_id).get("work_token")
    emails = emails_of(db, config, course_id)
    started = time.monotonic()
    async with lrs.LrsClient(config.xapi_lrs_url, config.xapi_lrs_username,
                             config.xapi_lrs_password, config.xapi_timeout_seconds) as client:
        while budget_seconds is None or time.monotonic() - started < budget_seconds:
            now = utcnow()
            batch = store.next_due(db, course_id, now)
            if batch is None:
                store.clear_has_work(db, course_id, token)
                break
            delivered, dead, stopped = await _send_batch(db, config, client, ident, course_id,
                                                         batch, now, emails)
            if stopped is not None:
                counts["waiting"] = 1
                break
            counts["batches"] += 1
            counts["delivered"] += delivered
            counts["dead"] += dead
            store.record_delivery(db, course_id, delivered=delivered, dead=dead, now=now)
            if report is not None:
                report(counts=dict(counts))
    return counts


# ------------------------------------------------------------------ 3. the job and its timer

def run(db, config, course_id: str, *, budget_seconds: float | None = RUN_BUDGET_SECONDS,
        report=None) -> dict:
    """Derive what is pending, then deliver (the job's work, callable directly); ``db`` is
    scoped to the course's Canvas host."""
    started = time.monotonic()
    totals: dict = {}
    while True:
        doc = store.course_doc(db, course_id)
        if not course_enabled(config, doc):
            return {**totals, "skipped": 1}
        counts = derive_stored(db, config, course_id)
        left = None if budget_seconds is None else max(
            0.0, budget_seconds - (time.monotonic() - started))
        counts.update(asyncio.run(deliver(db, config, course_id, budget_seconds=left,
                                          report=report)))
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
        if counts.get("deferred"):
            store.set_has_work(db, course_id)       # the timer comes back for the derivation
            return totals
        doc = store.course_doc(db, course_id)
        more = doc.get("pending_through") and (doc.get("derived_through") is None or
                                               doc["derived_through"] < doc["pending_through"])
        if counts.get("waiting") or not more or (left is not None and left <= 0):
            return totals


def handle(services, job, report) -> dict:
    """The job, on the Canvas host it was queued for."""
    return run(scoped(services.db, job["canvas_host"]), services.config,
               (job.get("payload") or {})["course_id"],
               report=lambda counts=None: report(counts=counts))


def enqueue(db, course_id: str) -> str:
    """Queue the course's delivery run (one queued or running per host and course)."""
    job_id, _ = queue.enqueue(db, JOB_KIND, str(course_id), {"course_id": str(course_id)})
    return job_id


def enqueue_due(services, now) -> int:
    """The retry timer: a delivery run for every course with work whose next attempt is due."""
    if not configured(services.config):
        return 0
    due = [d for d in store.courses_due(services.db, now)
           if course_enabled(services.config, d)]
    for doc in due:
        enqueue(scoped(services.db, doc["canvas_host"]), doc["course_id"])
    return len(due)


def _register() -> None:
    from knowgap.jobs.worker import register_handler, register_schedule

    register_handler(JOB_KIND, handle)
    register_schedule(enqueue_due, TICK_SECONDS)


_register()
