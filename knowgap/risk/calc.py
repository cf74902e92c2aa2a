"""Explainable at-risk index for one student in one course.

Pure computation, no I/O. The index is deliberately a small weighted sum rather than a trained
model: instructors act on it, so every number must be traceable to something they can see in
Canvas (the current grade, the last few graded results, the trend of those results).

Model
-----
Each available component is turned into a *performance* in [0, 1] (1 = doing well):

* ``current_grade``: Canvas ``current_score`` / 100.
* ``recent_performance``: mean of the last five graded results (by date) / 100.
* ``skill_mastery`` (optional): average AchieveUp skill mastery / 100. It is blended *into* the
  recent-performance slot: when both are present the 0.30 weight is split
  ``SKILL_MASTERY_BLEND`` (0.5) to skill mastery and the rest to recent results; when recent
  results are missing it takes the whole slot. Rationale: both measure the same thing (how
  well recent work went); mastery is a per-skill smoothed view of it, so it refines that
  component instead of adding a fourth, double-counted one.
* ``engagement`` (optional): the AchieveUp engagement index (0–100, see
  ``achieveup.insights.engagement``: on-time quizzes, attempts, recency, videos watched) / 100.
  Its own slot (0.15): it measures effort, not results, so it adds to the others rather than
  refining one of them; without it the other weights are renormalized as before.
* ``trend``: least-squares slope of the last five results, in percentage points per result,
  mapped linearly so a flat trend is 0.5, +``TREND_SATURATION`` (10 points/result) or better is
  1.0 and -10 or worse is 0.0: ``0.5 + clamp(slope / (2 * 10), -0.5, 0.5)``. Needs at least
  ``MIN_TREND_POINTS`` (3) results; with two results the "slope" is just their difference and
  too noisy to act on.

``risk_index = 1 - sum(weight_i * performance_i)`` over the available components, with the
default weights (0.55 grade, 0.30 recent, 0.15 trend, plus 0.15 engagement) renormalized to
sum to 1 over what is available. Each factor's ``contribution`` is
``weight_i * (1 - performance_i)``, so the contributions add up to the index: that sum is the
explanation.

Levels: ``low`` below ``LOW_MAX`` (0.35), ``medium`` below ``MEDIUM_MAX`` (0.60), else ``high``.
A 0.35 index is roughly a student averaging 65% (a D) on everything; 0.60 roughly 40%.
There is no "unknown" level (the extension only knows low/medium/high): with no data at all
the result is ``low`` with ``risk_index=None`` and one ``insufficient_data`` factor, so callers
can tell "no evidence" from "measured and fine".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Optional, Sequence

from knowgap.core.numbers import finite_float

#: Default component weights (before renormalization over the available ones).
DEFAULT_WEIGHTS: dict[str, float] = {
    "recent_performance": 0.30,
    "current_grade": 0.55,
    "trend": 0.15,
    "engagement": 0.15,
}
#: Share of the recent-performance weight given to skill mastery when both are known.
SKILL_MASTERY_BLEND = 0.5
#: Results considered for the recent mean and the trend.
RECENT_WINDOW = 5
#: Minimum results for a trend.
MIN_TREND_POINTS = 3
#: Slope (percentage points per result) at which the trend component saturates to 0 or 1.
TREND_SATURATION = 10.0
#: Level thresholds on the risk index: low < LOW_MAX <= medium < MEDIUM_MAX <= high.
LOW_MAX = 0.35
MEDIUM_MAX = 0.60
RISK_LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class RiskResult:
    """``risk_level`` low|medium|high, ``risk_index`` in [0, 1] rounded to 3 decimals (None
    when there was no data), ``factors``: ``[{name, value, weight, contribution}]``."""

    risk_level: str
    risk_index: Optional[float]
    factors: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "risk_level": self.risk_level,
            "risk_index": self.risk_index,
            "factors": [dict(f) for f in self.factors],
        }


def least_squares_slope(values: Sequence[float]) -> float:
    """Ordinary least-squares slope of ``values`` against their positions 0, 1, 2, ...

    Units are "value units per step" (here: percentage points per graded result).
    Fewer than two values -> 0.0 (no trend can be measured).
    """
    ys = [float(v) for v in values]
    n = len(ys)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2.0
    mean_y = sum(ys) / n
    sxx = sum((i - mean_x) ** 2 for i in range(n))
    sxy = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(ys))
    return sxy / sxx


def trend_performance(slope: float) -> float:
    """Map a slope (points/result) to [0, 1]: flat -> 0.5, +/-TREND_SATURATION saturates."""
    return 0.5 + max(-0.5, min(0.5, slope / (2.0 * TREND_SATURATION)))


def risk_level_for(index: Optional[float]) -> str:
    """Level for an index; None (no data) is "low" (see module docstring)."""
    if index is None or index < LOW_MAX:
        return "low"
    if index < MEDIUM_MAX:
        return "medium"
    return "high"


def _pct(value) -> Optional[float]:
    """A percentage clamped to [0, 100] (extra credit can exceed 100), or None if unusable."""
    out = finite_float(value)
    return None if out is None else max(0.0, min(100.0, out))


def _time_key(value) -> tuple:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return (1, value.astimezone(timezone.utc).isoformat())
    if value is None:
        return (0, "")
    text = str(value).strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return (1, text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (1, dt.astimezone(timezone.utc).isoformat())


def last_results(graded: Iterable[Any], window: int = RECENT_WINDOW) -> list[float]:
    """The percentages of the ``window`` most recent results, oldest first.

    Items are ``(graded_at, percentage)`` pairs (or dicts with those keys). Results without a
    usable percentage are skipped; undated ones sort before dated ones (kept in input order).
    """
    rows = []
    for idx, item in enumerate(graded or ()):
        if isinstance(item, Mapping):
            when, pct = item.get("graded_at"), item.get("percentage")
        else:
            when, pct = item[0], item[1]
        value = _pct(pct)
        if value is not None:
            rows.append((_time_key(when), idx, value))
    rows.sort()
    return [v for _, _, v in rows[-window:]]


def compute_risk(
    current_score=None,
    recent_results: Optional[Iterable[Any]] = None,
    skill_mastery=None,
    weights: Optional[Mapping[str, float]] = None,
    engagement=None,
) -> RiskResult:
    """Risk for one student. ``current_score``: Canvas current_score (0–100) or None;
    ``recent_results``: ``[(graded_at, percentage)]`` in any order; ``skill_mastery``: average
    skill mastery 0–100 or None; ``engagement``: engagement index 0–100 or None; ``weights``:
    override of :data:`DEFAULT_WEIGHTS` (same keys).

    Factor ``value`` is the raw input in its own unit (percent for grade / recent / mastery,
    points per result for trend, 0–100 for engagement); ``weight`` is the effective weight
    after renormalization; ``contribution`` is that factor's share of the risk index.
    """
    w = dict(DEFAULT_WEIGHTS)
    if weights:
        unknown = set(weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown risk weights: {sorted(unknown)}")
        w.update(weights)
    if any((not isinstance(v, (int, float))) or v < 0 or not math.isfinite(v) for v in w.values()):
        raise ValueError("risk weights must be finite numbers >= 0")

    grade = _pct(current_score)
    recent = last_results(recent_results or ())
    mastery = _pct(skill_mastery)
    engaged = _pct(engagement)

    # (name, raw value, raw weight, performance in [0, 1])
    parts: list[tuple[str, float, float, float]] = []
    if grade is not None:
        parts.append(("current_grade", grade, w["current_grade"], grade / 100.0))
    if recent:
        mean = sum(recent) / len(recent)
        share = 1.0 - SKILL_MASTERY_BLEND if mastery is not None else 1.0
        parts.append(("recent_performance", mean, w["recent_performance"] * share, mean / 100.0))
    if mastery is not None:
        share = SKILL_MASTERY_BLEND if recent else 1.0
        parts.append(("skill_mastery", mastery, w["recent_performance"] * share, mastery / 100.0))
    if len(recent) >= MIN_TREND_POINTS:
        slope = least_squares_slope(recent)
        parts.append(("trend", slope, w["trend"], trend_performance(slope)))
    if engaged is not None:
        parts.append(("engagement", engaged, w["engagement"], engaged / 100.0))

    total = sum(p[2] for p in parts)
    if not parts or total <= 0:
        return RiskResult(
            risk_level="low",
            risk_index=None,
            factors=[{"name": "insufficient_data", "value": None, "weight": 0.0, "contribution": 0.0}],
        )

    factors = []
    index = 0.0
    for name, value, raw_weight, perf in parts:
        weight = raw_weight / total
        contribution = weight * (1.0 - perf)
        index += contribution
        factors.append({
            "name": name,
            "value": round(value, 3),
            "weight": round(weight, 3),
            "contribution": round(contribution, 3),
        })
    # Level from the rounded index, so the number shown and the level can never disagree.
    index = round(max(0.0, min(1.0, index)), 3)
    return RiskResult(risk_level=risk_level_for(index), risk_index=index, factors=factors)
