"""Item analysis of one quiz: difficulty, discrimination and distractors. Pure, no I/O.

Input: the quiz's questions (``QuestionInfo``) and, per question, the answers of ONE attempt
of the quiz per student (the service passes each student's latest attempt, as Canvas' own item
analysis does), column-wise so a 1,000-student quiz costs a few lists and no object per answer:
``{question_id: Answers(students, credits, picks, attempts)}``. A ``credit`` is in [0, 1]
(partial credit as the points ratio) or None when the answer is not graded yet; ungraded
answers and questions a student did not get (question groups) are left out of that question.

Definitions (N = students with a graded answer to the question):

* ``difficulty`` (p): mean credit, the proportion correct (1.0 = everyone right).
* A student's quiz score is ``sum(credit * weight)`` over their graded answers, ``weight`` being
  the question's points (1 when unknown, 0 for a 0-point question). The *rest score* for a
  question is that score minus the question's own part.
* ``point_biserial``: Pearson correlation between the question's credit and the rest score
  (the "corrected" item-total correlation: the question does not correlate with itself). None
  when either side has no spread (everyone right, or a one-question quiz).
* ``upper_lower``: Kelley's index p(upper 27 %) - p(lower 27 %); the groups are the
  ``round(0.27 * n)`` students with the highest and the lowest quiz score (n = students with a
  graded answer in the quiz; ties broken by student id, so the result is reproducible).
* Choice questions (multiple choice, true/false, multiple answers, dropdowns) get the share of
  respondents who picked each choice, overall and in the upper and lower groups.

Flags (``{code, message}``, the message says why in words); ``check`` is set for the codes in
``CHECK_CODES``: a negative or near-zero discrimination (< ``LOW_DISCRIMINATION``) on a question
some but not all students got right, and a question nobody got right (often a wrong key).
Discrimination flags use the point-biserial, or the upper-lower index when it is undefined, and
need at least ``MIN_RESPONSES`` answers. Choice flags: a wrong choice nobody picked (it
distracts no one) and a wrong choice the upper group picks more often than the lower group
(by at least ``STRONG_PICKS`` students and ``STRONG_PICK_SHARE`` of the group, so one stray
answer is not flagged: the key or the wording may be off).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping, NamedTuple, Optional, Sequence

GROUP_SHARE = 0.27
MIN_RESPONSES = 5
LOW_DISCRIMINATION = 0.10
STRONG_PICK_SHARE = 0.10
STRONG_PICKS = 2
CHOICE_TYPES = frozenset({"multiple_choice_question", "true_false_question",
                          "multiple_answers_question", "multiple_dropdowns_question"})
CHECK_CODES = frozenset({"negative_discrimination", "low_discrimination", "nobody_correct"})


class Answers(NamedTuple):
    """One question's answers, one entry per student (``picks``: the choice ids picked,
    comma-separated, "" for none; ``attempts``: attempts the student made at the quiz)."""

    students: Sequence[str]
    credits: Sequence[Optional[float]]
    picks: Sequence[str] = ()
    attempts: Sequence[int] = ()


@dataclass(frozen=True)
class Choice:
    id: str
    text: str
    correct: bool


@dataclass(frozen=True)
class QuestionInfo:
    question_id: str
    position: Optional[int] = None
    question_type: Optional[str] = None
    points_possible: Optional[float] = None
    text: str = ""
    choices: tuple = field(default_factory=tuple)

    @property
    def weight(self) -> float:
        pp = self.points_possible
        if pp is None or isinstance(pp, bool) or not math.isfinite(float(pp)):
            return 1.0
        return max(0.0, float(pp))


# ------------------------------------------------------------------ small statistics

def mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def pearson(xs: Sequence[float], ys: Sequence[float]) -> Optional[float]:
    """Pearson correlation; None with fewer than two pairs or no spread on either side."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def group_size(n: int) -> int:
    """Students in each of the upper and lower groups: 27 % of ``n`` rounded half up."""
    return 0 if n < 2 else max(1, math.floor(GROUP_SHARE * n + 0.5))


