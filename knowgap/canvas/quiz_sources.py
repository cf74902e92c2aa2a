"""Reading quizzes from both Canvas quiz engines, and New Quizzes' student analysis reports.

``all_quizzes`` lists Classic Quizzes (``/api/v1/courses/:cid/quizzes``) and New Quizzes
(``/api/quiz/v1/courses/:cid/quizzes``, normalized by ``new_quizzes.normalize_quiz``) in one
list; ``quiz_questions`` reads a quiz's questions or items by the quiz's id. A Canvas without
New Quizzes (404) has none; a 401/403 on that list (a concluded enrollment, or an institution
that restricts the API) is not "no New Quizzes": ``new_quiz_listing`` says it was refused.

Per-student, per-item results of a New Quiz exist only in its ``student_analysis`` report,
which Canvas builds in the background (``student_analysis``; Instructure's New Quizzes Reports
API, and the transport longhornadam/canvasexpert ``api/powergrader/new_quiz_fetch.py`` and
dbosk/canvaslms ``quizzes.nw`` use against real Canvas):

1. ``POST .../quizzes/:assignment_id/reports``, form-encoded, ``format=json``; Canvas answers
   201 with ``{"progress": {...}}``. A 400 (that format refused) is asked again as ``csv``
   (``new_quiz_csv``). ``409`` means a report of that type is already being generated: the
   Progress we started earlier (remembered in the caller's sync state) is polled instead, or,
   when we do not know it, the POST is repeated with backoff until that report is done. A 403
   (the token's enrollment concluded, or the API restricted) makes the quiz "restricted";
2. ``GET /api/v1/progress/:id`` is polled with growing pauses until ``workflow_state`` is
   ``completed`` (download ``results.url``, which may redirect to file storage) or ``failed``;
3. the wait is bounded: past the deadline ``ReportPending`` carries the Progress URL, so the
   next sync polls that report instead of starting another one.

``fetch_reports`` runs that for several quizzes at once (the client keeps Canvas' throttle)
and sorts the outcomes, so one slow or broken quiz never stops the others; ``read_reports``
also fetches what judging the reports needs. ``ReportOutcome.judge`` then reads each report
against the quiz's items and refuses one that lost students: fewer students than the
assignment has graded submissions (Submissions API, ``basic_lti_launch``), rows it cannot read,
or items none of which are in the quiz's item list. A refused report stores nothing (earlier
results stay) and is named on the job with its counts; it is asked for again next time.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import orjson

from knowgap.canvas import new_quiz_csv
from knowgap.canvas import new_quizzes as nq
from knowgap.canvas.client import urgent
from knowgap.canvas.tasks import gather_all
from knowgap.canvas.errors import (CanvasBadRequest, CanvasConflict, CanvasError,
                                   CanvasNotFound, CanvasPermissionDenied, CanvasTokenInvalid)

log = logging.getLogger("knowgap.canvas")

#: Progress polls back off geometrically (x1.6) from 50 ms to one every 3 s: a report that is
#: quick to build is picked up soon after it is done, a slow one costs a cheap read every 3 s.
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 3.0

#: Submissions that mean "this student took the New Quiz and Canvas scored it": the report
#: must have a row for each of their students.
LAUNCH = "basic_lti_launch"
SCORED_STATES = frozenset({"graded", "pending_review"})

RESTRICTED = ("Canvas refused it (HTTP 403): the Canvas enrollment behind this token may have "
              "ended, or your institution restricts the New Quizzes API.")


async def new_quiz_listing(client, course_id) -> tuple[list[dict], str | None]:
    """(the course's New Quizzes, normalized; why Canvas refused to list them, or None). A
    Canvas without the New Quizzes API (404) has none."""
    try:
        quizzes = await client.list_new_quizzes(course_id)
    except CanvasNotFound:
        return [], None
    except CanvasTokenInvalid:
        raise
    except CanvasPermissionDenied:
        return [], RESTRICTED
    return [nq.normalize_quiz(q) for q in quizzes if isinstance(q, dict) and q.get("id")], None


async def new_quizzes(client, course_id) -> list[dict]:
    """The course's New Quizzes that this token may list (see ``new_quiz_listing``)."""
    return (await new_quiz_listing(client, course_id))[0]


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


# ------------------------------------------------------------------ one report

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
    """A Progress object's URL (Canvas answers the POST with it wrapped, ``{"progress":
    {...}}``; a Progress read is bare)."""
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


async def _create(client, course_id, assignment_id) -> dict:
    """POST the report in JSON form; in CSV form when Canvas refuses JSON (400)."""
    try:
        return await client.create_new_quiz_report(course_id, assignment_id)
    except CanvasBadRequest:
        try:
            return await client.create_new_quiz_report(course_id, assignment_id,
                                                       report_format="csv")
        except CanvasBadRequest:
            raise ReportFailed("Canvas refused to build its student analysis report "
                               "(HTTP 400).") from None


async def _start(client, course_id, assignment_id, deadline: float,
                 remembered: str | None) -> tuple[str, bool]:
    """(Progress URL, whether the report is one that was already running when we asked)."""
    delay = FIRST_POLL_SECONDS
    while True:
        try:
            url = _progress_url(await _create(client, course_id, assignment_id))
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


def report_file_rows(body: bytes) -> tuple[list, str]:
    """(the rows, ``json`` or ``csv``) of a downloaded report file (told apart by the first
    character: a JSON report is a list)."""
    text = (body or b"").lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"[", b"{"):
        try:
            return nq.report_rows(orjson.loads(text)), "json"
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise ReportFailed(f"Canvas' report file could not be read ({exc}).") from None
    try:
        return new_quiz_csv.read(body).rows, "csv"
    except new_quiz_csv.CsvReportError as exc:
        raise ReportFailed(f"Canvas' report file (CSV) could not be read: {exc.message}") \
            from None


