"""A course's mastery model: settings, stored fits, score model, thresholds, decay."""
import datetime as dt

import pytest

from achieveup.badges.levels import (BADGE_LEVELS, badge_levels_for, level_for_percentage,
                                     levels_from_thresholds)
from achieveup.mastery import fit, model
from achieveup.mastery.calc import (DEFAULT_PARAMS, BKTParams, MasteryModel,
                                    compute_student_mastery, skill_sequences, group_rows,
                                    prepare_course_skills)

UTC = dt.timezone.utc
SKILLS = {1: ["A"], 2: ["A"], 3: ["B"]}


def rows(*answers):
    """[(quiz, question, attempt, day, credit)] -> result dicts."""
    return [{"quiz_id": q, "question_id": n, "attempt": a,
             "graded_at": f"2024-01-{d:02d}T00:00:00Z", "credit": c} for q, n, a, d, c in answers]


def test_defaults_of_the_unconfigured_course():
    s = model.effective(None, 3)
    assert s["mastery_model"] == "recency" and s["bkt_parameters"] == "fitted"
    assert s["calculation_int"] is None
    assert s["min_evidence"] == 3 and s["decay"]["enabled"] is False
    params, m = model.build(s, [])
    assert params == DEFAULT_PARAMS and m.levels == levels_from_thresholds(
        dict(BADGE_LEVELS)) and m.score == "recency" and m.decay_half_life_days is None
    assert m.recency is None and m.calculation_int is None      # no stored fit yet


def test_invalid_stored_settings_are_ignored_field_by_field():
    doc = {"mastery_model": "magic", "badge_thresholds": {"beginner": 60, "intermediate": 50,
                                                          "advanced": 75, "expert": 90},
           "min_evidence": 5, "fixed_parameters": {"p_slip": 0.9}, "decay": {"enabled": "yes"}}
    s = model.effective(doc, 3)
    assert s["mastery_model"] == model.DEFAULTS["mastery_model"]
    assert s["badge_thresholds"] == model.DEFAULTS["badge_thresholds"]
    assert s["fixed_parameters"] == model.DEFAULTS["fixed_parameters"]
    assert s["decay"] == model.DEFAULTS["decay"]
    assert s["min_evidence"] == 5


@pytest.mark.parametrize("thresholds", [
    {"beginner": 25, "intermediate": 25, "advanced": 75, "expert": 90},   # not increasing
    {"beginner": -1, "intermediate": 50, "advanced": 75, "expert": 90},   # below 0
    {"beginner": 25, "intermediate": 50, "advanced": 75, "expert": 101},  # above 100
    {"beginner": 25, "intermediate": 50, "advanced": 75},                 # missing level
])
def test_levels_from_thresholds_refuses_bad_thresholds(thresholds):
    with pytest.raises(ValueError):
        levels_from_thresholds(thresholds)


def test_custom_thresholds_drive_labels_and_badges_alike():
    levels = levels_from_thresholds({"beginner": 10, "intermediate": 40, "advanced": 60,
                                     "expert": 95})
    assert level_for_percentage(59.9, levels) == "intermediate"
    assert badge_levels_for(59.9, 5, 3, levels) == ["beginner", "intermediate"]
    out = compute_student_mastery(rows((1, 1, 1, 1, 1.0), (1, 2, 1, 1, 1.0), (1, 3, 1, 1, 0.0),
                                       (2, 1, 1, 2, 1.0), (2, 2, 1, 2, 0.0)), SKILLS,
                                  model=MasteryModel(levels=levels))
    assert out["A"].score == 75.0 and out["A"].level == "advanced"  # 60 <= 75 < 95
    assert out["B"].level == "beginner"                              # started, 0 %


def test_bkt_score_model_and_labels():
    params = {"A": BKTParams(p_init=0.5, p_transit=0.2, p_slip=0.05, p_guess=0.1)}
    m = MasteryModel(score="bkt", skill_params=params, sources={"A": "fitted"},
                     default_source="course")
    out = compute_student_mastery(rows((1, 1, 1, 1, 1.0), (1, 3, 1, 1, 1.0)), SKILLS, model=m)
    a, b = out["A"], out["B"]
    assert a.model == "bkt_fitted" and b.model == "bkt_course"
    assert a.score == round(100 * a.p_mastery, 1) and a.score != a.percentage
    assert a.p_mastery != b.p_mastery          # per-skill parameters are used
    none = compute_student_mastery([], SKILLS, model=m)["A"]
    assert none.level == "not_started" and none.score == 0.0 and none.p_mastery == 0.5


