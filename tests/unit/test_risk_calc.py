import math
from datetime import datetime, timezone

import pytest

from knowgap.risk.calc import (
    DEFAULT_WEIGHTS,
    LOW_MAX,
    MEDIUM_MAX,
    RiskResult,
    compute_risk,
    last_results,
    least_squares_slope,
    risk_level_for,
    trend_performance,
)


def _days(values):
    return [(f"2024-03-{i + 1:02d}T10:00:00Z", v) for i, v in enumerate(values)]


def test_default_weights_canvas_components_sum_to_one_engagement_adds():
    assert DEFAULT_WEIGHTS == {"recent_performance": 0.30, "current_grade": 0.55, "trend": 0.15,
                               "engagement": 0.15}
    canvas = {k: v for k, v in DEFAULT_WEIGHTS.items() if k != "engagement"}
    assert math.isclose(sum(canvas.values()), 1.0)


def test_engagement_is_one_more_factor_by_hand():
    # grade 60 -> .6 (w .55), engagement 20 -> .2 (w .15); renormalized over .70:
    # grade .7857, engagement .2143; risk = .7857 * .4 + .2143 * .8 = .3143 + .1714 = .4857
    r = compute_risk(60, engagement=20)
    by_name = {f["name"]: f for f in r.factors}
    assert set(by_name) == {"current_grade", "engagement"}
    assert by_name["engagement"] == {"name": "engagement", "value": 20.0, "weight": 0.214,
                                     "contribution": 0.171}
    assert r.risk_index == 0.486 and r.risk_level == "medium"
    # without it nothing changes: the grade alone decides
    assert compute_risk(60).risk_index == 0.4
    # more engagement, less risk
    assert compute_risk(60, engagement=90).risk_index < r.risk_index


def test_least_squares_slope():
    assert least_squares_slope([50, 60, 55, 45, 40]) == pytest.approx(-3.5)
    assert least_squares_slope([10, 20, 30]) == pytest.approx(10.0)
    assert least_squares_slope([70, 70, 70]) == 0.0
    assert least_squares_slope([80]) == 0.0
    assert least_squares_slope([]) == 0.0


def test_trend_mapping_flat_is_half_and_saturates_at_10_points():
    assert trend_performance(0) == 0.5
    assert trend_performance(5) == 0.75
    assert trend_performance(10) == 1.0
    assert trend_performance(25) == 1.0
    assert trend_performance(-10) == 0.0
    assert trend_performance(-3.5) == pytest.approx(0.325)


def test_all_components_by_hand():
    # grade 60 -> .6; recent mean 50 -> .5; slope -3.5 -> .325
    # performance = .55*.6 + .30*.5 + .15*.325 = .52875 ; risk = .47125
    r = compute_risk(60, _days([50, 60, 55, 45, 40]))
    assert r.risk_index == 0.471
    assert r.risk_level == "medium"
    by_name = {f["name"]: f for f in r.factors}
    assert set(by_name) == {"current_grade", "recent_performance", "trend"}
    assert by_name["current_grade"] == {"name": "current_grade", "value": 60.0, "weight": 0.55, "contribution": 0.22}
    assert by_name["recent_performance"]["contribution"] == 0.15
    assert by_name["trend"]["value"] == -3.5
    assert by_name["trend"]["contribution"] == pytest.approx(0.101, abs=1e-3)
    assert sum(f["contribution"] for f in r.factors) == pytest.approx(r.risk_index, abs=2e-3)


def test_uses_last_five_by_date_not_input_order():
    rows = _days([0, 0, 0, 100, 100, 100, 100, 100])
    rows.reverse()
    assert last_results(rows) == [100.0] * 5
    # no grade: weights renormalized to recent .30/.45 and trend .15/.45 (flat -> .5)
    # performance = 2/3 * 1 + 1/3 * .5 = .8333 -> risk .167
    r = compute_risk(None, rows)
    assert r.risk_index == 0.167
    assert r.risk_level == "low"
    assert {f["name"]: f["weight"] for f in r.factors} == {"recent_performance": 0.667, "trend": 0.333}


