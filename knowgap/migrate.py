"""``python -m knowgap.migrate``: bring a database written by an earlier version up to date.

The migration is an ordered list of steps (``STEPS``). Every step is idempotent: it changes
only documents still in an old shape, so running the command twice, or again after a crash
halfway, or while an old server is still writing during a rolling upgrade, is safe. Each run
records what every step did in ``schema_migrations`` (``{_id: step name, applied_at, runs,
counts}``); the server logs a warning at start-up while documents of the old shape remain
(``pending``). Later changes of document shapes add steps at the end of ``STEPS``.

Steps:

1. ``tenancy-indexes`` (issue 17): the indexes of the previous version that lack
   ``canvas_host`` are dropped (their unique keys would make course 101 of a second Canvas a
   duplicate of the first's, and would refuse the re-keyed copies of step 2), and the
   declared indexes (``knowgap.core.indexes``) are created.
2. ``tenancy-canvas-host``: every stored record gets ``canvas_host``
   (``knowgap.core.tenancy``). Course data gets the server's configured Canvas
   (``CANVAS_BASE_URL``, which must be on ``CANVAS_ALLOWED_HOSTS``); records that name their own
   Canvas keep it (registered KnowGap tokens and their refresh schedule: ``base_url``;
   AchieveUp accounts: ``canvas_base_url``; the Canvas response cache: the origin its key
   starts with; jobs: their payload's ``base_url``). Natural-key ``_id``s ("course|student…")
   gain the host in front ("host|course|student…"): the document is copied under its new
   ``_id``, then the old one is deleted (only once its copy is stored). Badges get the new
   form of their hashed natural key, after every badge has its ``public_id``
   (``achieveup.badges.privacy.assign_public_ids``: a badge whose old id was ever published
   keeps it as its public id, so shared links and issued credentials keep working). The KnowGap
   identity cache (five-minute entries) is emptied. Active jobs get the one-active-job key (``knowgap.jobs.queue``) unless
   an equal one already holds it.

Run it once after deploying, with the server's own environment::

    MONGODB_URI=... CANVAS_BASE_URL=... CANVAS_ALLOWED_HOSTS=... .venv/bin/python -m knowgap.migrate
"""
from __future__ import annotations

import datetime as dt
import logging
import sys
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from knowgap.canvas.hosts import canvas_host, default_host
from knowgap.core.db import IndexManager
from knowgap.core.tenancy import FIELD, SEP, scoped, unwrap

log = logging.getLogger("knowgap.migrate")

MIGRATIONS = "schema_migrations"
BATCH = 1000
LEGACY = {FIELD: {"$exists": False}}

# ------------------------------------------------------------------ what earlier versions wrote

#: Natural-key string ``_id``s that gain the host in front.
REKEYED = ("AchieveUp_Question_Results", "AchieveUp_Student_Evidence",
           "AchieveUp_Student_Mastery", "AchieveUp_Canvas_Quizzes", "AchieveUp_Canvas_Questions",
           "AchieveUp_Canvas_Students", "AchieveUp_Sync_State", "AchieveUp_Course_Settings",
           "AchieveUp_Course_Versions", "AchieveUp_BKT_Parameters", "AchieveUp_Item_Responses",
           "AchieveUp_Quiz_Submissions", "AchieveUp_Leaderboard_Preferences",
           "AchieveUp_Badge_Profiles")
BADGES = "AchieveUp_Badges"
#: ObjectId ``_id``s: only ``canvas_host`` is added.
STAMPED = ("AchieveUp_Skill_Matrices", "AchieveUp_Question_Skills",
           "AchieveUp_Course_Descriptions", "AchieveUp_Import_Status", "knowgap_quizzes",
           "knowgap_questions", "knowgap_incorrect_answers", "knowgap_course_context",
           "knowgap_sync_state", "knowgap_topic_cache", "knowgap_video_cache",
           "knowgap_video_watched", "knowgap_video_votes", "knowgap_risk_toggle")
