"""Reading quizzes from both Canvas quiz engines, and New Quizzes' student analysis reports.

``all_quizzes`` lists Classic Quizzes (``/api/v1/courses/:cid/quizzes``) and New Quizzes
(``/api/quiz/v1/courses/:cid/quizzes``, normalized by ``new_quizzes.normalize_quiz``) in one
list; ``quiz_questions`` reads a quiz's questions or items by the quiz's id. A Canvas without
New Quizzes (the API answers 404, or 401/403 for a role that may not list them) simply has
none.

Per-student, per-item results of a New Quiz exist only in its ``student_analysis`` report,
which Canvas builds in the background (``student_analysis``):

1. ``POST .../quizzes/:assignment_id/reports`` answers a Progress object; ``409`` means a report
   of that type is already being generated: the Progress we started earlier (remembered in the
   caller's sync state) is polled instead, or, when we do not know it, the POST is repeated
   with backoff until that report is done;
2. ``GET /api/v1/progress/:id`` is polled with growing pauses until ``workflow_state`` is
   ``completed`` (download ``results.url``) or ``failed`` (``ReportFailed``);
3. the wait is bounded: past the deadline ``ReportPending`` carries the Progress URL, so the
   next sync polls that report instead of starting another one.

``fetch_reports`` runs that for several quizzes at once (the client keeps Canvas' throttle)
and sorts the outcomes into reports, pending and failed quizzes, so one slow or broken quiz
never stops the others.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from knowgap.canvas import new_quizzes as nq
from knowgap.canvas.client import urgent
from knowgap.canvas.tasks import gather_all
from knowgap.canvas.errors import (CanvasConflict, CanvasError, CanvasNotFound,
                                   CanvasPermissionDenied, CanvasTokenInvalid)

log = logging.getLogger("knowgap.canvas")

#: Progress polls back off geometrically (x1.6) from 50 ms to one every 3 s: a report that is
#: quick to build is picked up soon after it is done, a slow one costs a cheap read every 3 s.
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 3.0


async def new_quizzes(client, course_id) -> list[dict]:
    """The course's New Quizzes, normalized; none when the New Quizzes API is not there."""
    try:
        quizzes = await client.list_new_quizzes(course_id)
    except (CanvasNotFound, CanvasPermissionDenied):
        return []
    return [nq.normalize_quiz(q) for q in quizzes if isinstance(q, dict) and q.get("id")]


async def all_quizzes(client, course_id) -> list[dict]:
    classic, new = await asyncio.gather(client.list_quizzes(course_id),
                                        new_quizzes(client, course_id))
    return list(classic) + new


async def quiz_questions(client, course_id, quiz_id) -> list[dict]:
    """Classic questions, or a New Quiz's items as Classic-like questions."""
    quiz_id = str(quiz_id)
    if nq.is_new_quiz_id(quiz_id):
        items = await client.list_new_quiz_items(course_id, nq.assignment_of(quiz_id))
        return [nq.normalize_item(i, quiz_id) for i in items if isinstance(i, dict)]
    return await client.list_questions(course_id, quiz_id)


# ------------------------------------------------------------------ reports

class ReportPending(Exception):
    """The report was not ready before the deadline; poll ``progress_url`` next time."""

    def __init__(self, progress_url: str | None):
        super().__init__("report still being generated")
        self.progress_url = progress_url


class ReportFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _progress_url(progress) -> str | None:
    """A Progress object's URL (some answers wrap it as ``{"progress": {...}}``)."""
    if isinstance(progress, dict) and isinstance(progress.get("progress"), dict):
        progress = progress["progress"]
    if isinstance(progress, dict):
        if progress.get("url"):
            return str(progress["url"])
        if progress.get("id") is not None:
            return f"/api/v1/progress/{progress['id']}"
    return None


async def _pause(delay: float, deadline: float) -> float:
    """Sleep ``delay`` (never past the deadline); the next, longer delay."""
    await asyncio.sleep(max(0.0, min(delay, deadline - time.monotonic())))
    return min(MAX_POLL_SECONDS, delay * 1.6)


async def _start(client, course_id, assignment_id, deadline: float,
                 remembered: str | None) -> tuple[str, bool]:
    """(Progress URL, whether the report is one that was already running when we asked)."""
    delay = FIRST_POLL_SECONDS
    while True:
        try:
            url = _progress_url(await client.create_new_quiz_report(course_id, assignment_id))
        except CanvasConflict:
            if remembered:
                return remembered, True
            if time.monotonic() >= deadline:
                raise ReportPending(None) from None
            delay = await _pause(delay, deadline)
            continue
        if url is None:
            raise ReportFailed("Canvas started the report without saying where to follow it.")
        return url, False


