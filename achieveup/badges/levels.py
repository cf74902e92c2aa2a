"""Badge levels: which skill badges a mastery percentage earns.

Pure computation, no I/O. The same thresholds drive two things that must never disagree:
the ``level`` label shown next to a skill (see ``achieveup.mastery.calc``) and the badges
actually awarded. Keeping them in one tuple here is what guarantees that.

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


def level_for_percentage(percentage) -> Optional[str]:
    """Highest badge level whose threshold ``percentage`` reaches, or None below "beginner".

    Evidence is not considered here; this answers "what does this score correspond to".
    None/NaN gives None.
    """
    value = finite_float(percentage)
    if value is None:
        return None
    reached = None
    for name, threshold in BADGE_LEVELS:
        if value >= threshold:
            reached = name
        else:
            break
    return reached


def badge_levels_for(percentage, evidence_count, min_evidence: int = DEFAULT_MIN_EVIDENCE) -> list[str]:
    """All badge levels earned, in ascending order (reaching "advanced" also earns the two below).

    Empty when ``evidence_count < min_evidence`` or the percentage is missing: a badge is a
    claim about the student, and too little evidence cannot support it.
    """
    value = finite_float(percentage)
    if value is None or evidence_count is None or evidence_count < min_evidence:
        return []
    return [name for name, threshold in BADGE_LEVELS if value >= threshold]


def highest_level(percentage, evidence_count, min_evidence: int = DEFAULT_MIN_EVIDENCE) -> Optional[str]:
    """The top level from :func:`badge_levels_for`, or None when no badge is earned."""
    levels = badge_levels_for(percentage, evidence_count, min_evidence)
    return levels[-1] if levels else None