#: Documents that name their own Canvas: where the origin is read from.
OWN_ORIGIN: dict[str, Callable[[dict], str | None]] = {
    "knowgap_tokens": lambda d: d.get("base_url"),
    "knowgap_sync_schedule": lambda d: d.get("base_url"),
    "AchieveUp_Users": lambda d: d.get("canvas_base_url"),
    "AchieveUp_Canvas_Cache": lambda d: str(d.get("key") or "").split(SEP, 1)[0],
    "jobs": lambda d: (d.get("payload") or {}).get("base_url") or _key_origin(d.get("key")),
}
DROPPED = ("knowgap_identity_cache",)
#: Accounts without a Canvas token belong to no Canvas yet (``user_host`` answers the
#: server's); only those with one are records of their Canvas.
LEGACY_FILTERS = {"AchieveUp_Users": {**LEGACY, "canvas_base_url": {"$exists": True}}}
#: Course-level jobs whose key was "base_url|course" before the host had a field of its own.
HOST_KEYED_JOBS = ("achieveup_course_sync", "knowgap_course_sync")

#: Indexes of the previous version without ``canvas_host`` (as declared at commit e3fd65a).
LEGACY_INDEXES = (
    ("jobs", ("kind", "key", "state")),
    ("AchieveUp_Users", ("canvas_user_id",)),
    ("AchieveUp_Canvas_Cache", ("scope", "key")),
    ("AchieveUp_Skill_Matrices", ("course_id", "name_lower")),
    ("AchieveUp_Question_Skills", ("course_id", "question_id")),
    ("AchieveUp_Course_Descriptions", ("course_id", "instructor_id")),
    ("AchieveUp_Import_Status", ("target_course_id",)),
    ("knowgap_identity_cache", ("fingerprint", "base_url", "scope")),
    ("knowgap_quizzes", ("course_id", "quiz_id")),
    ("knowgap_questions", ("course_id", "question_id")),
    ("knowgap_questions", ("quiz_id", "question_id")),
    ("knowgap_questions", ("course_id", "quiz_id", "position")),
    ("knowgap_incorrect_answers", ("course_id", "student_id")),
    ("knowgap_course_context", ("course_id",)),
    ("knowgap_tokens", ("base_url", "canvas_user_id")),
    ("knowgap_sync_schedule", ("base_url", "course_id")),
    ("knowgap_topic_cache", ("key",)),
    ("knowgap_video_cache", ("topic_key",)),
    ("knowgap_video_watched", ("course_id", "student_id", "video_link")),
    ("knowgap_video_votes", ("course_id", "video_link", "student_id")),
    ("knowgap_risk_toggle", ("course_id",)),
    ("knowgap_sync_state", ("course_id",)),
    ("AchieveUp_Canvas_Quizzes", ("course_id", "quiz_id")),
    ("AchieveUp_Canvas_Quizzes", ("course_id", "assignment_id")),
    ("AchieveUp_Canvas_Questions", ("course_id", "quiz_id")),
    ("AchieveUp_Canvas_Students", ("course_id", "student_id")),
    ("AchieveUp_Canvas_Students", ("student_id",)),
    ("AchieveUp_Question_Results", ("course_id", "student_id", "quiz_id")),
    ("AchieveUp_Student_Evidence", ("course_id", "student_id")),
    ("AchieveUp_Student_Mastery", ("course_id", "student_id")),
    ("AchieveUp_Student_Mastery", ("student_id",)),
    ("AchieveUp_Badges", ("course_id", "revoked", "student_id")),
    ("AchieveUp_Badges", ("student_id", "revoked", "public")),
    ("AchieveUp_Badges", ("course_id", "skill_slug", "level")),
    ("AchieveUp_Course_Settings", ("course_id",)),
    ("AchieveUp_Item_Responses", ("course_id", "quiz_id")),
    ("AchieveUp_Item_Responses", ("course_id", "question_id")),
    ("AchieveUp_Quiz_Submissions", ("course_id", "student_id")),
    ("AchieveUp_Quiz_Submissions", ("course_id", ("last_submitted_at", -1))),
    ("AchieveUp_BKT_Parameters", ("course_id", "skill")),
)


def _key_origin(key) -> str | None:
    head = str(key or "").split(SEP, 1)[0]
    return head if head.startswith(("http://", "https://")) else None


