"""Everything a course sync needs from Canvas, fetched concurrently: ``fetch_course_snapshot``.

Why one function for both AchieveUp and KnowGap syncs: the expensive part is the same (quizzes,
their questions, students with grades, and per-question results), and doing it once, right,
keeps both consumers off the wrong endpoints. Per-question correctness comes ONLY from
``students/submissions?include[]=submission_history`` (each history entry's
``submission_data``); ``quiz_submissions/:id/questions`` has no ``correct`` field and is never
used (it made every student 0% mastered in an earlier system).

Concurrency plan (the client keeps what Canvas's bucket allows in flight, at most 12 per token):
1. at once: both quiz lists (Classic and New Quizzes), course (with ``total_students``) and the
   student list (its pages chain); the moment the New Quizzes are known, their student analysis
   reports are asked for (Canvas builds them in the background: the longest wait) and judged
   once the items and submissions are in (``quiz_sources.ReportOutcome.judge``);
2. the moment the quizzes are back: the submission batches first (``per_page=100`` chains
   whose pages must follow one another, so they are the critical path), then the questions of
   every quiz (one page each, filling the gaps), without waiting for the students.
Submission batches hold ``assignment_ids[]`` chosen so each batch is about one page when the
course is small (fewer requests) and one assignment per batch when it is large (more chains in
parallel, each page full); the total number of pages is the same either way.

Incremental sync: pass ``graded_since`` (ISO time; use the previous snapshot's
``next_graded_since``) and ``previous`` (the previous ``CourseSnapshot``, or its ``to_dict()``).
Then ``submissions`` holds only submissions graded after the cursor (a delta: upsert them), the
course record is reused, questions are re-fetched only for quizzes that are new or whose
``question_count``/``points_possible``/``published``/``version_number`` changed, and student
grades are re-read only for the students that have new graded work (a full student list when
that is cheaper). A periodic full sync (no ``graded_since``) picks up everything else (renamed
courses, edited question text with an unchanged count, new students without work).
"""
from __future__ import annotations

import asyncio
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from knowgap.canvas import quiz_sources
from knowgap.canvas.new_quizzes import (assignment_of, check_report, has_entry_ids,
                                       is_new_quiz_id)
from knowgap.canvas.quiz_sources import ReportOutcome
from knowgap.canvas.results import NEW, QuestionResult, classic_results
from knowgap.canvas.tasks import first_leaf, gather_all

FULL_BATCH_MAX = 10          # assignment ids per submissions request in a full sync
INCREMENTAL_BATCH = 50       # small deltas: one request for up to 50 quizzes
PER_PAGE = 100


