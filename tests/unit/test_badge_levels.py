import pytest

from achieveup.badges.levels import (
    BADGE_LEVELS,
    badge_levels_for,
    highest_level,
    level_for_percentage,
)


def test_thresholds_are_the_documented_ones():
    assert BADGE_LEVELS == (("beginner", 25), ("intermediate", 50), ("advanced", 75), ("expert", 90))


@pytest.mark.parametrize(
    "pct, expected",
    [(0, None), (24.9, None), (25, "beginner"), (49.99, "beginner"), (50, "intermediate"),
     (74.9, "intermediate"), (75, "advanced"), (89.9, "advanced"), (90, "expert"), (100, "expert"),
     (None, None), (float("nan"), None), ("80", "advanced")],
)
def test_level_for_percentage(pct, expected):
    assert level_for_percentage(pct) == expected


def test_badge_levels_for_lists_every_level_reached():
    assert badge_levels_for(80, 5) == ["beginner", "intermediate", "advanced"]
    assert badge_levels_for(95, 3) == ["beginner", "intermediate", "advanced", "expert"]
    assert badge_levels_for(10, 10) == []


def test_badge_levels_need_enough_evidence():
    assert badge_levels_for(100, 2) == []
    assert badge_levels_for(100, 2, min_evidence=2) == ["beginner", "intermediate", "advanced", "expert"]
    assert badge_levels_for(100, 0, min_evidence=0) == ["beginner", "intermediate", "advanced", "expert"]
    assert badge_levels_for(None, 10) == []


def test_highest_level():
    assert highest_level(76, 3) == "advanced"
    assert highest_level(76, 2) is None
    assert highest_level(20, 30) is None
