"""When the tutor may discuss a quiz with a student, from Canvas' own data. Pure, no I/O.

The rule (README, "Tutor"): a session is only for a question the student answered wrong in a
*graded* attempt of a quiz that is *closed to them*: they cannot take it again, because

* they have no attempt left: Canvas' ``attempts_left`` of their quiz submission (Classic: the
  quiz's ``allowed_attempts`` minus the attempts taken plus the extra attempts the instructor
  gave them, -1 for unlimited; ``Quizzes::QuizSubmission#attempts_left`` in canvas-lms), or
  for a New Quiz its ``allowed_attempts`` (from its attempt settings) minus their latest graded
  attempt; or
* the quiz's availability has ended (``lock_at`` in the past).

A quiz with attempts left and no end date is still open: the tutor would be a way to answer it,
so it waits. A submission that is being taken right now (``workflow_state`` ``untaken``) is open
whatever the counts say.

Correct answers go to the tutor only when Canvas would show them to the student now
(``answers_visible``: Classic's ``show_correct_answers`` and its dates, ``hide_results``,
``one_time_results``); otherwise the tutor explains the concept without them.
"""
from __future__ import annotations

import datetime as dt

from knowgap.core.clock import parse
from knowgap.core.numbers import finite_float


def _when(value) -> dt.datetime | None:
    return parse(value) if isinstance(value, str) and value else None


def closed_reason(quiz: dict, submission: dict | None, now: dt.datetime) -> str | None:
    """Why the quiz is closed to the student (``"no_attempts_left"`` or ``"locked"``), or None
    while they can still take it. ``submission``: their quiz submission (Classic, with
    ``attempts_left``) or ``{attempt}`` of their latest graded attempt (New Quizzes)."""
    submission = submission or {}
    if submission.get("workflow_state") == "untaken":
        return None                                # an attempt in progress
    lock = _when(quiz.get("lock_at"))
    if lock is not None and lock <= now:
        return "locked"
    left = finite_float(submission.get("attempts_left"))
    if left is None:
        allowed = finite_float(quiz.get("allowed_attempts"))
        taken = finite_float(submission.get("attempt")) or 0
        if allowed is None or allowed < 0:
            return None                            # unlimited (or unknown): still open
        left = max(0.0, allowed - taken)
    if left == 0:
        return "no_attempts_left"
    return None


def answers_visible(quiz: dict, now: dt.datetime) -> bool:
    """Whether Canvas shows this quiz's correct answers to the student now."""
    if quiz.get("show_correct_answers") is False or quiz.get("one_time_results"):
        return False
    if quiz.get("hide_results") == "always":
        return False
    show_at, hide_at = _when(quiz.get("show_correct_answers_at")), _when(
        quiz.get("hide_correct_answers_at"))
    if show_at is not None and show_at > now:
        return False
    return hide_at is None or hide_at > now
