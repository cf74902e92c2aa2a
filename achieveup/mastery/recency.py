"""The ``recency`` mastery model: what a student knows of a skill *now*, from every graded answer.

Pure computation (numpy arrays and plain values in, numbers out, no I/O).

Why (``bench/mastery_truth.py`` measures it against the alternatives on courses with a known,
hidden ability): counting all answers (right / asked) ranks students well when nothing changes,
but during a term students learn (and forget), so old answers describe a student who no longer
exists; counting only the latest ones (Canvas's "latest", a steep decaying average) is too noisy
to rank by. And a right answer on an easy question says less than one on a hard question, which
matters as soon as students have answered different questions (missed quizzes, retakes,
late enrolment). The model therefore

1. compares each answer with how the class did on the *same question* (its residual
   ``credit - p(question)``, ``p`` the class's proportion right, smoothed toward the skill's
   mean with the weight of ``QUESTION_PRIOR`` answers), so question difficulty and what the
   whole class learned cancel out;
2. averages a student's residuals on the skill with weights that halve every ``half_life``
   days back from the course's latest graded answer (its own clock, not the wall clock),
   shrunk toward 0 with the weight of ``PRIOR_WEIGHT`` answers (few answers, or only old ones,
   say little: the estimate stays near the class);
3. adds that deviation to the class's current level on the skill (the same weighted average
   of all the class's answers on it): ``score = 100 * clip(level + deviation, 0, 1)``, an
   estimate of the chance of answering a typical question of the skill right now.

The half-life is fitted per course: for every student and skill, the answers of their last week
on the skill are predicted from their answers at least a week older (weights counted back from
the held-out answers), and the half-life in ``HALF_LIVES`` with the smallest squared error wins
(ties and near-ties, within ``TIE_TOLERANCE``, go to the longer memory). A course where students
do not change gets no decay (every answer counts the same, the best estimate then); a course
where they learn fast gets a short memory. With fewer than ``MIN_HELD_OUT`` held-out answers
there is nothing to choose on, and every answer counts the same.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Mapping, Optional, Sequence

import numpy as np

#: Candidate half-lives in days, longest memory first (None: every answer counts the same).
HALF_LIVES = (None, 180.0, 90.0, 56.0, 42.0, 28.0, 21.0, 14.0, 7.0)
#: Weight, in answers, of the class (deviation 0) in a student's estimate.
PRIOR_WEIGHT = 3.0
#: Weight, in answers, of the skill's mean in a question's proportion right.
QUESTION_PRIOR = 2.0
#: A student's answers of their last this-many days on a skill are held out to fit the half-life.
HOLDOUT_DAYS = 7.0
#: Held-out answers needed before a half-life is chosen at all.
MIN_HELD_OUT = 30
#: A longer half-life is kept unless a shorter one lowers the squared error by more than this.
TIE_TOLERANCE = 1e-3

_EPOCH = datetime(1970, 1, 1)


@functools.lru_cache(maxsize=1 << 16)
def days(time_key: str) -> Optional[float]:
    """Days since the epoch of a sortable UTC time key (``calc``'s ``YYYY-MM-DDTHH:MM:SS...Z``
    or any ISO-8601 text); None when there is no usable time."""
    if not time_key:
        return None
    try:
        when = datetime.fromisoformat(time_key.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return (when - _EPOCH).total_seconds() / 86400.0


@dataclass(frozen=True)
class RecencyFit:
    """A course's fitted recency model.

    questions: ``{question_id (str): the class's smoothed proportion right}``.
    levels: ``{skill: the class's current level, 0-1}``.
    half_life_days: the fitted half-life (None: every answer counts the same).
    clock: the course's latest graded answer, in days since the epoch (None: no answers).
    held_out: answers the half-life was chosen on; answers: answers the fit saw.
    """

    questions: Mapping[str, float] = field(default_factory=dict)
    levels: Mapping[str, float] = field(default_factory=dict)
    half_life_days: Optional[float] = None
    clock: Optional[float] = None
    prior_weight: float = PRIOR_WEIGHT
    held_out: int = 0
    answers: int = 0

    def weight(self, t: Optional[float]) -> float:
        """Weight of an answer given at ``t`` (days since the epoch) as of the clock."""
        h = self.half_life_days
        if not h or t is None or self.clock is None or t >= self.clock:
            return 1.0
        return 0.5 ** ((self.clock - t) / h)

    def at(self, clock: Optional[float]) -> "RecencyFit":
        """The same fit read as of another time (a past point of a student's graph)."""
        return replace(self, clock=clock)


EMPTY = RecencyFit()


@dataclass(frozen=True)
class Estimate:
    """One student's recency estimate on one skill (see the module docstring)."""

    score: float          # 0-100, 1 decimal
    level: float          # the class's level used, 0-1
    deviation: float      # the student's shrunk deviation from the class, -1..1
    answers: int
    right: float


def estimate(level: Optional[float], sum_wc: float, sum_w: float, sum_wq: float,
             sum_wu: float, answers: int, right: float,
             prior_weight: float = PRIOR_WEIGHT) -> Estimate:
    """The estimate from a student's weighted sums on a skill: ``sum_wc`` = sum of w * credit,
    ``sum_w`` = sum of w, ``sum_wq`` = sum of w * p(question) over answers whose question the
    fit knows, ``sum_wu`` = sum of w over the others (measured against the class level). Without
    a class level (no fit) the level is the student's own weighted mean, so the estimate is
    their own recency-weighted proportion right."""
    if level is None:
        level = sum_wc / sum_w if sum_w > 0 else (right / answers if answers else 0.0)
    deviation = (sum_wc - sum_wq - sum_wu * level) / (prior_weight + sum_w)
    p = min(1.0, max(0.0, level + deviation))
    return Estimate(round(100.0 * p, 1), level, deviation, answers, right)


# ---------------------------------------------------------------------------------------------
# Fitting a course
# ---------------------------------------------------------------------------------------------

@dataclass
class Answers:
    """A course's graded answers as parallel arrays, one row per (answer, skill of its question):
    ``sequence`` (one id per student and skill), ``skill`` and ``question`` (indexes into
    ``skills`` / ``questions``), ``t`` (days since the epoch; NaN when unknown), ``credit``
    (0-1) and ``share`` (1 / the number of skills of the question, so each answer counts once
    in its question's proportion right)."""

    sequence: np.ndarray
    skill: np.ndarray
    question: np.ndarray
    t: np.ndarray
    credit: np.ndarray
    share: np.ndarray
    skills: Sequence[str]
    questions: Sequence[str]
    sequences: int


def fit(a: Answers) -> RecencyFit:
    """Fit the course's recency model on all its answers (see the module docstring)."""
    n_rows = len(a.credit)
    if n_rows == 0:
        return EMPTY
    n_sk, n_q, n_seq = len(a.skills), len(a.questions), a.sequences
    t = a.t.copy()
    known = ~np.isnan(t)
    clock = float(t[known].max()) if known.any() else None
    t[~known] = clock if clock is not None else 0.0   # no time: counts as a current answer
    c = a.credit
    count = np.bincount(a.skill, minlength=n_sk)
    mu = np.bincount(a.skill, c, minlength=n_sk) / np.maximum(count, 1)
    q_n = np.bincount(a.question, a.share, minlength=n_q)
    q_mu = np.bincount(a.question, a.share * mu[a.skill], minlength=n_q) / np.maximum(q_n, 1e-12)
    q_p = (np.bincount(a.question, a.share * c, minlength=n_q) + QUESTION_PRIOR * q_mu) / \
        (q_n + QUESTION_PRIOR)
    residual = c - q_p[a.question]
    half_life, held_out = (None, 0) if clock is None else \
        _choose_half_life(a.sequence, t, residual, n_seq)
    # the class's level per skill: weights counted back from the skill's own latest answer
    # (the same ratios as from the clock, without underflow for a skill idle for years)
    latest = np.full(n_sk, -np.inf)
    np.maximum.at(latest, a.skill, t)
    w = _weights(latest[a.skill] - t, half_life)
    levels = np.bincount(a.skill, w * c, minlength=n_sk) / \
        np.maximum(np.bincount(a.skill, w, minlength=n_sk), 1e-300)
    return RecencyFit(
        questions={a.questions[i]: float(q_p[i]) for i in range(n_q) if q_n[i] > 0},
        levels={a.skills[i]: float(levels[i]) for i in range(n_sk) if count[i] > 0},
        half_life_days=half_life, clock=clock, held_out=held_out, answers=n_rows)


def _weights(age: np.ndarray, half_life: Optional[float]) -> np.ndarray:
    if not half_life:
        return np.ones(len(age))
    return np.power(0.5, np.maximum(age, 0.0) / half_life)


def _choose_half_life(seq: np.ndarray, t: np.ndarray, residual: np.ndarray,
                      n_seq: int) -> tuple[Optional[float], int]:
    """The half-life predicting each sequence's last week best from its older answers."""
    last = np.full(n_seq, -np.inf)
    np.maximum.at(last, seq, t)
    held = t > last[seq] - HOLDOUT_DAYS
    old = ~held
    has_old = np.bincount(seq[old], minlength=n_seq) > 0
    target = held & has_old[seq]
    n_target = int(target.sum())
    if n_target < MIN_HELD_OUT:
        return None, n_target
    o_seq, o_age, o_r = seq[old], last[seq[old]] - t[old], residual[old]
    t_seq, t_r = seq[target], residual[target]
    errors = []
    for h in HALF_LIVES:
        w = _weights(o_age, h)
        dev = np.bincount(o_seq, w * o_r, minlength=n_seq) / \
            (PRIOR_WEIGHT + np.bincount(o_seq, w, minlength=n_seq))
        errors.append(float(np.sum((t_r - dev[t_seq]) ** 2)))
    best = min(errors)
    chosen = next(h for h, e in zip(HALF_LIVES, errors) if e <= best * (1.0 + TIE_TOLERANCE))
    return chosen, n_target


# ---------------------------------------------------------------------------------------------
# Stored form
# ---------------------------------------------------------------------------------------------

def to_document(result: RecencyFit) -> dict:
    """The fit as plain, queryable fields (lists of subdocuments: skill names and question ids
    are data, never keys)."""
    return {"half_life_days": result.half_life_days, "clock_days": result.clock,
            "prior_weight": result.prior_weight, "held_out": result.held_out,
            "answers": result.answers,
            "levels": [{"skill": s, "level": round(v, 6)} for s, v in result.levels.items()],
            "questions": [{"question_id": q, "p": round(v, 6)}
                          for q, v in result.questions.items()]}


def from_document(doc: Optional[dict]) -> Optional[RecencyFit]:
    """:func:`to_document`'s fields back as a fit; None when absent or unusable."""
    if not isinstance(doc, dict):
        return None
    try:
        half_life = doc.get("half_life_days")
        clock = doc.get("clock_days")
        if half_life is not None and not (float(half_life) > 0):
            return None
        levels = {str(e["skill"]): float(e["level"]) for e in doc.get("levels") or []}
        questions = {str(e["question_id"]): float(e["p"]) for e in doc.get("questions") or []}
        values = list(levels.values()) + list(questions.values())
        if any(not math.isfinite(v) or not 0.0 <= v <= 1.0 for v in values):
            return None
        return RecencyFit(questions=questions, levels=levels,
                          half_life_days=float(half_life) if half_life is not None else None,
                          clock=float(clock) if clock is not None else None,
                          prior_weight=float(doc.get("prior_weight") or PRIOR_WEIGHT),
                          held_out=int(doc.get("held_out") or 0),
                          answers=int(doc.get("answers") or 0))
    except (TypeError, ValueError, KeyError):
        return None