def upper_lower_groups(scores: Mapping[str, float]) -> tuple[set, set]:
    ranked = sorted(scores, key=lambda s: (scores[s], s))
    k = group_size(len(ranked))
    if not k:
        return set(), set()
    return set(ranked[-k:]), set(ranked[:k])


def _r(value: Optional[float], digits: int = 3) -> Optional[float]:
    return None if value is None else round(value, digits)


def _pct(share: float) -> str:
    return f"{round(100 * share)}%"


# ------------------------------------------------------------------ quiz

def quiz_scores(questions: Iterable[QuestionInfo], answers: Mapping[str, Answers]
                ) -> tuple[dict, dict]:
    """``({student_id: score}, {student_id: points of the graded answers})`` (students without
    a graded answer are left out)."""
    weights = {q.question_id: q.weight for q in questions}
    scores: dict = {}
    possible: dict = {}
    for qid, a in answers.items():
        w = weights.get(qid, 1.0)
        for sid, credit in zip(a.students, a.credits):
            if credit is not None:
                scores[sid] = scores.get(sid, 0.0) + credit * w
                possible[sid] = possible.get(sid, 0.0) + w
    return scores, possible


def analyze_quiz(questions: Sequence[QuestionInfo], answers: Mapping[str, Answers]) -> dict:
    """``{students, group_size, mean_score, items}``; ``items`` follow ``questions``' order.

    ``mean_score`` is the mean percentage of the points of each student's graded answers (None
    without any).
    """
    scores, possible = quiz_scores(questions, answers)
    upper, lower = upper_lower_groups(scores)
    percents = [100.0 * scores[s] / possible[s] for s in scores if possible[s] > 0]
    items = [analyze_question(q, answers.get(q.question_id), scores, upper, lower)
             for q in questions]
    return {"students": len(scores), "group_size": len(upper),
            "mean_score": _r(mean(percents), 1), "items": items}


def analyze_question(q: QuestionInfo, answers: Optional[Answers], scores: Mapping,
                     upper: set, lower: set) -> dict:
    answers = answers or Answers((), ())
    graded = [i for i, c in enumerate(answers.credits) if c is not None]
    students = [answers.students[i] for i in graded]
    credits = [answers.credits[i] for i in graded]
    n = len(credits)
    p = mean(credits)
    w = q.weight
    pb = pearson(credits, [scores[s] - c * w for s, c in zip(students, credits)])
    p_up = mean([c for s, c in zip(students, credits) if s in upper])
    p_low = mean([c for s, c in zip(students, credits) if s in lower])
    d = p_up - p_low if p_up is not None and p_low is not None else None
    picks = [answers.picks[i] for i in graded] if answers.picks else [""] * n
    choices = choice_table(q, students, picks, upper, lower)
    flags = question_flags(n, p, pb, d)
    if choices:
        flags.extend(choice_flags(choices))
    attempts = (sum(answers.attempts[i] or 1 for i in graded) if answers.attempts else n)
    return {"question_id": q.question_id, "position": q.position,
            "question_type": q.question_type, "question_text": q.text,
            "points_possible": q.points_possible, "students": n, "attempts": attempts,
            "difficulty": _r(p), "point_biserial": _r(pb), "upper_lower": _r(d),
            "upper_difficulty": _r(p_up), "lower_difficulty": _r(p_low),
            "choices": choices, "flags": flags,
            "check": any(f["code"] in CHECK_CODES for f in flags)}


