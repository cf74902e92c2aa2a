"""A job queue in a MongoDB collection, safe for any number of workers.

Claiming is one atomic ``find_one_and_update``, so two workers never run the same job. A
claimed job holds a lease that its worker extends while it reports progress; a job whose
lease ran out (the worker crashed or was killed) is claimable again, up to ``MAX_ATTEMPTS``.
One active job per kind and key (per Canvas host), guaranteed by the database: a queued or
running job holds ``active_key`` (``host|kind|key``), which has a unique index, and loses it
when it ends (``finish``, a final ``fail``, ``worker.reap_abandoned``). ``enqueue`` simply
inserts; when the insert collides it returns the job that holds the key, so twenty parallel
force-syncs of one course start exactly one job (a find-then-insert let two through).
Freshness is always checked against stored timestamps, never left to TTL indexes.
"""
from __future__ import annotations

import datetime as dt
import uuid

from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from knowgap.core import tenancy
from knowgap.core.clock import iso, utcnow

JOBS = "jobs"
ACTIVE = ("queued", "running")
MAX_ATTEMPTS = 3
RETRY_DELAY_SECONDS = 30


#: Removes the one-active-job claim of a job that has ended.
RELEASE = {"$unset": {"active_key": ""}}


def active_key(canvas_host: str | None, kind: str, key: str) -> str:
    return tenancy.SEP.join((canvas_host or "", kind, key))


def enqueue(db: Database, kind: str, key: str, payload: dict | None = None,
            *, now: dt.datetime | None = None) -> tuple[str, bool]:
    """Queue a job unless one with the same kind and key is queued or running:
    ``(job id, created)``. A scoped ``db`` (``knowgap.core.tenancy``) records its Canvas host
    on the job and keeps the key per host."""
    host = tenancy.host_or_none(db)
    claim_key = active_key(host, kind, key)
    for _ in range(5):
        now = now or utcnow()
        job_id = uuid.uuid4().hex
        try:
            db[JOBS].insert_one({
                "_id": job_id, "kind": kind, "key": key, "canvas_host": host,
                "active_key": claim_key, "payload": payload or {}, "state": "queued",
                "progress": 0.0, "counts": {}, "errors": [], "attempts": 0, "created_at": now,
                "started_at": None, "finished_at": None, "lease_until": None, "worker": None,
                "reason": None, "run_after": now,
            })
            return job_id, True
        except DuplicateKeyError:
            existing = db[JOBS].find_one({"active_key": claim_key}, {"_id": 1})
            if existing is not None:
                return existing["_id"], False
            # the holder ended between the insert and the read: try again
    raise RuntimeError(f"could not queue {kind} job {key!r}: its key kept changing hands")


def claim(db: Database, worker_id: str, lease_seconds: int,
          *, now: dt.datetime | None = None) -> dict | None:
    """Atomically take the oldest runnable job: queued, or running with an expired lease."""
    now = now or utcnow()
    return db[JOBS].find_one_and_update(
        {"$or": [{"state": "queued", "run_after": {"$lte": now}},
                 {"state": "running", "lease_until": {"$lt": now}}],
         "attempts": {"$lt": MAX_ATTEMPTS}},
        {"$set": {"state": "running", "worker": worker_id, "started_at": now,
                  "lease_until": now + dt.timedelta(seconds=lease_seconds)},
         "$inc": {"attempts": 1}},
        sort=[("created_at", 1)], return_document=ReturnDocument.AFTER)


def heartbeat(db: Database, job_id: str, worker_id: str, lease_seconds: int,
              *, progress: float | None = None, counts: dict | None = None,
              error: str | None = None) -> bool:
    """Extend the lease and record progress; False if the job is no longer ours."""
    update: dict = {"$set": {"lease_until": utcnow() + dt.timedelta(seconds=lease_seconds)}}
    if progress is not None:
        update["$set"]["progress"] = max(0.0, min(1.0, float(progress)))
    if counts:
        update["$set"].update({f"counts.{k}": v for k, v in counts.items()})
    if error:
        update["$push"] = {"errors": {"$each": [error[:500]], "$slice": -50}}
    result = db[JOBS].update_one({"_id": job_id, "worker": worker_id, "state": "running"}, update)
    return result.matched_count == 1


def finish(db: Database, job_id: str, worker_id: str, *, counts: dict | None = None) -> None:
    update = {"state": "succeeded", "progress": 1.0, "finished_at": utcnow(), "lease_until": None}
    if counts:
        update.update({f"counts.{k}": v for k, v in counts.items()})
    db[JOBS].update_one({"_id": job_id, "worker": worker_id}, {"$set": update, **RELEASE})


def fail(db: Database, job_id: str, worker_id: str, reason: str, *, retry: bool) -> None:
    """Record a failure; a retryable one goes back to the queue while attempts remain."""
    job = db[JOBS].find_one({"_id": job_id}, {"attempts": 1})
    attempts = job.get("attempts", 0) if job else MAX_ATTEMPTS
    again = retry and attempts < MAX_ATTEMPTS
    now = utcnow()
    db[JOBS].update_one(
        {"_id": job_id, "worker": worker_id},
        {"$set": {"state": "queued" if again else "failed", "reason": reason[:500],
                  "lease_until": None, "finished_at": None if again else now,
                  "run_after": now + dt.timedelta(seconds=RETRY_DELAY_SECONDS * attempts)},
         "$push": {"errors": {"$each": [reason[:500]], "$slice": -50}},
         **({} if again else RELEASE)})


def get_job(db: Database, job_id: str) -> dict | None:
    job = db[JOBS].find_one({"_id": job_id})
    if job is None:
        return None
    job["id"] = job.pop("_id")
    return job


def public_view(job: dict) -> dict:
    """What a client may see of a job (no payload: it can name users and tokens' owners)."""
    return {"job_id": job["id"], "kind": job["kind"], "state": job["state"],
            "progress": job.get("progress", 0.0), "counts": job.get("counts", {}),
            "errors": job.get("errors", []), "reason": job.get("reason"),
            "attempts": job.get("attempts", 0), "created_at": iso(job.get("created_at")),
            "started_at": iso(job.get("started_at")), "finished_at": iso(job.get("finished_at"))}
