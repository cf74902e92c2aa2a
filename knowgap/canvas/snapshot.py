"""Everything a course sync needs from Canvas, fetched concurrently: ``fetch_course_snapshot``.

Why one function for both AchieveUp and KnowGap syncs: the expensive part is the same (quizzes,
their questions, students with grades, and per-question results), and doing it once, right,
keeps both consumers off the wrong endpoints. Per-question correctness comes ONLY from
``students/submissions?include[]=submission_history`` (each history entry's
``submission_data``); ``quiz_submissions/:id/questions`` has no ``correct`` field and is never
used (it made every student 0% mastered in an earlier system).

Concurrency plan (the client keeps what Canvas's bucket allows in flight, at most 12 per token):
1. at once: quizzes, course (with ``total_students``) and the student list (its pages chain);
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
        return cls(**{**{k: v for k, v in data.items() if k in known}, "questions": questions})


async def gather_all(coros: list) -> list:
    """Run coroutines concurrently; on the first failure cancel the rest and raise it.

    ``asyncio.TaskGroup`` gives the cancel-the-siblings behaviour; unwrapping its
    ``ExceptionGroup`` keeps callers' ``except CanvasError`` (and the error envelope) working.
    """
    tasks: list = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(c) for c in coros]
    except BaseExceptionGroup as group:
        raise _first_leaf(group) from None
    return [t.result() for t in tasks]


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_leaf(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


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


async def fetch_course_snapshot(client, course_id, *, graded_since: str | None = None,
                                on_progress: Callable[[float], None] | None = None,
                                previous: "CourseSnapshot | dict | None" = None,
                                batch_size: int | None = None) -> CourseSnapshot:
    """Fetch course, quizzes, questions, students and submissions (see module docstring).

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
            quizzes = await tracked(client.list_quizzes(cid))

            # 2. as soon as the quizzes are known: the submission chains first (several
            #    pages each, in sequence: the critical path), then the questions (one page
            #    each, filling the gaps; unchanged quizzes' questions are reused in
            #    incremental mode)
            for quiz in quizzes:
                qid = quiz.get("id")
                if (incremental and qid in previous.questions
                        and old_sigs.get(qid) == quiz_signature(quiz)):
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
            question_tasks = [tg.create_task(tracked(client.list_questions(cid, qid)))
                              for qid in to_fetch]
    except BaseExceptionGroup as group:
        raise _first_leaf(group) from None

    submissions = [s for task in submission_tasks for s in task.result()]
    if not incremental:
        students = students_task.result()
    for qid, task in zip(to_fetch, question_tasks):
        questions[qid] = task.result()
    questions = {q.get("id"): questions[q.get("id")] for q in quizzes if q.get("id") in questions}

    # 3. incremental: refresh grades of the students with new graded work only
    if incremental:
        students = await _refresh_students(client, cid, previous.students, submissions, progress)

    return CourseSnapshot(course_id=cid, course=course, quizzes=quizzes, questions=questions,
                          students=students, submissions=submissions, graded_since=graded_since,
                          incremental=incremental, fetched_at=started,
                          reused_question_quizzes=reused,
                          requests=client.stats["requests"] - requests_before)


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