def choice_table(q: QuestionInfo, students: Sequence[str], picks: Sequence[str], upper: set,
                 lower: set) -> list | None:
    """Share of respondents picking each choice (None for questions without choices)."""
    if q.question_type not in CHOICE_TYPES or not q.choices:
        return None
    n = len(students)
    n_up = sum(1 for s in students if s in upper)
    n_low = sum(1 for s in students if s in lower)
    total: dict = {}
    in_upper: dict = {}
    in_lower: dict = {}
    for sid, picked in zip(students, picks):
        if not picked:
            continue
        for aid in set(picked.split(",")):
            total[aid] = total.get(aid, 0) + 1
            if sid in upper:
                in_upper[aid] = in_upper.get(aid, 0) + 1
            elif sid in lower:
                in_lower[aid] = in_lower.get(aid, 0) + 1
    out = []
    for c in q.choices:
        picked, picked_up = total.get(c.id, 0), in_upper.get(c.id, 0)
        up = picked_up / n_up if n_up else None
        low = in_lower.get(c.id, 0) / n_low if n_low else None
        flags = []
        if not c.correct and n and not picked:
            flags.append(_flag("never_picked", (
                "Nobody picked this wrong choice, so it distracts no one: replace it with a "
                "plausible mistake or drop it.")))
        if (not c.correct and n >= MIN_RESPONSES and up is not None and low is not None
                and up > low and up >= STRONG_PICK_SHARE and picked_up >= STRONG_PICKS):
            flags.append(_flag("picked_by_strong_students", (
                f"{_pct(up)} of the strongest students picked this wrong choice against "
                f"{_pct(low)} of the weakest: check that it is really wrong and that the "
                f"question is not ambiguous.")))
        out.append({"answer_id": c.id, "text": c.text, "correct": c.correct,
                    "picked": picked, "share": _r(picked / n) if n else None,
                    "upper_share": _r(up), "lower_share": _r(low), "flags": flags})
    return out


def _flag(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def question_flags(n: int, p: Optional[float], pb: Optional[float],
                   d: Optional[float]) -> list[dict]:
    if n == 0:
        return [_flag("no_responses", "No graded answer to this question yet.")]
    flags = []
    if n < MIN_RESPONSES:
        flags.append(_flag("few_responses", (
            f"Only {n} graded answer{'s' if n != 1 else ''}: too few for reliable statistics "
            f"(at least {MIN_RESPONSES} are needed before a question is flagged).")))
        return flags
    if p >= 1.0:
        flags.append(_flag("everyone_correct", (
            "Every student answered this correctly, so it cannot tell stronger and weaker "
            "students apart (discrimination is undefined). Fine as a warm-up; make it harder "
            "if it should measure something.")))
        return flags
    if p <= 0.0:
        flags.append(_flag("nobody_correct", (
            "No student answered this correctly: check the answer key, and whether the topic "
            "was taught before the quiz.")))
        return flags
    value, name = (pb, "point-biserial") if pb is not None else (d, "upper-lower index")
    if value is None:
        return flags
    if value < 0:
        flags.append(_flag("negative_discrimination", (
            f"Students who did worse on the rest of the quiz did better on this question "
            f"({name} {value:.2f}): check the answer key, then the wording for a trap that "
            f"catches students who know the material.")))
    elif value < LOW_DISCRIMINATION:
        flags.append(_flag("low_discrimination", (
            f"This question barely separates stronger from weaker students ({name} "
            f"{value:.2f}): check whether it is ambiguous, mis-keyed or answerable by "
            f"guessing.")))
    return flags


def choice_flags(choices: list[dict]) -> list[dict]:
    """Question-level summary of the choice flags (informational: they do not set check)."""
    unused = [c["text"] or c["answer_id"] for c in choices
              if any(f["code"] == "never_picked" for f in c["flags"])]
    strong = [c["text"] or c["answer_id"] for c in choices
              if any(f["code"] == "picked_by_strong_students" for f in c["flags"])]
    flags = []
    if unused:
        flags.append(_flag("unused_distractors", (
            f"Nobody picked {_quoted(unused)}: these wrong choices distract no one.")))
    if strong:
        flags.append(_flag("distractor_attracts_strong_students", (
            f"Strong students pick the wrong choice {_quoted(strong)} more often than weak "
            f"students: check that it is really wrong.")))
    return flags


def _quoted(texts: list[str], limit: int = 3) -> str:
    shown = [f"'{t[:60]}'" for t in texts[:limit]]
    more = len(texts) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