# ------------------------------------------------------------------ step 1: canvas_host


def _host(origin: str | None, fallback: str) -> str:
    try:
        return canvas_host(origin) if origin and urlsplit(origin).hostname else fallback
    except ValueError:
        return fallback


def _legacy(name: str) -> dict:
    return LEGACY_FILTERS.get(name, LEGACY)


def _legacy_batches(collection):
    """Documents without ``canvas_host``, a batch at a time (each batch is changed before the
    next is read, so the query never skips or repeats one)."""
    while True:
        batch = list(collection.find(_legacy(collection.name)).sort("_id", 1).limit(BATCH))
        if not batch:
            return
        yield batch


def _insert_copies(collection, docs: list[dict]) -> set:
    """Insert ``docs``; ones already there (an earlier run stopped before deleting the old
    documents) are left as they are. Returns the ``_id``s now stored."""
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise
    except DuplicateKeyError:                 # engines that stop at the first duplicate
        for doc in docs:
            try:
                collection.insert_one(doc)
            except DuplicateKeyError:
                pass
    return {d["_id"] for d in collection.find({"_id": {"$in": [d["_id"] for d in docs]}},
                                              {"_id": 1})}


def _rekey(collection, host: str, new_id: Callable[[dict], str] | None = None) -> int:
    """Move each legacy document to its host-qualified ``_id`` (default: the host in front of
    the old natural key)."""
    new_id = new_id or (lambda doc: f"{host}{SEP}{doc['_id']}")
    moved = 0
    for batch in _legacy_batches(collection):
        copies, old_ids, stamped = [], [], []
        for doc in batch:
            if not isinstance(doc["_id"], str):
                stamped.append(doc["_id"])
                continue
            copy = {**doc, "_id": new_id(doc), FIELD: host}
            if collection.name == "AchieveUp_Course_Versions":
                copy.setdefault("course_id", doc["_id"])
            copies.append(copy)
            old_ids.append(doc["_id"])
        if copies:
            stored = _insert_copies(collection, copies)
            done = [old for old, copy in zip(old_ids, copies) if copy["_id"] in stored]
            if len(done) < len(copies):      # a copy refused by another unique key
                raise RuntimeError(f"{collection.name}: could not store the re-keyed copies "
                                   "of some documents; nothing of them was deleted")
            collection.delete_many({"_id": {"$in": done}, **LEGACY})
            moved += len(done)
        if stamped:
            collection.update_many({"_id": {"$in": stamped}}, {"$set": {FIELD: host}})
            moved += len(stamped)
    return moved


def _stamp_from_origin(collection, fallback: str, origin_of) -> tuple[int, int]:
    """``canvas_host`` from each document's own origin; a document that would then duplicate
    one already stamped for that host (its old key spelled the origin differently) is the
    older copy of it and is dropped. Returns (stamped, dropped)."""
    stamped = dropped = 0
    for batch in _legacy_batches(collection):
        for doc in batch:
            host = _host(origin_of(doc), fallback)
            update: dict = {"$set": {FIELD: host}}
            if collection.name == "jobs":
                update["$set"]["key"] = _job_key(doc)
            try:
                collection.update_one({"_id": doc["_id"]}, update)
                stamped += 1
            except DuplicateKeyError:
                collection.delete_one({"_id": doc["_id"]})
                dropped += 1
    return stamped, dropped


def _job_key(job: dict) -> str:
    key = str(job.get("key") or "")
    if job.get("kind") in HOST_KEYED_JOBS and _key_origin(key):
        return key.split(SEP, 1)[1]                   # the course id
    return key


def _claim_active_jobs(db) -> int:
    """Give queued/running jobs the one-active-job key; a second active job with an equal key
    (the old check-then-insert race) keeps running without one and frees nothing."""
    from knowgap.jobs import queue

    claimed = 0
    for job in db[queue.JOBS].find({"state": {"$in": list(queue.ACTIVE)},
                                    "active_key": {"$exists": False}}).sort("created_at", 1):
        claim = queue.active_key(job.get(FIELD), job["kind"], str(job.get("key")))
        try:
            db[queue.JOBS].update_one({"_id": job["_id"]}, {"$set": {"active_key": claim}})
            claimed += 1
        except DuplicateKeyError:
            pass
    return claimed


