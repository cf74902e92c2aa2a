"""Engagement index (0-100) of one student in one course, with each factor's share. Pure.

Signals (each optional; the index is renormalized over the ones that exist, like the risk
index):

* ``on_time`` (weight 0.35): of the student's quizzes that count (submitted, or marked missing
  by Canvas; excused ones never count), the share handed in on time: on time 1, late 0.5
  (Canvas' ``late``), missing 0 (Canvas' ``missing``: past due and not submitted). Quizzes not
  yet due and not submitted do not count, so nobody is penalized for work that is not due.
* ``participation`` (0.25): quiz attempts per counted quiz, capped at 1 (a retake makes up
  for nothing missed but shows effort where it happens).
* ``recency`` (0.25): days between the student's latest quiz submission and the course's
  latest one (its own clock, so a finished course does not make everyone look inactive):
  full marks up to ``ACTIVE_DAYS`` (7), none from ``INACTIVE_DAYS`` (28), linear in between;
  none at all when the student has never submitted while classmates have.
* ``videos`` (0.15): share of the KnowGap videos recommended for the questions the student
  missed that they marked watched (absent when no video was recommended).

``index = 100 * sum(weight_i * performance_i) / sum(weight_i)`` over the available factors;
each factor's ``points`` is its term of that sum, so the points add up to the index (the
explanation), and ``max_points`` is what the factor would give at full performance. Levels:
``high`` from 70, ``medium`` from 40, else ``low``; with no signal at all the index and level
are None and ``factors`` is empty.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping, Optional

from knowgap.core.clock import parse as when

WEIGHTS = {"on_time": 0.35, "participation": 0.25, "recency": 0.25, "videos": 0.15}
ACTIVE_DAYS = 7.0
INACTIVE_DAYS = 28.0
HIGH_FROM = 70.0
MEDIUM_FROM = 40.0
LATE_CREDIT = 0.5


def level_for(index: Optional[float]) -> Optional[str]:
    if index is None:
        return None
    return "high" if index >= HIGH_FROM else "medium" if index >= MEDIUM_FROM else "low"


def _submitted(sub: Mapping) -> bool:
    return sub.get("submitted_at") is not None or (sub.get("attempt") or 0) > 0


def recency_performance(days: float) -> float:
    if days <= ACTIVE_DAYS:
        return 1.0
    if days >= INACTIVE_DAYS:
        return 0.0
    return (INACTIVE_DAYS - days) / (INACTIVE_DAYS - ACTIVE_DAYS)


def last_activity(submissions: Iterable[Mapping]) -> Optional[dt.datetime]:
    stamps = [when(s.get("submitted_at")) for s in submissions]
    stamps = [s for s in stamps if s is not None]
    return max(stamps) if stamps else None


def engagement_index(submissions: Iterable[Mapping], reference=None, *,
                     videos_recommended: int = 0, videos_watched: int = 0) -> dict:
    """``{index, level, factors}`` for one student.

    ``submissions``: the student's quiz submissions in the course, each ``{late, missing,
    excused, submitted_at, attempt}`` (Canvas' assignment submission fields);
    ``reference``: the course's latest quiz submission (datetime or ISO string);
    ``videos_recommended`` / ``videos_watched``: distinct KnowGap videos for the student's
    missed questions, and how many of those they watched.
    """
    subs = [s for s in submissions if not s.get("excused")]
    counted = [s for s in subs if _submitted(s) or s.get("missing")]
    parts: list[tuple[str, float, float, str, float]] = []   # name, value, perf, detail, w
    if counted:
        on_time = sum(1 for s in counted if _submitted(s) and not s.get("late"))
        late = sum(1 for s in counted if _submitted(s) and s.get("late"))
        missing = len(counted) - on_time - late
        perf = (on_time + LATE_CREDIT * late) / len(counted)
        quizzes = f"{len(counted)} quiz{'zes' if len(counted) != 1 else ''}"
        parts.append(("on_time", round(100.0 * on_time / len(counted), 1), perf,
                      f"{on_time} of {quizzes} on time, {late} late, {missing} missing",
                      WEIGHTS["on_time"]))
        attempts = sum(max(1, int(s.get("attempt") or 0)) for s in counted if _submitted(s))
        per_quiz = attempts / len(counted)
        parts.append(("participation", round(per_quiz, 2), min(1.0, per_quiz),
                      f"{attempts} attempt{'s' if attempts != 1 else ''} on {quizzes} due "
                      f"or done", WEIGHTS["participation"]))
    reference = when(reference)
    if reference is not None:
        last = last_activity(subs)
        if last is None:
            parts.append(("recency", None, 0.0, "no quiz submitted yet while classmates have",
                          WEIGHTS["recency"]))
        else:
            days = max(0.0, (reference - last).total_seconds() / 86400.0)
            detail = ("last quiz submitted within a day of the course's latest submission"
                      if days < 1 else f"last quiz submitted {days:.0f} days before the "
                                       f"course's latest submission")
            parts.append(("recency", round(days, 1), recency_performance(days), detail,
                          WEIGHTS["recency"]))
    if videos_recommended > 0:
        watched = min(videos_watched, videos_recommended)
        parts.append(("videos", round(100.0 * watched / videos_recommended, 1),
                      watched / videos_recommended,
                      f"{watched} of {videos_recommended} recommended videos watched",
                      WEIGHTS["videos"]))
    total = sum(p[4] for p in parts)
    if not parts or total <= 0:
        return {"index": None, "level": None, "factors": []}
    factors = []
    index = 0.0
    for name, value, perf, detail, w in parts:
        weight = w / total
        points = 100.0 * weight * perf
        index += points
        factors.append({"name": name, "value": value, "detail": detail,
                        "weight": round(weight, 3), "performance": round(perf, 3),
                        "max_points": round(100.0 * weight, 1), "points": round(points, 1)})
    index = round(max(0.0, min(100.0, index)), 1)
    return {"index": index, "level": level_for(index), "factors": factors}
