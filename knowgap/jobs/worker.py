"""The job worker: claims jobs from the queue and runs the handler registered for their kind.

With the embedded database it runs as a thread inside the web process (the data lives
there); in production it is the ``worker`` process of the Procfile
(``python -m knowgap.jobs.worker``), and any number of them can share the queue.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from typing import Callable

from flask import Flask

from knowgap.core.errors import AppError
from knowgap.jobs import queue

log = logging.getLogger("knowgap.jobs")

Handler = Callable[..., dict | None]
HANDLERS: dict[str, Handler] = {}
SCHEDULES: list[tuple[Callable, float]] = []


class LeaseLost(RuntimeError):
    """The job was taken over by another worker (our lease expired); stop working on it."""


def register_handler(kind: str, fn: Handler) -> Handler:
    """``fn(services, job, report)``; returns counts or raises (AppError message = reason)."""
    HANDLERS[kind] = fn
    return fn


def register_schedule(fn: Callable, every_seconds: float) -> Callable:
    """``fn(services, now)`` called by the worker loop at most every ``every_seconds``."""
    SCHEDULES.append((fn, every_seconds))
    return fn


ABANDONED_REASON = ("The worker running this job stopped before finishing it, {n} times. "
                    "Start it again; if it keeps failing, contact support.")


def reap_abandoned(db, now=None) -> int:
    """Fail running jobs whose lease ran out after their last allowed attempt.

    ``queue.claim`` never takes them again (attempts exhausted), and ``queue.enqueue`` keeps
    returning an active job with the same key, so without this a course whose sync worker died
    on its last attempt could never be synced again and its job would look "running" forever.
    """
    now = now or queue.utcnow()
    result = db[queue.JOBS].update_many(
        {"state": "running", "lease_until": {"$lt": now},
         "attempts": {"$gte": queue.MAX_ATTEMPTS}},
        {"$set": {"state": "failed", "finished_at": now, "lease_until": None,
                  "reason": ABANDONED_REASON.format(n=queue.MAX_ATTEMPTS)},
         "$push": {"errors": {"$each": [ABANDONED_REASON.format(n=queue.MAX_ATTEMPTS)],
                              "$slice": -50}}, **queue.RELEASE})
    if result.modified_count:
        log.warning("failed %d job(s) abandoned on their last attempt", result.modified_count)
    return result.modified_count


class Worker:
    def __init__(self, app: Flask, worker_id: str | None = None, poll_seconds: float = 1.0):
        self.app = app
        self.services = app.extensions["knowgap"]
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.poll_seconds = poll_seconds
        self.stop_event = threading.Event()
        self._last_run: dict[int, float] = {}

    @property
    def lease(self) -> int:
        return self.services.config.job_lease_seconds

    def run_once(self, now=None) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        db = self.services.db
        reap_abandoned(db, now)
        job = queue.claim(db, self.worker_id, self.lease, now=now)
        if job is None:
            return False
        job_id = job["_id"]
        handler = HANDLERS.get(job["kind"])
        if handler is None:
            queue.fail(db, job_id, self.worker_id, f"No handler for job kind {job['kind']!r}.",
                       retry=False)
            return True

        def report(progress=None, counts=None, error=None):
            if not queue.heartbeat(db, job_id, self.worker_id, self.lease,
                                   progress=progress, counts=counts, error=error):
                raise LeaseLost(job_id)

        started = time.perf_counter()
        try:
            with self.app.app_context():
                counts = handler(self.services, job, report) or {}
        except LeaseLost:
            log.warning("job %s lost its lease; another worker owns it now", job_id)
        except AppError as exc:
            queue.fail(db, job_id, self.worker_id, exc.message, retry=exc.status >= 500)
            log.warning("job %s (%s) failed: %s", job_id, job["kind"], exc.message)
        except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the worker
            log.exception("job %s (%s) crashed", job_id, job["kind"])
            queue.fail(db, job_id, self.worker_id,
                       f"Unexpected error ({type(exc).__name__}); it will be retried.", retry=True)
        else:
            queue.finish(db, job_id, self.worker_id, counts=counts)
            log.info("job %s (%s) done in %.1fs", job_id, job["kind"],
                     time.perf_counter() - started)
        return True

    def run_schedules(self) -> None:
        now = time.monotonic()
        for index, (fn, every) in enumerate(SCHEDULES):
            if now - self._last_run.get(index, -every) >= every:
                self._last_run[index] = now
                try:
                    with self.app.app_context():
                        fn(self.services, queue.utcnow())
                except Exception:  # noqa: BLE001 - keep the loop alive
                    log.exception("scheduled task %s failed", getattr(fn, "__name__", fn))

    def run_forever(self) -> None:
        log.info("job worker %s started", self.worker_id)
        while not self.stop_event.is_set():
            try:
                self.run_schedules()
                if not self.run_once():
                    self.stop_event.wait(self.poll_seconds)
            except Exception:  # noqa: BLE001 - e.g. the database is down: wait and retry
                log.exception("job worker loop error; retrying")
                self.stop_event.wait(min(30.0, self.poll_seconds * 5))

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="job-worker", daemon=True)
        thread.start()
        return thread


def run_pending(app: Flask, max_jobs: int | None = None) -> int:
    """Run queued jobs inline until none is left (or ``max_jobs``); returns how many ran."""
    worker = Worker(app, worker_id=f"inline-{uuid.uuid4().hex[:6]}")
    ran = 0
    while (max_jobs is None or ran < max_jobs) and worker.run_once():
        ran += 1
    return ran


def main() -> None:  # pragma: no cover - process entry point
    from config import load_config
    from knowgap.app import create_app

    app = create_app(load_config(run_worker_thread=False))
    Worker(app).run_forever()


if __name__ == "__main__":  # pragma: no cover
    with contextlib.suppress(KeyboardInterrupt):
        main()