def test_mixed_timestamp_types_and_dict_rows():
    rows = [
        {"graded_at": datetime(2024, 1, 3, tzinfo=timezone.utc), "percentage": 30},
        ("2024-01-01T00:00:00Z", 90),
        ("2024-01-02T05:00:00+05:00", 80),  # 2024-01-02T00:00Z
    ]
    assert last_results(rows) == [90.0, 80.0, 30.0]


def test_renormalization_when_only_grade_is_known():
    r = compute_risk(72.5, [])
    assert r.risk_index == 0.275
    assert r.risk_level == "low"
    assert r.factors == [{"name": "current_grade", "value": 72.5, "weight": 1.0, "contribution": 0.275}]


def test_trend_needs_three_results():
    r = compute_risk(None, _days([90, 30]))
    assert [f["name"] for f in r.factors] == ["recent_performance"]
    assert r.risk_index == 0.4
    r3 = compute_risk(None, _days([90, 60, 30]))
    assert "trend" in [f["name"] for f in r3.factors]


def test_skill_mastery_is_blended_into_performance_slot():
    # recent 80 and mastery 40 share the .30 weight half/half
    r = compute_risk(80, _days([80, 80, 80]), skill_mastery=40)
    w = {f["name"]: f["weight"] for f in r.factors}
    assert w == {"current_grade": 0.55, "recent_performance": 0.15, "skill_mastery": 0.15, "trend": 0.15}
    # perf = .55*.8 + .15*.8 + .15*.4 + .15*.5 = .695 -> .305
    assert r.risk_index == 0.305
    # without recent results mastery takes the whole slot: (.55*.8 + .30*.4)/.85
    r2 = compute_risk(80, None, skill_mastery=40)
    assert {f["name"]: f["weight"] for f in r2.factors} == {"current_grade": 0.647, "skill_mastery": 0.353}
    assert r2.risk_index == round(1 - (0.55 * 0.8 + 0.30 * 0.4) / 0.85, 3)


def test_levels_and_thresholds():
    assert (LOW_MAX, MEDIUM_MAX) == (0.35, 0.60)
    assert risk_level_for(0.0) == "low"
    assert risk_level_for(0.349) == "low"
    assert risk_level_for(0.35) == "medium"
    assert risk_level_for(0.599) == "medium"
    assert risk_level_for(0.6) == "high"
    assert risk_level_for(None) == "low"
    assert compute_risk(65, []).risk_level == "medium"  # .35 exactly
    assert compute_risk(40, []).risk_level == "high"
    assert compute_risk(95, _days([95, 96, 97, 98, 99])).risk_level == "low"
    # same grade and mean (60), falling vs flat: the trend alone moves it by .15 * .5
    falling = compute_risk(55, _days([90, 75, 60, 45, 30]))
    flat = compute_risk(55, _days([60, 60, 60, 60, 60]))
    assert falling.risk_index == pytest.approx(0.5175, abs=1e-3) and falling.risk_level == "medium"
    assert falling.risk_index - flat.risk_index == pytest.approx(0.075, abs=1e-3)
    assert compute_risk(40, _days([90, 75, 60, 45, 30])).risk_level == "high"


def test_no_data_is_low_with_no_index_and_an_explanation():
    r = compute_risk(None, None, None)
    assert isinstance(r, RiskResult)
    assert r.risk_level == "low"
    assert r.risk_index is None
    assert r.factors == [{"name": "insufficient_data", "value": None, "weight": 0.0, "contribution": 0.0}]
    assert r.to_dict() == {"risk_level": "low", "risk_index": None, "factors": r.factors}
    assert compute_risk("n/a", [("2024-01-01", None)]).risk_index is None


def test_out_of_range_inputs_are_clamped():
    assert compute_risk(130, []).risk_index == 0.0
    assert compute_risk(-5, []).risk_index == 1.0


def test_custom_weights():
    r = compute_risk(50, _days([100, 100, 100]), weights={"current_grade": 1.0, "recent_performance": 0.0, "trend": 0.0})
    assert r.risk_index == 0.5
    with pytest.raises(ValueError):
        compute_risk(50, [], weights={"attendance": 1})
    with pytest.raises(ValueError):
        compute_risk(50, [], weights={"trend": -1})