def _rekey_badges(db: Database, host: str) -> int:
    from achieveup.badges.privacy import assign_public_ids
    from achieveup.mastery.store import badge_key_id

    assign_public_ids(db)                    # links keep naming the badge across the move
    tenant = scoped(db, host)
    return _rekey(db[BADGES], host, lambda b: badge_key_id(
        tenant, b["course_id"], b["student_id"], b["skill"], b["level"]))


def add_canvas_host(db: Database, config) -> dict[str, int]:
    host = default_host(config)             # refuses a CANVAS_BASE_URL not on the allow-list
    counts: dict[str, int] = {}
    for name in REKEYED:
        counts[name] = _rekey(db[name], host)
    counts[BADGES] = _rekey_badges(db, host)
    for name in STAMPED:
        counts[name] = db[name].update_many(LEGACY, {"$set": {FIELD: host}}).modified_count
    for name, origin_of in OWN_ORIGIN.items():
        counts[name], dropped = _stamp_from_origin(db[name], host, origin_of)
        if dropped:
            counts[f"{name}_duplicates_dropped"] = dropped
    for name in DROPPED:
        counts[name + "_dropped"] = db[name].delete_many(LEGACY).deleted_count
    counts["jobs_claimed"] = _claim_active_jobs(db)
    return {k: v for k, v in counts.items() if v}


# ------------------------------------------------------------------ step 2: indexes


def _key_list(keys) -> list:
    return [k if isinstance(k, tuple) else (k, 1) for k in keys]


def replace_indexes(db: Database, config) -> dict[str, int]:
    dropped = 0
    for name, keys in LEGACY_INDEXES:
        wanted = _key_list(keys)
        for index_name, info in db[name].index_information().items():
            if [(k, int(d)) for k, d in info["key"]] == wanted:
                db[name].drop_index(index_name)
                dropped += 1
    manager = IndexManager(db)
    if not manager.ensure():
        raise RuntimeError("could not create the indexes; is the database reachable?")
    return {"indexes_dropped": dropped} if dropped else {}


# ------------------------------------------------------------------ the runner


@dataclass(frozen=True)
class Step:
    name: str
    summary: str
    run: Callable[[Database, object], dict[str, int]]


STEPS: list[Step] = [
    Step("tenancy-indexes", "indexes keyed by Canvas host", replace_indexes),
    Step("tenancy-canvas-host", "every record gets the Canvas host it belongs to",
         add_canvas_host),
]


def migrate(db: Database, config, *, echo: Callable[[str], None] = log.info) -> list[dict]:
    """Run every step in order; ``[{step, counts}]`` (counts of the documents changed)."""
    db = unwrap(db)
    done = []
    for step in STEPS:
        counts = step.run(db, config)
        db[MIGRATIONS].update_one(
            {"_id": step.name},
            {"$set": {"summary": step.summary, "counts": counts,
                      "applied_at": dt.datetime.now(dt.timezone.utc)},
             "$inc": {"runs": 1}}, upsert=True)
        echo(f"{step.name}: {step.summary}: " + (", ".join(
            f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to change"))
        done.append({"step": step.name, "counts": counts})
    return done


def pending(db: Database) -> list[str]:
    """Collections that still hold documents written before records carried their Canvas
    host (empty once ``migrate`` ran)."""
    db = unwrap(db)
    return [name for name in (*REKEYED, BADGES, *STAMPED, *OWN_ORIGIN, *DROPPED)
            if db[name].find_one(_legacy(name), {"_id": 1}) is not None]


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - process entry point
    from config import load_config
    from knowgap.core.db import connect, is_embedded

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_config()
    db = connect(config.mongodb_uri, config.mongodb_db)
    if is_embedded(db):
        print("MONGODB_URI is not set: the embedded database starts empty, nothing to migrate.")
        return 0
    migrate(db, config, echo=print)
    left = pending(db)
    if left:
        print("Documents of the old shape are still being written to: " + ", ".join(left)
              + ". Stop the old servers and run the command again.")
        return 1
    print("Done.")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
