"""Badge levels: which skill badges a mastery percentage earns.

Pure computation, no I/O. The same thresholds drive two things that must never disagree:
the ``level`` label shown next to a skill (see ``achieveup.mastery.calc``) and the badges
actually awarded. Both take the same ``levels`` tuple (the defaults here, or a course's own
thresholds from :func:`levels_from_thresholds`), which is what guarantees that.

Why a minimum amount of evidence: a student who answered a single question right is at 100%,
but one answer says almost nothing about a skill. Badges are shareable credentials, so we only
award them once a skill has been exercised by at least ``min_evidence`` graded questions.
"""
from __future__ import annotations

from typing import Optional

from knowgap.core.numbers import finite_float

#: (level, minimum percentage) in ascending order. The percentage is inclusive: 25.0 earns
#: "beginner". The 75% "advanced" threshold matches Canvas Outcomes' default mastery point
#: (3 of 4, "Mastery").
BADGE_LEVELS: tuple[tuple[str, float], ...] = (
    ("beginner", 25),
    ("intermediate", 50),
    ("advanced", 75),
    ("expert", 90),
)

#: Level names in ascending order.
LEVEL_NAMES: tuple[str, ...] = tuple(name for name, _ in BADGE_LEVELS)

#: Graded questions on a skill needed before any badge is awarded.
DEFAULT_MIN_EVIDENCE = 3


def thresholds_of(levels=BADGE_LEVELS) -> dict[str, float]:
    """``{level: minimum percentage}`` (the settings form of a levels tuple)."""
    return {name: threshold for name, threshold in levels}


def levels_from_thresholds(thresholds) -> tuple[tuple[str, float], ...]:
    """A levels tuple from ``{level: minimum percentage}`` naming every level of
    ``LEVEL_NAMES``; the thresholds must be within 0-100 and strictly increasing in level
    order (otherwise a higher badge could be easier to earn than a lower one)."""
    missing = [name for name in LEVEL_NAMES if name not in (thresholds or {})]
    if missing:
        raise ValueError(f"thresholds missing for {', '.join(missing)}")
    values = [finite_float(thresholds[name]) for name in LEVEL_NAMES]
    if any(v is None or not 0.0 <= v <= 100.0 for v in values):
        raise ValueError("every threshold must be a number from 0 to 100")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError("thresholds must increase from " + " to ".join(LEVEL_NAMES))
    return tuple(zip(LEVEL_NAMES, values))


def level_for_percentage(percentage, levels=BADGE_LEVELS) -> Optional[str]:
    """Highest badge level whose threshold ``percentage`` reaches, or None below the first.

    Evidence is not considered here; this answers "what does this score correspond to".
    None/NaN gives None.
    """
    value = finite_float(percentage)
    if value is None:
        return None
    reached = None
    for name, threshold in levels:
        if value >= threshold:
            reached = name
        else:
            break
    return reached


def badge_levels_for(percentage, evidence_count, min_evidence: int = DEFAULT_MIN_EVIDENCE,
                     levels=BADGE_LEVELS) -> list[str]:
    """All badge levels earned, in ascending order (reaching "advanced" also earns the two below).

    Empty when ``evidence_count < min_evidence`` or the percentage is missing: a badge is a
    claim about the student, and too little evidence cannot support it.
    """
    value = finite_float(percentage)
    if value is None or evidence_count is None or evidence_count < min_evidence:
        return []
    return [name for name, threshold in levels if value >= threshold]


def highest_level(percentage, evidence_count, min_evidence: int = DEFAULT_MIN_EVIDENCE,
                  levels=BADGE_LEVELS) -> Optional[str]:
    """The top level from :func:`badge_levels_for`, or None when no badge is earned."""
    earned = badge_levels_for(percentage, evidence_count, min_evidence, levels)
    return earned[-1] if earned else None
