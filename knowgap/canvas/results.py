"""One record per graded answer, whatever quiz engine produced it: ``QuestionResult``.

Canvas reports a student's per-question work in two unrelated shapes: Classic Quizzes inside
``submission_history[].submission_data`` of the assignment submissions, New Quizzes in the
``student_analysis`` report of the New Quizzes Reports API (``knowgap.canvas.new_quizzes``).
Both are turned into this record here, so mastery, badges, KnowGap's wrong answers, risk and
item analysis never branch on the quiz engine. Pure, no I/O.

Fields: ``quiz_id`` and ``question_id`` as stored (New Quizzes' carry the ``nq-`` prefix, see
``new_quizzes``), ``student_id`` (Canvas user id), ``attempt`` (1-based), ``credit`` in [0, 1]
or None when the answer is not graded (essays waiting for the teacher), ``points`` and
``points_possible``, ``graded_at`` (Canvas' ISO string), ``source`` ("classic" | "new"),
``correct`` (Canvas' own verdict: ``True``/``False``/``"partial"``/...; derived from the points
for New Quizzes), ``answer_ids`` (the answer choices picked, for choice questions; empty
for other types), which item analysis uses for distractors, ``note``: why a result is not
what it seems, e.g. a New Quiz item drawn from a bank whose points possible are unknown, and
``answer_text``: what the student typed where no choice id says it (short answers, numbers,
essays, unmatched blanks; None otherwise), which the tutor shows as the student's answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from knowgap.core.numbers import finite_float

CLASSIC = "classic"
NEW = "new"

_UNGRADED = frozenset({"undefined", "no_score", "", "none", "null"})


@dataclass(frozen=True, slots=True)
class QuestionResult:
    quiz_id: str
    question_id: str
    student_id: str
    attempt: int
    credit: Optional[float]
    points: Optional[float]
    points_possible: Optional[float]
    graded_at: Optional[str]
    source: str
    correct: bool | str | None = None
    answer_ids: tuple[str, ...] = ()
    note: Optional[str] = None
    answer_text: Optional[str] = None

    @property
    def is_wrong(self) -> bool:
        """A gap KnowGap should teach: graded and not fully right (half right is still a gap,
        also when the points needed for its credit are unknown)."""
        if self.correct == "partial":
            return True
        return self.credit is not None and self.credit < 1.0

    @property
    def is_right(self) -> bool:
        return self.credit is not None and not self.is_wrong


# ------------------------------------------------------------------ credit

def _ratio(points, points_possible) -> Optional[float]:
    pts = finite_float(points)
    possible = finite_float(points_possible)
    if pts is None or possible is None or possible <= 0:
        return None
    return min(1.0, max(0.0, pts / possible))


def normalize_correct(correct, points=None, points_possible=None) -> Optional[float]:
    """Credit in [0, 1] for one Canvas answer, or None when it is not graded.

    * ``True`` / ``"true"`` -> 1.0, ``False`` / ``"false"`` -> 0.0 (Canvas' verdict wins even
      if ``points`` disagree, e.g. a question worth 0 points).
    * ``"partial"`` -> points / points_possible clamped to [0, 1]; None if either is missing,
      because inventing a number would bias mastery.
    * ``"undefined"`` / ``"no_score"`` (essay or file upload waiting for the teacher) -> None:
      counting them as 0 would punish students for the teacher's grading backlog.
    * Anything else (e.g. ``"defined"``, which Canvas writes once a teacher scores a manually
      graded question, or a missing ``correct``) -> the points ratio if it can be computed,
      else None.
    """
    if isinstance(correct, bool):
        return 1.0 if correct else 0.0
    if isinstance(correct, str):
        key = correct.strip().lower()
        if key == "true":
            return 1.0
        if key == "false":
            return 0.0
        if key in _UNGRADED:
            return None
        return _ratio(points, points_possible)  # "partial", "defined", unknown markers
    return _ratio(points, points_possible)


def verdict(credit: Optional[float]) -> bool | str | None:
    """Canvas-style ``correct`` marker for a credit computed from points (New Quizzes)."""
    if credit is None:
        return None
    if credit >= 1.0:
        return True
    return "partial" if credit > 0.0 else False


# ------------------------------------------------------------------ Classic Quizzes

def classic_answer_ids(item: dict) -> tuple[str, ...]:
    """Choice ids picked in one ``submission_data`` entry: ``answer_id`` (multiple choice,
    true/false), ``answer_<id>: "1"`` (multiple answers) and ``answer_id_for_<blank>``
    (dropdowns, fill in blanks)."""
    picked: list[str] = []
    if item.get("answer_id") is not None:
        picked.append(str(item["answer_id"]))
    for key, value in item.items():
        if key.startswith("answer_id_for_"):
            if value is not None:
                picked.append(str(value))
        elif key.startswith("answer_") and key[7:].isdigit() and value == "1":
            picked.append(key[7:])
    return tuple(dict.fromkeys(picked))


def classic_answer_text(item: dict) -> Optional[str]:
    """What the student typed in one ``submission_data`` entry where no choice id says it:
    ``text`` without an ``answer_id`` (short answer, numerical, essay HTML) and each
    ``answer_for_<blank>`` whose ``answer_id_for_<blank>`` is null (a blank typed but matching
    no answer), as ``<blank>: <text>``."""
    parts: list[str] = []
    text = item.get("text")
    if isinstance(text, str) and text.strip() and item.get("answer_id") is None:
        parts.append(text.strip())
    for key, value in item.items():
        if key.startswith("answer_for_") and isinstance(value, str) and value.strip() \
                and item.get(f"answer_id_for_{key[11:]}") is None:
            parts.append(f"{key[11:]}: {value.strip()}")
    return "; ".join(parts) or None


def classic_results(submissions: Iterable[dict], quiz_by_assignment: dict,
                    points_by_question: dict) -> list[QuestionResult]:
    """Results of every attempt in the submissions' ``submission_history``.

    ``quiz_by_assignment``: ``{assignment id (str): quiz id (str)}`` of the Classic Quizzes;
    submissions of other assignments are skipped. ``points_by_question``: ``{question id
    (str): points_possible}`` (partial credit needs it). A (quiz, question, attempt) seen twice
    keeps the last entry.
    """
    out: dict = {}
    for sub in submissions or []:
        quiz_id = quiz_by_assignment.get(str(sub.get("assignment_id")))
        sid = sub.get("user_id")
        if quiz_id is None or sid is None:
            continue
        for entry in sub.get("submission_history") or [sub]:
            data = entry.get("submission_data")
            attempt = entry.get("attempt")
            if not data or attempt is None:
                continue
            for item in data:
                if not isinstance(item, dict) or item.get("question_id") is None:
                    continue
                qid = str(item["question_id"])
                possible = points_by_question.get(qid)
                raw = item.get("correct")
                result = QuestionResult(
                    quiz_id=str(quiz_id), question_id=qid, student_id=str(sid),
                    attempt=int(attempt), credit=normalize_correct(raw, item.get("points"),
                                                                   possible),
                    points=finite_float(item.get("points")),
                    points_possible=finite_float(possible),
                    graded_at=entry.get("graded_at"), source=CLASSIC,
                    correct=raw if isinstance(raw, (bool, str)) else None,
                    answer_ids=classic_answer_ids(item),
                    answer_text=classic_answer_text(item))
                out[(result.student_id, result.quiz_id, qid, result.attempt)] = result
    return list(out.values())


# ------------------------------------------------------------------ consumers

def latest_attempts(results: Iterable[QuestionResult]) -> dict[tuple[str, str], list]:
    """``{(student_id, quiz_id): [results of that quiz's highest-numbered attempt]}``."""
    best: dict = {}
    for r in results:
        key = (r.student_id, r.quiz_id)
        current = best.get(key)
        if current is None or r.attempt > current[0]:
            best[key] = [r.attempt, [r]]
        elif r.attempt == current[0]:
            current[1].append(r)
    return {key: value[1] for key, value in best.items()}
