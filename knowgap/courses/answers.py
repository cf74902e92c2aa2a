"""Which questions a student got wrong, from ``QuestionResult`` records. Pure, no I/O.

The records come from Classic Quizzes' ``submission_history`` and New Quizzes' student
analysis reports alike (``knowgap.canvas.results``). KnowGap recommends videos for what the
student has not mastered, so:

* a graded answer with less than full credit is incorrect, and so is Canvas' ``"partial"``
  (half right is still a gap);
* ungraded answers (essays and file uploads awaiting a human, text-only items) are ignored:
  no evidence either way;
* only the latest attempt of each quiz counts (what the student knows now, not what they
  fixed since).
"""
from __future__ import annotations

from typing import Iterable

from knowgap.canvas.results import QuestionResult, latest_attempts
from knowgap.topics.text import html_to_text

#: The longest typed answer kept (an essay is cut; the tutor sends at most 500 characters).
MAX_TYPED_CHARS = 1000


def incorrect_rows(results: Iterable[QuestionResult]) -> list[dict]:
    """``{student_id, quiz_id, attempt, graded_at, incorrect, correct, picked}`` per (student,
    quiz) from the latest attempt; question ids in the order they were answered; ``picked``:
    ``[{question_id, answer_ids, text?}]``, the choices of each wrong answer and what the
    student typed (plain text, at most ``MAX_TYPED_CHARS``): what the tutor tells the model
    the student answered."""
    rows = []
    for (student_id, quiz_id), latest in latest_attempts(results).items():
        graded_at = next((r.graded_at for r in latest if r.graded_at), None)
        rows.append({"student_id": student_id, "quiz_id": quiz_id,
                     "attempt": latest[0].attempt, "graded_at": graded_at,
                     "incorrect": [r.question_id for r in latest if r.is_wrong],
                     "correct": [r.question_id for r in latest if r.is_right],
                     "picked": [_picked(r) for r in latest
                                if r.is_wrong and (r.answer_ids or r.answer_text)]})
    return rows


def _picked(result: QuestionResult) -> dict:
    out = {"question_id": result.question_id, "answer_ids": list(result.answer_ids)}
    typed = html_to_text(result.answer_text)
    if len(typed) > MAX_TYPED_CHARS:
        typed = typed[:MAX_TYPED_CHARS - 1] + "…"
    if typed:
        out["text"] = typed
    return out