async def student_analysis(client, course_id, assignment_id, *, deadline: float,
                           remembered: str | None = None) -> tuple[list, str, bool]:
    """(the report's rows, its form, whether it was started before this call) of one New
    Quiz (see the module docstring). ``deadline`` is a ``time.monotonic()`` value."""
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
            return (*report_file_rows(await client.get_url(file_url, raw=True)), existing)
        if state == "failed":
            detail = (progress or {}).get("message")
            raise ReportFailed("Canvas could not generate the New Quizzes report"
                               + (f" ({detail})." if detail else "."))
        if time.monotonic() >= deadline:
            raise ReportPending(url)
        delay = await _pause(delay, deadline)


# ------------------------------------------------------------------ several reports

def graded_launches(submissions, assignment_id) -> set[str]:
    """Students with a scored New Quiz submission of ``assignment_id`` (not excused)."""
    aid = str(assignment_id)
    return {str(s["user_id"]) for s in submissions or ()
            if isinstance(s, dict) and s.get("user_id") is not None
            and str(s.get("assignment_id")) == aid and s.get("submission_type") == LAUNCH
            and s.get("workflow_state") in SCORED_STATES and not s.get("excused")}


@dataclass
class ReportOutcome:
    """What became of each New Quiz's report. ``rows``: {quiz id: report rows} downloaded and
    not yet judged; ``pending``: {quiz id: Progress URL or None} (not ready before the
    deadline); ``failed``,
    ``restricted`` (403): {quiz id: reason}; ``recheck``: quiz ids whose report was one
    already running when we asked, which may predate the latest grades; ``csv``: quiz ids read
    from the CSV form. After ``judge``: ``accepted`` {quiz id: {rows, items}} of the reports
    that passed (their ``results`` are built from them), ``incomplete`` {quiz id: reason} of
    those refused, ``outside`` {quiz id: responses to items not in the item list}. The next
    sync asks again for every quiz but the accepted ones (``pending_entries``)."""

    rows: dict = field(default_factory=dict)
    pending: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)
    restricted: dict = field(default_factory=dict)
    recheck: list = field(default_factory=list)
    csv: list = field(default_factory=list)
    accepted: dict = field(default_factory=dict)
    incomplete: dict = field(default_factory=dict)
    outside: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._results: dict | None = None        # built from ``accepted`` (``results``)

    def judge(self, questions: dict, submissions) -> "ReportOutcome":
        """Read every downloaded report against its quiz's items (``questions``: {quiz id:
        normalized items}) and the assignments' ``submissions`` (complete for these
        assignments: the graded launches of each must all be in its report)."""
        for quiz_id in list(self.rows):
            self.judge_one(quiz_id, questions.get(quiz_id) or [], submissions)
        return self

    def judge_one(self, quiz_id: str, items: list, submissions,
                  parsed: nq.ParsedReport | None = None) -> None:
        """``judge`` for one quiz, whose report is in ``rows`` (and leaves it); ``parsed``:
        its ``check_report`` when already done."""
        rows = self.rows.pop(quiz_id)
        parsed = parsed or nq.check_report(rows, items)
        graded = graded_launches(submissions, nq.assignment_of(quiz_id))
        missing = graded - parsed.students
        matched = parsed.responses - parsed.outside
        if parsed.problems:
            self.incomplete[quiz_id] = (
                f"{len(parsed.problems)} part(s) of Canvas' report could not be read "
                f"(first: {parsed.problems[0]}).")
        elif missing:
            self.incomplete[quiz_id] = (
                f"Canvas' report has rows for {len(parsed.students & graded)} of the "
                f"{len(graded)} students with a graded submission ({len(missing)} missing).")
        elif parsed.responses and not matched and any(q.get("entry_ids") for q in items):
            self.incomplete[quiz_id] = ("none of the items in Canvas' report are in the "
                                        f"quiz's item list ({len(items)} items).")
        else:
            self.accepted[quiz_id] = {"rows": rows, "items": items}
            if parsed.outside:
                self.outside[quiz_id] = parsed.outside

    @property
    def results(self) -> dict:
        """{quiz id: [QuestionResult]} of the accepted reports, built when first asked for
        (like Classic Quizzes' results, from what was fetched)."""
        if self._results is None or set(self._results) != set(self.accepted):
            self._results = {q: nq.parse_report(a["rows"], q, a["items"]).results
                             for q, a in self.accepted.items()}
        return self._results

    def states(self) -> dict[str, dict]:
        """{quiz id: {state, message}}: ``read``, ``pending``, ``failed``, ``restricted`` or
        ``incomplete``, for every New Quiz whose report was asked for."""
        out = {q: {"state": "read", "message": None} for q in self.accepted}
        for state, reasons in (("failed", self.failed), ("restricted", self.restricted),
                               ("incomplete", self.incomplete)):
            out.update({q: {"state": state, "message": m} for q, m in reasons.items()})
        out.update({q: {"state": "pending", "message": "Canvas is still preparing the report."}
                    for q in self.pending})
        return out

    def notes(self, titles: dict) -> list[str]:
        """Sentences for a sync job's ``errors``: which New Quizzes could not be read, why,
        and what happens next."""
        def name(quiz_id):
            return f"New Quiz '{titles.get(quiz_id) or quiz_id}'"

        out = []
        for quiz_id, reason in sorted(self.failed.items()):
            out.append(f"{name(quiz_id)}: {reason} Its earlier results are kept; the next sync "
                       "asks Canvas again.")
        for quiz_id, reason in sorted(self.incomplete.items()):
            out.append(f"{name(quiz_id)}: {reason} Nothing from this report was stored and the "
                       "quiz's earlier results are kept; the next sync asks Canvas again.")
        for quiz_id, reason in sorted(self.restricted.items()):
            out.append(f"{name(quiz_id)}: the results report was not read. {reason} Its earlier "
                       "results are kept. Sync with an active teacher's token, or upload the "
                       "quiz's Student Analysis CSV exported from Canvas.")
        for quiz_id in sorted(self.pending):
            out.append(f"{name(quiz_id)}: Canvas is still preparing its results report; they "
                       "will be read by the next sync.")
        return out

    def pending_entries(self) -> list[dict]:
        """What a sync keeps to ask for again next time, as plain documents
        ``[{quiz_id, progress_url}]``: the pending reports (with their Progress) and every
        other quiz whose results were not stored."""
        entries = dict(self.pending)
        for ids in (self.failed, self.restricted, self.incomplete, self.recheck):
            entries.update({q: None for q in ids or () if q not in entries})
        return [{"quiz_id": q, "progress_url": url} for q, url in sorted(entries.items())]


