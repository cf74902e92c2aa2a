"""Canvas Outcomes' calculation methods, on the quiz results of one student and skill.

Pure computation, no I/O. Instructors know these methods from Canvas's Learning Mastery
Gradebook, so a course can score skills the way Canvas scores outcomes, under Canvas's names and
parameters (``calculation_method`` and ``calculation_int``).

What a *result* is, as Canvas builds it for a quiz aligned to an outcome
(``Quizzes::QuizOutcomeResultBuilder``): one result per quiz and student, holding the points
earned on the quiz's questions of that outcome over their points possible, rewritten by every
new attempt (so the latest graded attempt counts, whatever the quiz's scoring policy), dated when
that attempt was submitted. Here: one result per quiz with graded answers on the skill, its
percent the points-weighted credit of the skill's questions in the quiz's latest graded attempt.

The methods (``app/models/rollup_score.rb`` and ``OutcomeCalculationMethod`` in
instructure/canvas-lms; defaults from ``LearningOutcome#default_calculation_int``), results
taken oldest first:

* ``decaying_average`` (int 1-99, default 65): the latest result weighs ``int`` %, the plain
  average of all earlier ones ``100 - int`` %; one result is its own score. Canvas's long-standing
  "decaying average"; with Canvas's newer decaying-average calculation switched on, its user
  interface calls this one "Weighted Average" and stores it as ``weighted_average``.
* ``weighted_average`` (int 1-99, default 65): the same calculation under that newer name.
* ``standard_decaying_average`` (int 50-99, default 65): a running average: each newer result
  weighs ``int`` %, the running average of the earlier ones ``100 - int`` %.
* ``n_mastery`` (int 1-10, default 5): the average of the results at or above mastery, once at
  least ``int`` results reach it; before that Canvas shows no score (here: score 0, level
  "beginner", and the explanation says how many are still needed). Mastery is the course's
  "advanced" badge threshold, 75 by default: Canvas's default mastery scale puts Mastery at 3 of
  4 points.
* ``highest``, ``latest``, ``average`` (no int): the best, the most recent, the mean result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

#: Canvas's calculation methods, as its API names them.
METHODS = ("decaying_average", "weighted_average", "standard_decaying_average", "n_mastery",
           "highest", "latest", "average")

#: ``calculation_int`` of each method that takes one: (lowest, highest, default).
CALCULATION_INTS = {
    "decaying_average": (1, 99, 65),
    "weighted_average": (1, 99, 65),
    "standard_decaying_average": (50, 99, 65),
    "n_mastery": (1, 10, 5),
}

#: Human names Canvas shows for the methods (used in explanations).
TITLES = {
    "decaying_average": "Canvas decaying average",
    "weighted_average": "Canvas weighted average",
    "standard_decaying_average": "Canvas decaying average (standard)",
    "n_mastery": "Canvas n_mastery",
    "highest": "Canvas highest score",
    "latest": "Canvas most recent score",
    "average": "Canvas average",
}


def default_int(method: str) -> Optional[int]:
    """Canvas's default ``calculation_int`` of ``method`` (None when it takes none)."""
    spec = CALCULATION_INTS.get(method)
    return spec[2] if spec else None


def int_problem(method: str, value) -> Optional[str]:
    """Why ``value`` is not a valid ``calculation_int`` for ``method`` (a sentence), or None.
    Canvas's ranges; methods without a parameter take none (null)."""
    spec = CALCULATION_INTS.get(method)
    if spec is None:
        if value is None:
            return None
        return f"calculation_int must be null for '{method}', which takes no parameter."
    if value is None:
        return None      # the method's default is used
    low, high, _ = spec
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return (f"calculation_int for '{method}' must be a whole number from {low} to {high} "
                f"(Canvas's range).")
    return None


@dataclass(frozen=True, slots=True)
class Result:
    """One quiz result: ``percent`` 0-1, ``when`` a sortable time key, ``answers`` the graded
    answers on the skill it rests on."""

    quiz_id: object
    when: str
    percent: float
    answers: int


@dataclass(frozen=True, slots=True)
class Rollup:
    """A method's score (0-100, None when the method gives none yet) and the results it used."""

    score: Optional[float]
    used: tuple
    needed: int = 0     # n_mastery: results at mastery still missing


def rollup(method: str, results: Sequence[Result], calculation_int: Optional[int] = None,
           mastery_percent: float = 75.0) -> Rollup:
    """Score ``results`` (any order; sorted oldest first here) with Canvas's ``method``."""
    ordered = sorted(results, key=lambda r: r.when)
    if not ordered:
        return Rollup(None, ())
    n = calculation_int if calculation_int is not None else default_int(method)
    scores = [100.0 * r.percent for r in ordered]
    if method in ("decaying_average", "weighted_average"):
        if len(scores) == 1:
            return Rollup(scores[0], tuple(ordered))
        older = sum(scores[:-1]) / (len(scores) - 1)
        return Rollup(scores[-1] * n / 100.0 + older * (100 - n) / 100.0, tuple(ordered))
    if method == "standard_decaying_average":
        value = scores[0]
        for s in scores[1:]:
            value = value * (100 - n) / 100.0 + s * n / 100.0
        return Rollup(value, tuple(ordered))
    if method == "n_mastery":
        at_mastery = [r for r, s in zip(ordered, scores) if s >= mastery_percent]
        if len(at_mastery) < n:
            return Rollup(None, tuple(at_mastery), needed=n - len(at_mastery))
        return Rollup(sum(100.0 * r.percent for r in at_mastery) / len(at_mastery),
                      tuple(at_mastery))
    if method == "highest":
        best = max(range(len(ordered)), key=lambda i: (scores[i], i))
        return Rollup(scores[best], (ordered[best],))
    if method == "latest":
        return Rollup(scores[-1], (ordered[-1],))
    if method == "average":
        return Rollup(sum(scores) / len(scores), tuple(ordered))
    raise ValueError(f"unknown calculation method {method!r}; expected one of {METHODS}")
