"""Job queue: atomic claim, one job per key, leases, retries, and the worker loop."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from knowgap.core.db import IndexManager
from knowgap.core.errors import UpstreamError, BadRequest
from knowgap.core.tenancy import scoped
from knowgap.jobs import queue, worker


def at(seconds: float) -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def indexes(db):
    """The unique ``active_key`` index is what keeps one active job per key."""
    assert IndexManager(db).ensure()


def test_enqueue_reuses_active_job_for_same_key(db):
    first, created = queue.enqueue(db, "sync", "course-1", now=at(0))
    again, created_again = queue.enqueue(db, "sync", "course-1", now=at(1))
    other, _ = queue.enqueue(db, "sync", "course-2", now=at(2))
    assert created and not created_again and first == again and other != first


def test_a_finished_or_failed_job_frees_its_key(db):
    first, _ = queue.enqueue(db, "sync", "c", now=at(0))
    queue.claim(db, "w", 60, now=at(1))
    queue.finish(db, first, "w")
    second, created = queue.enqueue(db, "sync", "c", now=at(2))
    assert created and second != first
    queue.claim(db, "w", 60, now=at(3))
    queue.fail(db, second, "w", "temporary", retry=True)          # back in the queue: still
    assert queue.enqueue(db, "sync", "c", now=at(4)) == (second, False)   # the active one
    db[queue.JOBS].update_one({"_id": second}, {"$set": {"run_after": at(5)}})
    assert queue.claim(db, "w", 60, now=at(6))["_id"] == second
    queue.fail(db, second, "w", "the course has no quizzes", retry=False)
    assert queue.get_job(db, second)["state"] == "failed"
    third, created = queue.enqueue(db, "sync", "c", now=at(9000))
    assert created and third not in (first, second)


def test_an_abandoned_job_frees_its_key(db):
    job_id, _ = queue.enqueue(db, "sync", "d", now=at(0))
    for n in range(queue.MAX_ATTEMPTS):
        queue.claim(db, "crashed", 10, now=at(100 * (n + 1)))
    assert worker.reap_abandoned(db, now=at(10_000)) == 1
    again, created = queue.enqueue(db, "sync", "d", now=at(10_001))
    assert created and again != job_id


def test_the_same_key_on_two_canvas_hosts_is_two_jobs(db):
    a, _ = queue.enqueue(scoped(db, "a.instructure.com"), "sync", "101", now=at(0))
    b, created = queue.enqueue(scoped(db, "b.instructure.com"), "sync", "101", now=at(1))
    assert created and a != b
    assert queue.get_job(db, b)["canvas_host"] == "b.instructure.com"


def test_racing_enqueues_start_one_job(db, monkeypatch):
    """Two enqueues that both looked before either inserted (the check-then-insert race the
    probe hit) still make one job: the unique key decides, not the look."""
    collection_type = type(db[queue.JOBS])
    original = collection_type.find_one
    both_looked = threading.Barrier(2, timeout=1.0)

    def find_one_then_wait(self, *args, **kwargs):
        found = original(self, *args, **kwargs)
        if self.name == queue.JOBS:
            try:
                both_looked.wait()
            except threading.BrokenBarrierError:
                pass
        return found

    monkeypatch.setattr(collection_type, "find_one", find_one_then_wait)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        queue.enqueue(db, "sync", "race", now=at(0)))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.setattr(collection_type, "find_one", original)
    assert len({job_id for job_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, True]
    assert db[queue.JOBS].count_documents({"key": "race"}) == 1


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


def test_parallel_force_syncs_start_one_job_per_round(app, client):
    """Twenty instructors' force-syncs of one course at the same moment, twelve rounds (the
    probe saw two jobs in 2 of 12 rounds): every answer names the same job, and only one is
    active. ``test_racing_enqueues_start_one_job`` forces the interleaving deterministically."""
    signup = client.post("/auth/signup", json={"name": "T", "email": "t@example.edu",
                                               "password": "Str0ngPassw0rd",
                                               "canvasApiToken": "teacher-token"})
    headers = {"Authorization": f"Bearer {signup.get_json()['token']}"}
    db = app.extensions["knowgap"].db
    path = "/achieveup/instructor/course/101/force-sync"
    assert client.post(path, headers=headers).status_code == 202      # warms the Canvas cache
    db[queue.JOBS].update_many({}, {"$set": {"state": "succeeded"}, **queue.RELEASE})
    for _ in range(12):
        start = threading.Barrier(20)
        answers: list = []

        def force_sync():
            own = app.test_client()
            start.wait()
            response = own.post(path, headers=headers)
            answers.append((response.status_code, response.get_json()["job_id"]))

        threads = [threading.Thread(target=force_sync) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {status for status, _ in answers} == {202}
        assert len({job_id for _, job_id in answers}) == 1, answers
        assert db[queue.JOBS].count_documents({"state": {"$in": list(queue.ACTIVE)}}) == 1
        job = queue.claim(db, "w", 60)
        queue.finish(db, job["_id"], "w")