def remembered(entries) -> dict:
    """``ReportOutcome.pending_entries`` back as ``{quiz id: Progress URL or None}``."""
    return {e["quiz_id"]: e.get("progress_url") for e in entries or []
            if isinstance(e, dict) and isinstance(e.get("quiz_id"), str)}


async def fetch_reports(client, course_id, quiz_ids, *, wait_seconds: float,
                        remembered: dict | None = None, on_done=None) -> ReportOutcome:
    """Student analysis reports of the New Quizzes ``quiz_ids`` (``nq-`` ids), concurrently,
    not yet judged (``ReportOutcome.judge``). ``remembered``: {quiz id: Progress URL} from the
    previous sync's pending reports. A bad token still raises (the user has to act on it); a
    report that is refused, fails or cannot be read is recorded with the reason."""
    remembered = remembered or {}
    deadline = time.monotonic() + max(0.0, wait_seconds)
    outcome = ReportOutcome()

    async def one(quiz_id: str) -> None:
        try:
            with urgent():          # the report waits are the longest chain of a sync
                rows, form, existing = await student_analysis(
                    client, course_id, nq.assignment_of(quiz_id), deadline=deadline,
                    remembered=remembered.get(quiz_id))
            outcome.rows[quiz_id] = rows
            if form == "csv":
                outcome.csv.append(quiz_id)
            if existing:
                outcome.recheck.append(quiz_id)
        except ReportPending as exc:
            outcome.pending[quiz_id] = exc.progress_url
        except ReportFailed as exc:
            outcome.failed[quiz_id] = exc.message
        except CanvasTokenInvalid:
            raise
        except CanvasPermissionDenied:
            outcome.restricted[quiz_id] = RESTRICTED
        except CanvasError as exc:
            outcome.failed[quiz_id] = exc.message
        finally:
            if on_done is not None:
                on_done()

    await gather_all([one(q) for q in quiz_ids])
    return outcome