@dataclass
class CourseSnapshot:
    course_id: str
    course: dict
    quizzes: list
    questions: dict                  # {quiz id (as Canvas sends it): [question]}
    students: list                   # StudentEnrollment objects with ``user`` and ``grades``
    submissions: list                # assignment submissions with ``submission_history``
    graded_since: str | None = None
    incremental: bool = False
    fetched_at: str = ""
    reused_question_quizzes: list = field(default_factory=list)
    requests: int = 0
    #: New Quizzes' reports: what became of each (``results`` of those read, the others with
    #: their reasons, see ``quiz_sources.ReportOutcome``)
    report_outcome: ReportOutcome = field(default_factory=ReportOutcome)
    #: why Canvas refused to list the course's New Quizzes (403), or None
    new_quizzes_refused: str | None = None

    @property
    def reports(self) -> dict:
        """{New Quiz id: [QuestionResult]} of the reports read and accepted."""
        return self.report_outcome.results

    @property
    def next_graded_since(self) -> str | None:
        """Cursor for the next incremental sync: the latest ``graded_at`` seen (server clock)."""
        latest = self.graded_since
        for sub in self.submissions:
            for entry in [sub, *(sub.get("submission_history") or [])]:
                stamp = entry.get("graded_at")
                if isinstance(stamp, str) and (latest is None or _ts(stamp) > _ts(latest)):
                    latest = stamp
        return latest

    def results(self) -> list[QuestionResult]:
        """Every per-question result the snapshot holds (see ``results_of``)."""
        return results_of(self.quizzes, self.questions, self.submissions, self.reports)

    def to_dict(self) -> dict:
        """JSON/Mongo-safe form (question keys as strings); ``from_dict`` reverses it."""
        data = asdict(self)
        data["questions"] = {str(k): v for k, v in self.questions.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CourseSnapshot":
        ids = {str(q.get("id")): q.get("id") for q in data.get("quizzes") or []}
        questions = {ids.get(str(k), k): v for k, v in (data.get("questions") or {}).items()}
        known = {f for f in cls.__dataclass_fields__}
        fields = {k: v for k, v in data.items() if k in known}
        if isinstance(fields.get("report_outcome"), dict):
            fields["report_outcome"] = ReportOutcome(**fields["report_outcome"])
        return cls(**{**fields, "questions": questions})


def results_of(quizzes: list, questions: dict, submissions: list,
               reports: dict) -> list[QuestionResult]:
    """``QuestionResult`` records of Classic Quizzes (from the submissions' histories) and of
    New Quizzes (``reports``: {quiz id: results of its judged report}) alike. ``questions``:
    {quiz id: [question]} as fetched (points possible for partial credit)."""
    classic = {str(q["assignment_id"]): str(q["id"]) for q in quizzes
               if q.get("assignment_id") and q.get("source") != NEW}
    points = {str(x.get("id")): x.get("points_possible")
              for items in (questions or {}).values() for x in items or []}
    out = classic_results(submissions, classic, points)
    for results in (reports or {}).values():
        out.extend(results)
    return out


def _ts(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def quiz_signature(quiz: dict) -> tuple:
    """What must change on a quiz before its questions are re-fetched in an incremental sync."""
    return (quiz.get("question_count"), quiz.get("points_possible"), quiz.get("published"),
            quiz.get("version_number"), quiz.get("updated_at"))


def _batches(ids: list, size: int) -> list[list]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def full_batch_size(total_students: Any) -> int:
    """Assignment ids per submissions request: ~one page per batch, one id for big courses."""
    if not isinstance(total_students, int) or total_students <= 0:
        return 5
    return max(1, min(FULL_BATCH_MAX, PER_PAGE // total_students))


class _Progress:
    def __init__(self, callback: Callable[[float], None] | None):
        self.callback, self.done, self.total = callback, 0, 0

    def add(self, n: int) -> None:
        self.total += n

    def tick(self) -> None:
        self.done += 1
        if self.callback is not None and self.total:
            try:
                self.callback(min(1.0, self.done / self.total))
            except Exception:                  # a progress hook must never break a sync
                pass


def reports_due(quizzes: list, submissions: list, known: set, pending) -> list[str]:
    """New Quizzes whose report an incremental sync asks for: those with a submission graded
    since the cursor (in ``submissions``), new ones (not in ``known`` quiz ids), and the
    previous sync's pending ones."""
    graded = {str(s.get("assignment_id")) for s in submissions if s.get("graded_at")}
    return [q["id"] for q in quizzes
            if q.get("source") == NEW and q.get("published") is not False
            and (str(q.get("assignment_id")) in graded or q["id"] in pending
                 or q["id"] not in known)]


async def fetch_course_snapshot(client, course_id, *, graded_since: str | None = None,
                                on_progress: Callable[[float], None] | None = None,
                                previous: "CourseSnapshot | dict | None" = None,
                                batch_size: int | None = None, report_wait: float = 120.0,
                                pending_reports: dict | None = None) -> CourseSnapshot:
    """Fetch course, quizzes, questions, students and submissions (see module docstring).

    New Quizzes (``source: "new"``, ids ``nq-…``) come with the Classic ones: their items are
    fetched as questions, their assignments' submissions with the others, and their per-item
    results as student analysis reports (``quiz_sources``, waiting at most ``report_wait``
    seconds): in a full sync for every published New Quiz, started at once; in an incremental
    one only for those ``reports_due`` names, once the submission delta is known (with those
    quizzes' complete submissions, to check the reports). ``pending_reports`` ({quiz id:
    Progress URL or None}) are the previous sync's unfinished ones: asked for again, by their
    Progress when it is known. Items stored without their entry ids are fetched again.

    ``on_progress(fraction)`` is called with 0..1 as parts complete.
    """
    if isinstance(previous, dict):
        previous = CourseSnapshot.from_dict(previous)
    incremental = bool(graded_since) and previous is not None
    requests_before = client.stats["requests"]
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    progress = _Progress(on_progress)
    cid = str(course_id)

    async def tracked(coro):
        result = await coro
        progress.tick()
        return result

    old_sigs = ({q.get("id"): quiz_signature(q) for q in previous.quizzes} if previous else {})
    questions: dict = {}
    reused: list = []
    to_fetch: list = []
    submissions: list = []
    students = None
    pending_reports = dict(pending_reports or {})
    reports_task = None

    def start_reports(ids: list, **context):
        """The reports of ``ids``: not yet judged, or judged by ``read_reports`` when the
        ``questions`` and ``submissions`` it needs are given."""
        progress.add(len(ids))
        read = quiz_sources.read_reports if context else quiz_sources.fetch_reports
        return read(client, cid, ids, wait_seconds=report_wait, remembered=pending_reports,
                    on_done=progress.tick, **context)

    try:
        async with asyncio.TaskGroup() as tg:
            # 1. everything that needs no ids, at once: quizzes, course, students
            progress.add(1 if incremental else 3)
            if incremental:
                course = previous.course
                course_task = None
            else:
                course_task = tg.create_task(tracked(client.get(
                    f"/courses/{cid}", {"include[]": ["syllabus_body", "total_students"]})))
                students_task = tg.create_task(tracked(client.list_students(cid)))
            classic_task = tg.create_task(tracked(client.list_quizzes(cid)))
            new, refused = await quiz_sources.new_quiz_listing(client, cid)
            if not incremental:
                # New Quizzes' reports first: Canvas builds them while everything else runs
                reports_task = tg.create_task(start_reports(
                    [q["id"] for q in new if q.get("published") is not False]))
            quizzes = list(await classic_task) + new

            # 2. as soon as the quizzes are known: the submission chains first (several
            #    pages each, in sequence: the critical path), then the questions (one page
            #    each, filling the gaps; unchanged quizzes' questions are reused in
            #    incremental mode)
            for quiz in quizzes:
                qid = quiz.get("id")
                if (incremental and qid in previous.questions
                        and old_sigs.get(qid) == quiz_signature(quiz)
                        and (not is_new_quiz_id(qid) or has_entry_ids(previous.questions[qid]))):
                    questions[qid] = previous.questions[qid]
                    reused.append(qid)
                else:
                    to_fetch.append(qid)
            progress.add(len(to_fetch))
            if course_task is not None:
                course = await course_task           # sent with the quizzes: already back
            assignment_ids = [q["assignment_id"] for q in quizzes if q.get("assignment_id")]
            size = batch_size or (INCREMENTAL_BATCH if incremental
                                  else full_batch_size((course or {}).get("total_students")))
            batches = _batches(assignment_ids, size)
            progress.add(len(batches))
            submission_tasks = [tg.create_task(tracked(client.list_submissions_with_history(
                cid, batch, graded_since=graded_since))) for batch in batches]
            question_tasks = [tg.create_task(tracked(quiz_sources.quiz_questions(client, cid, qid)))
                              for qid in to_fetch]
            if reports_task is not None:
                # each report is judged once its items and submissions are in, while the rest
                # of the course is still arriving (reading a report is the sync's CPU work)
                reports_task = tg.create_task(_judge_as_ready(
                    reports_task, dict(zip(to_fetch, question_tasks)),
                    {str(aid): task for batch, task in zip(batches, submission_tasks)
                     for aid in batch}))
    except BaseExceptionGroup as group:
        raise first_leaf(group) from None

    submissions = [s for task in submission_tasks for s in task.result()]
    for qid, task in zip(to_fetch, question_tasks):
        questions[qid] = task.result()
    questions = {q.get("id"): questions[q.get("id")] for q in quizzes if q.get("id") in questions}

    if incremental:
        # 3. the delta is known: reports of the New Quizzes it touches, and fresh grades of
        #    the students with new graded work only, together
        reports, students = await gather_all([
            start_reports(reports_due(quizzes, submissions,
                                      {q.get("id") for q in previous.quizzes}, pending_reports),
                          questions=questions, submissions=None),
            _refresh_students(client, cid, previous.students, submissions, progress)])
    else:
        reports, students = reports_task.result(), students_task.result()

    return CourseSnapshot(course_id=cid, course=course, quizzes=quizzes, questions=questions,
                          students=students, submissions=submissions, graded_since=graded_since,
                          incremental=incremental, fetched_at=started,
                          reused_question_quizzes=reused,
                          requests=client.stats["requests"] - requests_before,
                          report_outcome=reports, new_quizzes_refused=refused)


async def _judge_as_ready(reports_task, question_tasks: dict, batch_of: dict) -> ReportOutcome:
    """The reports, judged: each read against its items as soon as both are in (the CPU work,
    done while the submission pages are still arriving), then checked against its
    assignment's submissions once their batch is done."""
    outcome = await reports_task
    checks = {}
    for quiz_id, rows in list(outcome.rows.items()):
        items = await question_tasks[quiz_id] if quiz_id in question_tasks else []
        checks[quiz_id] = (items, check_report(rows, items))
        await asyncio.sleep(0)             # let the responses that arrived meanwhile in
    for quiz_id, (items, parsed) in checks.items():
        task = batch_of.get(assignment_of(quiz_id))
        outcome.judge_one(quiz_id, items, await task if task is not None else [], parsed)
    return outcome


async def _refresh_students(client, cid: str, old: list, submissions: list,
                            progress: _Progress) -> list:
    changed = sorted({s.get("user_id") for s in submissions if s.get("user_id") is not None},
                     key=str)
    if not changed:
        return list(old)
    full_pages = max(1, math.ceil(len(old) / PER_PAGE))
    if len(changed) >= full_pages:
        progress.add(1)
        result = await client.list_students(cid)
        progress.tick()
        return result
    progress.add(len(changed))

    async def one(uid):
        result = await client.list_enrollments(cid, user_id=uid, types=["StudentEnrollment"])
        progress.tick()
        return result

    fresh: dict = {}
    for enrollments in await gather_all([one(uid) for uid in changed]):
        for enrollment in enrollments:
            fresh[enrollment.get("user_id")] = enrollment
    merged = [fresh.pop(e.get("user_id"), e) for e in old]
    return merged + list(fresh.values())
