"""One sentence per skill score saying how it was reached, in the student's terms.

Pure string building, no I/O: ``calc`` calls these with the numbers it computed, so the sentence
always matches the score next to it (``explanation`` in student-analytics and progress).
"""
from __future__ import annotations

from typing import Optional

from achieveup.mastery import outcomes

NOT_STARTED = "No graded answers on this skill yet."

_BKT_SOURCES = {
    "fitted": "parameters fitted on this skill's answers in the course",
    "course": "parameters fitted on the whole course",
    "default": "textbook parameters until the course has enough answers to fit its own",
    "fixed": "parameters set by the instructor",
}


def model_title(model: str) -> str:
    """What a score model is, in a phrase (badge evidence names the model of its score)."""
    if model.startswith("bkt"):
        return "Bayesian Knowledge Tracing over every graded attempt"
    if model == "recency":
        return ("every graded answer compared with the class on the same question, weighted "
                "toward recent ones")
    if model in outcomes.TITLES:
        return f"{outcomes.TITLES[model]} of quiz results"
    return "points earned under each quiz's scoring policy"


def _num(value: float) -> str:
    """1 decimal, without a trailing .0 (9.0 -> "9", 8.5 -> "8.5")."""
    return f"{round(value, 1):g}"


def _pct(fraction: float) -> str:
    return f"{_num(100.0 * fraction)} %"


def percentage(attempted: int, correct: float, score: float) -> str:
    return (f"{_num(correct)} of the {attempted} question{'s' * (attempted != 1)} you answered "
            f"right ({_num(score)} %), each quiz's attempts counted by its scoring policy.")


def bkt(p_known: float, evidence: int, source: str, idle_days: Optional[float] = None) -> str:
    where = _BKT_SOURCES.get(source, "Bayesian Knowledge Tracing")
    decay = (f", lowered for {int(idle_days)} days without practice"
             if idle_days and idle_days >= 1 else "")
    return (f"A {_pct(p_known)} chance that you know this skill after {evidence} graded "
            f"answer{'s' * (evidence != 1)} in order (Bayesian Knowledge Tracing, {where}"
            f"{decay}).")


def recency(answers: int, right: float, level: float, deviation: float,
            half_life_days: Optional[float], score: float) -> str:
    weighting = (f"weighted toward your recent answers (half-life {int(half_life_days)} days)"
                 if half_life_days else "every answer counting the same")
    points = 100.0 * deviation
    if abs(points) < 0.05:
        against = "level with"
    else:
        against = f"{_num(abs(points))} points {'above' if points > 0 else 'below'}"
    return (f"{_num(right)} of your {answers} answer{'s' * (answers != 1)} right; "
            f"{weighting}, you are {against} classmates on the same questions, and the class "
            f"is at {_pct(level)} now, so {_num(score)}.")


def canvas(method: str, rollup: "outcomes.Rollup", results: int,
           calculation_int: Optional[int], mastery_percent: float) -> str:
    title = outcomes.TITLES[method]
    n = calculation_int if calculation_int is not None else outcomes.default_int(method)
    used = rollup.used
    plural = "s" * (results != 1)
    if method in ("decaying_average", "weighted_average"):
        if len(used) == 1:
            return f"{title} of your only quiz result ({_pct(used[0].percent)})."
        older = sum(r.percent for r in used[:-1]) / (len(used) - 1)
        return (f"{title}: your latest quiz result ({_pct(used[-1].percent)}) counts {n} %, "
                f"the average of your {len(used) - 1} earlier one{'s' * (len(used) > 2)} "
                f"({_pct(older)}) {100 - n} %.")
    if method == "standard_decaying_average":
        if len(used) == 1:
            return f"{title} of your only quiz result ({_pct(used[0].percent)})."
        return (f"{title} of your {results} quiz results: each newer one counts {n} % against "
                f"{100 - n} % for the earlier ones, the latest being {_pct(used[-1].percent)}.")
    if method == "n_mastery":
        if rollup.score is None:
            return (f"{title} needs {n} quiz result{'s' * (n != 1)} at or above "
                    f"{_num(mastery_percent)} %: you have {len(used)} of your {results}, so "
                    f"there is no score yet.")
        return (f"{title}: the average of your {len(used)} quiz result{'s' * (len(used) != 1)} "
                f"at or above {_num(mastery_percent)} % ({n} needed).")
    if method == "highest":
        return f"{title}: the best of your {results} quiz result{plural}."
    if method == "latest":
        return f"{title}: your latest of {results} quiz result{plural}."
    return f"{title} of your {results} quiz result{plural}."