async def student_analysis(client, course_id, assignment_id, *, deadline: float,
                           remembered: str | None = None) -> tuple[dict | list, bool]:
    """(the report, whether it was started before this call) of one New Quiz (see module
    docstring). ``deadline`` is a ``time.monotonic()`` value."""
    url, existing = await _start(client, course_id, assignment_id, deadline, remembered)
    delay = FIRST_POLL_SECONDS
    if not existing:           # a report just asked for is never ready at once
        delay = await _pause(delay, deadline)
    while True:
        progress = await client.get_url(url)
        state = (progress or {}).get("workflow_state")
        if state == "completed":
            file_url = ((progress or {}).get("results") or {}).get("url")
            if not file_url:
                raise ReportFailed("Canvas finished the report but gave no file to download.")
            return await client.get_url(file_url), existing
        if state == "failed":
            detail = (progress or {}).get("message")
            raise ReportFailed("Canvas could not generate the New Quizzes report"
                               + (f" ({detail})." if detail else "."))
        if time.monotonic() >= deadline:
            raise ReportPending(url)
        delay = await _pause(delay, deadline)


@dataclass
class ReportOutcome:
    """``reports``: {quiz id: report}; ``pending``: {quiz id: Progress URL or None} (not ready
    before the deadline); ``failed``: {quiz id: reason}; ``recheck``: quiz ids whose report was
    one already running when we asked, which may predate the latest grades. The next sync asks
    again for all but ``reports``' own quizzes' (``pending_entries``)."""

    reports: dict = field(default_factory=dict)
    pending: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)
    recheck: list = field(default_factory=list)


async def fetch_reports(client, course_id, quiz_ids, *, wait_seconds: float,
                        remembered: dict | None = None, on_done=None) -> ReportOutcome:
    """Student analysis reports of the New Quizzes ``quiz_ids`` (``nq-`` ids), concurrently.

    ``remembered``: {quiz id: Progress URL} from the previous sync's pending reports.
    A bad token or a permission error still raises (the user has to act on those); a
    report that fails or cannot be read is recorded in ``failed`` with the reason.
    """
    remembered = remembered or {}
    deadline = time.monotonic() + max(0.0, wait_seconds)
    outcome = ReportOutcome()

    async def one(quiz_id: str) -> None:
        try:
            with urgent():          # the report waits are the longest chain of a sync
                report, existing = await student_analysis(
                    client, course_id, nq.assignment_of(quiz_id), deadline=deadline,
                    remembered=remembered.get(quiz_id))
            outcome.reports[quiz_id] = report
            if existing:
                outcome.recheck.append(quiz_id)
        except ReportPending as exc:
            outcome.pending[quiz_id] = exc.progress_url
        except ReportFailed as exc:
            outcome.failed[quiz_id] = exc.message
        except (CanvasTokenInvalid, CanvasPermissionDenied):
            raise
        except CanvasError as exc:
            outcome.failed[quiz_id] = exc.message
        finally:
            if on_done is not None:
                on_done()

    await gather_all([one(q) for q in quiz_ids])
    return outcome


# ------------------------------------------------------------------ between syncs

def pending_entries(pending: dict, *others) -> list[dict]:
    """What a sync keeps to ask for again next time, as plain documents
    ``[{quiz_id, progress_url}]``: the pending reports, and the quiz ids in ``others`` (failed
    or to recheck; no Progress to follow)."""
    entries = {q: url for q, url in (pending or {}).items()}
    for ids in others:
        entries.update({q: None for q in ids or () if q not in entries})
    return [{"quiz_id": q, "progress_url": url} for q, url in sorted(entries.items())]


def remembered(entries) -> dict:
    """``pending_entries`` back as ``{quiz id: Progress URL or None}``."""
    return {e["quiz_id"]: e.get("progress_url") for e in entries or []
            if isinstance(e, dict) and isinstance(e.get("quiz_id"), str)}


def outcome_notes(pending: dict, failed: dict, titles: dict) -> list[str]:
    """Sentences for a sync job's ``errors``: which New Quizzes could not be read and why."""
    notes = []
    for quiz_id, reason in sorted((failed or {}).items()):
        notes.append(f"New Quiz '{titles.get(quiz_id, quiz_id)}': {reason} Its earlier results "
                     "are kept; the next sync asks Canvas again.")
    for quiz_id in sorted(pending or {}):
        notes.append(f"New Quiz '{titles.get(quiz_id, quiz_id)}': Canvas is still preparing "
                     "its results report; they will be read by the next sync.")
    return notes