def test_decay_lowers_an_unpractised_skill_toward_its_prior():
    answers = rows(*[(1, 1, a, 1, 1.0) for a in (1, 2, 3, 4)])
    now = dt.datetime(2024, 1, 31, tzinfo=UTC)              # 30 days after the last answer
    fresh = compute_student_mastery(answers, SKILLS)["A"].p_mastery
    decayed = compute_student_mastery(
        answers, SKILLS, model=MasteryModel(decay_half_life_days=30, now=now))["A"]
    p0 = DEFAULT_PARAMS.p_init
    assert decayed.p_mastery == pytest.approx(p0 + (fresh - p0) / 2, abs=1e-4)
    assert decayed.percentage == 100.0                      # the percentage does not decay
    assert compute_student_mastery(answers, SKILLS, model=MasteryModel(
        decay_half_life_days=30, now=dt.datetime(2023, 12, 1, tzinfo=UTC)))["A"].p_mastery \
        == fresh                                            # nothing before the last answer


def test_skill_sequences_follow_the_tracing_order():
    answers = [["9", "2", 2, "2024-01-05T00:00:00Z", 1.0, 1], ["9", "1", 1, "2024-01-02T00:00:00Z",
                                                               0.0, 1],
               ["9", "2", 1, "2024-01-02T00:00:00Z", 0.5, 1], ["9", "3", 1, "2024-01-02T00:00:00Z",
                                                               1.0, 1]]
    prepared = prepare_course_skills({"1": ["A"], "2": ["A", "B"], "3": ["B"]})
    seqs = skill_sequences(group_rows(answers), prepared)
    assert seqs == {"A": [0.0, 0.5, 1.0], "B": [0.5, 1.0, 1.0]}
    into: dict = {}
    skill_sequences(group_rows(answers), prepared, into=into)
    skill_sequences(group_rows(answers[:1]), prepared, into=into)
    assert into == {"A": [[0.0, 0.5, 1.0], [1.0]], "B": [[0.5, 1.0, 1.0], [1.0]]}


def _fit_docs(forgetting=False, rows_seen=1000, skills=("A", "B")):
    course, fits = fit.fit_course({"A": [[1.0, 0.0, 1.0, 1.0]] * 30, "B": [[0.0]] * 3},
                                  forgetting=forgetting)
    fits = {k: v for k, v in fits.items() if k in skills}
    return model.fit_documents("7", course, fits, forgetting=forgetting, rows=rows_seen,
                               now=dt.datetime(2024, 2, 1, tzinfo=UTC))


def test_fit_documents_and_build_use_fitted_skills_and_course_fallback():
    docs = _fit_docs()
    by_id = {d["_id"]: d for d in docs}
    assert by_id["7|A"]["source"] == "fitted" and by_id["7|B"]["source"] == "course"
    assert set(by_id["7|A"]["params"]) == set(model.PARAM_NAMES)
    assert by_id["7|A"]["evidence"] == {"observations": 120, "students": 30}
    assert by_id["7|*course*"]["evidence"]["rows"] == 1000
    s = model.effective({"mastery_model": "bkt", "mastery_threshold": 0.9}, 3)
    params, m = model.build(s, docs)
    assert m.sources == {"A": "fitted"} and m.default_source == "course"
    assert params.mastery_threshold == 0.9 and m.skill_params["A"].mastery_threshold == 0.9
    # fixed parameters ignore the stored fit
    fixed = model.effective({"bkt_parameters": "fixed",
                             "fixed_parameters": {"p_init": 0.2, "p_transit": 0.3,
                                                  "p_slip": 0.1, "p_guess": 0.2}}, 3)
    params, m = model.build(fixed, docs)
    assert params.p_transit == 0.3 and m.skill_params == {} and m.default_source == "fixed"
    # a fit made under the other forgetting option is not used
    params, m = model.build(model.effective({"forgetting": True}, 3), docs)
    assert m.skill_params == {} and m.default_source == "default"


def test_refit_due():
    s = model.effective(None, 3)
    docs = _fit_docs(rows_seen=1000)
    assert model.refit_due(s, [], 10, ["A"]) is True                     # never fitted
    assert model.refit_due(s, [], 0, ["A"]) is False                     # nothing to fit
    assert model.refit_due(s, docs, 1000, ["A", "B"]) is False           # nothing new
    assert model.refit_due(s, docs, 1199, ["A", "B"]) is False           # a trickle
    assert model.refit_due(s, docs, 1200, ["A", "B"]) is True            # 200 rows and 10 %
    assert model.refit_due(s, docs, 1000, ["A", "B", "C"]) is True       # a new skill
    assert model.refit_due(model.effective({"forgetting": True}, 3), docs, 1000, ["A"]) is True
    assert model.refit_due(model.effective({"bkt_parameters": "fixed"}, 3), [], 10**6,
                           ["A"]) is False
