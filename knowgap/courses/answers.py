"""Which questions a student got wrong, from Canvas ``submission_history``. Pure, no I/O.

Canvas reports per-question correctness only inside an assignment submission's
``submission_history[].submission_data`` (``correct`` is ``true``, ``false``, ``"partial"``,
``"undefined"`` for essays/file uploads awaiting a human, or ``"no_score"`` for text-only
items). KnowGap recommends videos for what the student has not mastered, so:

* ``false`` and ``"partial"`` are incorrect (half right is still a gap);
* ``"undefined"`` / ``"no_score"`` are ignored (no evidence either way);
* only the latest attempt counts (what the student knows now, not what they fixed since).
"""
from __future__ import annotations

INCORRECT_STRINGS = ("false", "partial")


def latest_attempt(submission: dict) -> dict | None:
    """The history entry with the highest ``attempt`` that carries ``submission_data``."""
    history = submission.get("submission_history") or []
    if not history and submission.get("submission_data") is not None:
        history = [submission]
    best = None
    for entry in history:
        if not isinstance(entry, dict) or entry.get("submission_data") is None:
            continue
        if best is None or (entry.get("attempt") or 0) >= (best.get("attempt") or 0):
            best = entry
    return best


def classify(submission_data: list) -> tuple[list[str], list[str]]:
    """(incorrect question ids, correct question ids) of one attempt, ids as strings."""
    wrong: list[str] = []
    right: list[str] = []
    for item in submission_data or []:
        if not isinstance(item, dict) or item.get("question_id") is None:
            continue
        correct = item.get("correct")
        qid = str(item["question_id"])
        if correct is False or (isinstance(correct, str) and correct in INCORRECT_STRINGS):
            wrong.append(qid)
        elif correct is True or correct == "true":
            right.append(qid)
    return wrong, right


def incorrect_from_submission(submission: dict) -> dict | None:
    """``{attempt, graded_at, incorrect, correct}`` for the latest graded attempt, or None
    when the student has not submitted anything with per-question data."""
    entry = latest_attempt(submission)
    if entry is None:
        return None
    wrong, right = classify(entry.get("submission_data"))
    return {"attempt": entry.get("attempt"), "graded_at": entry.get("graded_at"),
            "incorrect": wrong, "correct": right}
