"""Job queue: atomic claim, one job per key, leases, retries, and the worker loop."""
from __future__ import annotations

import datetime as dt
import threading

from knowgap.core.errors import UpstreamError, BadRequest
from knowgap.jobs import queue, worker


def at(seconds: float) -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seconds)


def test_enqueue_reuses_active_job_for_same_key(db):
    first, created = queue.enqueue(db, "sync", "course-1", now=at(0))
    again, created_again = queue.enqueue(db, "sync", "course-1", now=at(1))
    other, _ = queue.enqueue(db, "sync", "course-2", now=at(2))
    assert created and not created_again and first == again and other != first


def test_claim_is_exclusive_and_ordered(db):
    a, _ = queue.enqueue(db, "sync", "a", now=at(0))
    b, _ = queue.enqueue(db, "sync", "b", now=at(1))
    first = queue.claim(db, "w1", 60, now=at(5))
    second = queue.claim(db, "w2", 60, now=at(5))
    assert (first["_id"], second["_id"]) == (a, b)
    assert queue.claim(db, "w3", 60, now=at(5)) is None


def test_concurrent_claims_never_share_a_job(db):
    for i in range(20):
        queue.enqueue(db, "sync", str(i), now=at(i))
    claimed: list[str] = []
    lock = threading.Lock()

    def grab(name):
        while (job := queue.claim(db, name, 60, now=at(100))) is not None:
            with lock:
                claimed.append(job["_id"])

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 20 == len(set(claimed))


def test_expired_lease_is_reclaimed_and_old_worker_is_fenced(db):
    job_id, _ = queue.enqueue(db, "sync", "a", now=at(0))
    queue.claim(db, "crashed", 60, now=at(1))
    assert queue.claim(db, "w2", 60, now=at(30)) is None       # lease still valid
    taken = queue.claim(db, "w2", 60, now=at(62))              # lease expired: retried
    assert taken["_id"] == job_id and taken["attempts"] == 2
    assert not queue.heartbeat(db, job_id, "crashed", 60)      # the old owner is out
    assert queue.heartbeat(db, job_id, "w2", 60, progress=0.5, counts={"quizzes": 3})
    job = queue.get_job(db, job_id)
    assert job["progress"] == 0.5 and job["counts"] == {"quizzes": 3}


def test_gives_up_after_max_attempts(db):
    job_id, _ = queue.enqueue(db, "sync", "a", now=at(0))
    for attempt in range(queue.MAX_ATTEMPTS):
        assert queue.claim(db, "w", 10, now=at(100 * (attempt + 1)))["_id"] == job_id
    assert queue.claim(db, "w", 10, now=at(10_000)) is None


def _app_with_handler(app, kind, handler):
    worker.register_handler(kind, handler)
    return app


def test_worker_runs_handler_and_reports_progress(app):
    seen = {}

    def handler(services, job, report):
        report(progress=0.5, counts={"steps": 1})
        seen["payload"] = job["payload"]
        return {"steps": 2}

    _app_with_handler(app, "test_ok", handler)
    db = app.extensions["knowgap"].db
    job_id, _ = queue.enqueue(db, "test_ok", "k", {"course_id": "1"})
    assert worker.run_pending(app) == 1
    job = queue.get_job(db, job_id)
    assert job["state"] == "succeeded" and job["progress"] == 1.0
    assert job["counts"] == {"steps": 2} and seen["payload"] == {"course_id": "1"}


def test_client_error_fails_without_retry_and_upstream_error_retries(app):
    def bad_input(services, job, report):
        raise BadRequest("The course has no quizzes to sync.")

    def flaky(services, job, report):
        raise UpstreamError("Canvas did not answer.")

    _app_with_handler(app, "test_bad", bad_input)
    _app_with_handler(app, "test_flaky", flaky)
    db = app.extensions["knowgap"].db
    bad, _ = queue.enqueue(db, "test_bad", "k")
    worker.run_pending(app)
    job = queue.get_job(db, bad)
    assert job["state"] == "failed" and job["reason"] == "The course has no quizzes to sync."

    flaky_id, _ = queue.enqueue(db, "test_flaky", "k")
    worker.run_pending(app)
    job = queue.get_job(db, flaky_id)
    assert job["state"] == "queued" and job["attempts"] == 1   # back in the queue, delayed
    assert job["run_after"] > queue.utcnow()


def test_job_view_hides_payload(db):
    job_id, _ = queue.enqueue(db, "sync", "a", {"user_id": "secret-owner"})
    view = queue.public_view(queue.get_job(db, job_id))
    assert "payload" not in view and view["state"] == "queued"
