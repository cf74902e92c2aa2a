"""Serialised-row caches of the sandbox's heavy list endpoints.

Why: a submissions page with ``submission_history`` is ~3.6 KB of JSON per row, built from
several ``iso()`` calls and a ``json.dumps``; rebuilding every row of the requested assignments
for each page cost ~13 ms of server CPU per 100-row page (105 ms with 10 assignments batched).
The server runs every handler on one event loop, so that CPU, not the configured latency, set
the pace of any concurrent client benchmark.  A real Canvas reads rows from a database; a fake
Canvas's own CPU must not be what a client benchmark measures.

What is cached (per server, built once and reused until the world changes):
- assignment submissions per ``(quiz, with history?, with user?)``: for every enrolled student
  the row's JSON bytes plus what the filters need (``graded_at``/``submitted_at`` of the latest
  attempt, ``workflow_state``);
- enrollments per course: each enrollment's JSON bytes with and without ``grades``.
Handlers filter the cached rows and join the bytes of one page (``b",".join``), so a page costs
well under a millisecond.  Cheap endpoints (quizzes, questions, course) are built per request.

Invalidation: each list carries a signature: ``world.version`` (bumped by every ``World``
mutation method) plus the structure it was built from (student ids, the identity and attempt
count and latest grade of each ``QuizWork``, the quiz's assignment id / scoring policy / due date; enrollment
identities, types, states and grades).  On a mismatch only rows whose own part changed
are serialised again (``add_attempt`` re-serialises one submission and one enrollment), unless
``world.touched`` changed: ``World.touch()`` drops everything.  Appending attempts, adding
students or replacing objects is picked up automatically; after editing fields of existing
objects in place, call ``world.touch()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .world import Quiz, World

_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


def dumps(data) -> bytes:
    return _DUMPS(data).encode()


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    user_id: int
    assignment_id: int
    graded_at: float | None          # latest attempt's graded_at (None: no attempt)
    submitted_at: float | None
    workflow_state: str
    blob: bytes                      # the row's JSON


@dataclass(frozen=True, slots=True)
class EnrollmentRow:
    enrollment: object
    with_grades: bytes
    without_grades: bytes


class ResponseCache:
    """Per-server cache of serialised rows (see module docstring)."""

    def __init__(self) -> None:
        self._submissions: dict[tuple, tuple[tuple, list[SubmissionRow]]] = {}
        self._enrollments: dict[int, tuple[tuple, list[EnrollmentRow]]] = {}

    def clear(self) -> None:
        self._submissions.clear()
        self._enrollments.clear()

    # ------------------------------------------------------------------ submissions
    def submissions(self, world: World, quiz: Quiz, students: tuple[int, ...], *, history: bool,
                    with_user: bool) -> list[SubmissionRow]:
        """Rows of ``quiz``'s assignment for ``students`` (sorted ids), one per student.

        Call with ``world.lock`` held.
        """
        from .api import submission_json, user_json      # api imports this module

        work = world.work
        works = [work.get((quiz.id, s)) for s in students]
        shape = tuple((id(w), len(w.attempts), w.attempts[-1].graded_at, w.attempts[-1].score)
                      if w is not None and w.attempts else (id(w), 0) for w in works)
        quiz_sig = (world.touched, quiz.assignment_id, quiz.scoring_policy, quiz.due_at,
                    quiz.course_id, quiz.engine)
        sig = (world.version, quiz_sig, students, shape)
        key = (quiz.id, history, with_user)
        hit = self._submissions.get(key)
        if hit is not None and hit[0] == sig:
            return hit[1]
        # Rebuild the list, re-serialising only rows whose work changed (a new attempt).
        old = {}
        if hit is not None and hit[0][1] == quiz_sig:
            old = {(r.user_id, row_shape): r for r, row_shape in zip(hit[1], hit[0][3])}
        rows = []
        for s, w, row_shape in zip(students, works, shape):
            row = old.get((s, row_shape))
            if row is None:
                d = submission_json(world, quiz, s, w, history)
                if with_user:
                    d["user"] = user_json(world.users[s])
                a = w.latest if w is not None else None
                row = SubmissionRow(s, quiz.assignment_id, a.graded_at if a else None,
                                    a.submitted_at if a else None, d["workflow_state"], dumps(d))
            rows.append(row)
        self._submissions[key] = (sig, rows)
        return rows

    # ------------------------------------------------------------------ enrollments
    def enrollments(self, world: World, course_id: int) -> list[EnrollmentRow]:
        """Every enrollment of the course (``world.enrollments_in`` order), serialised.

        Call with ``world.lock`` held.
        """
        from .api import enrollment_json

        ens = world.enrollments_in(course_id)
        shape = tuple((id(e), e.type, e.enrollment_state,
                       tuple(e.grades.items()) if e.grades else None) for e in ens)
        sig = (world.version, world.touched, shape)
        hit = self._enrollments.get(course_id)
        if hit is not None and hit[0] == sig:
            return hit[1]
        old = {}
        if hit is not None and hit[0][1] == world.touched:
            old = dict(zip(hit[0][2], hit[1]))
        rows = []
        for e, row_shape in zip(ens, shape):
            row = old.get(row_shape)
            if row is None:
                with_grades = dumps(enrollment_json(world, e, grades=True))
                without = (with_grades if e.grades is None
                           else dumps(enrollment_json(world, e, grades=False)))
                row = EnrollmentRow(e, with_grades, without)
            rows.append(row)
        self._enrollments[course_id] = (sig, rows)
        return rows

    # ------------------------------------------------------------------ warm-up
    def warm(self, world: World) -> None:
        """Build the rows a course sync reads (submissions with history, enrollments)."""
        with world.lock:
            for course_id in list(world.courses):
                students = tuple(sorted(world.student_ids(course_id)))
                for quiz in world.course_quizzes(course_id):
                    self.submissions(world, quiz, students, history=True, with_user=False)
                self.enrollments(world, course_id)