async def read_reports(client, course_id, quiz_ids, *, wait_seconds: float,
                       questions: dict, submissions: list | None,
                       remembered: dict | None = None, on_done=None) -> ReportOutcome:
    """``fetch_reports``, judged. Alongside the report waits it fetches what the caller does
    not have: the items of quizzes not in ``questions`` (or stored without entry ids), and,
    when ``submissions`` is None (an incremental sync's are only a delta), each assignment's
    complete submissions."""
    quiz_ids = list(quiz_ids)
    need_items = [q for q in quiz_ids if not nq.has_entry_ids(questions.get(q))]

    async def items(quiz_id):
        try:
            return await quiz_questions(client, course_id, quiz_id)
        except CanvasTokenInvalid:
            raise
        except CanvasError as exc:
            return exc

    async def complete():
        if submissions is not None:
            return submissions
        try:
            chunks = await gather_all([client.list_submissions_with_history(
                course_id, [nq.assignment_of(q)]) for q in quiz_ids])
        except CanvasTokenInvalid:
            raise
        except CanvasError as exc:
            return exc
        return [s for chunk in chunks for s in chunk]

    outcome, fetched, complete_subs = await gather_all([
        fetch_reports(client, course_id, quiz_ids, wait_seconds=wait_seconds,
                      remembered=remembered, on_done=on_done),
        gather_all([items(q) for q in need_items]), complete()])
    known = dict(questions)
    for quiz_id, got in zip(need_items, fetched):
        if isinstance(got, CanvasError):
            if outcome.rows.pop(quiz_id, None) is not None:
                outcome.failed[quiz_id] = f"its item list could not be read ({got.message})."
        else:
            known[quiz_id] = got
    if isinstance(complete_subs, CanvasError):
        for quiz_id in list(outcome.rows):
            del outcome.rows[quiz_id]
            outcome.failed[quiz_id] = ("its submissions could not be read to check the report "
                                       f"({complete_subs.message}).")
        complete_subs = []
    return outcome.judge(known, complete_subs)
