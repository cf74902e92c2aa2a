"""Canvas Outcomes' calculation methods (achieveup/mastery/outcomes.py) and their use as a
course's score model in calc.

Expected values follow Canvas's own code and specs (instructure/canvas-lms
``app/models/rollup_score.rb``: the legacy decaying average of scores 1, 2, 3, 4, 5 with weight
65 is ``5 * 0.65 + (1+2+3+4)/4 * 0.35 = 4.125``; ``OutcomeCalculationMethod``'s
``VALID_CALCULATION_INTS``), here on a 0-100 scale (x 20)."""
import pytest

from achieveup.mastery import outcomes
from achieveup.mastery.calc import MasteryModel, compute_student_mastery

R = outcomes.Result


def results(*percents):
    """Results dated one day apart, in the order given."""
    return [R(f"q{i}", f"2024-09-{i + 1:02d}T00:00:00.000000Z", p / 100.0, 3)
            for i, p in enumerate(percents)]


def test_decaying_average_is_canvas_legacy_weighted_average():
    # rollup_score_spec: (5 * 0.65) + ((1+2+3+4)/4 * 0.35) = 4.125 on a 5-point scale
    roll = outcomes.rollup("decaying_average", results(20, 40, 60, 80, 100), 65)
    assert roll.score == pytest.approx(82.5)
    assert outcomes.rollup("weighted_average", results(20, 40, 60, 80, 100), 65).score == \
        pytest.approx(82.5)
    assert outcomes.rollup("decaying_average", results(70), 65).score == pytest.approx(70)
    # the default weight is Canvas's 65
    assert outcomes.rollup("decaying_average", results(0, 100)).score == pytest.approx(65)


def test_standard_decaying_average_runs_over_every_result():
    value = 20.0
    for s in (40, 60, 80, 100):
        value = value * 0.35 + s * 0.65
    roll = outcomes.rollup("standard_decaying_average", results(20, 40, 60, 80, 100), 65)
    assert roll.score == pytest.approx(value)           # 89.39...
    assert outcomes.rollup("standard_decaying_average", results(55)).score == pytest.approx(55)


def test_results_are_taken_oldest_first_whatever_the_input_order():
    ordered = results(0, 100)
    assert outcomes.rollup("latest", list(reversed(ordered))).score == 100.0
    assert outcomes.rollup("decaying_average", list(reversed(ordered)), 80).score == \
        pytest.approx(80.0)


def test_n_mastery_averages_the_results_at_mastery_once_there_are_n():
    rs = results(80, 90, 60, 74.9)
    two = outcomes.rollup("n_mastery", rs, 2, mastery_percent=75)
    assert two.score == pytest.approx(85.0) and len(two.used) == 2
    three = outcomes.rollup("n_mastery", rs, 3, mastery_percent=75)
    assert three.score is None and three.needed == 1
    assert outcomes.rollup("n_mastery", rs, 1, mastery_percent=60).score == \
        pytest.approx((80 + 90 + 60 + 74.9) / 4)


def test_highest_latest_average():
    rs = results(40, 90, 70)
    assert outcomes.rollup("highest", rs).score == 90.0
    assert outcomes.rollup("latest", rs).score == 70.0
    assert outcomes.rollup("average", rs).score == pytest.approx(200 / 3)
    assert outcomes.rollup("average", []).score is None


@pytest.mark.parametrize("method,value,ok", [
    ("decaying_average", 1, True), ("decaying_average", 99, True),
    ("decaying_average", 0, False), ("decaying_average", 100, False),
    ("weighted_average", 50, True),
    ("standard_decaying_average", 50, True), ("standard_decaying_average", 49, False),
    ("n_mastery", 10, True), ("n_mastery", 11, False), ("n_mastery", True, False),
    ("n_mastery", None, True),                  # null: the method's default
    ("highest", None, True), ("highest", 5, False), ("average", 65, False),
    ("recency", None, True), ("recency", 65, False),
])
def test_calculation_int_ranges_are_canvas_ranges(method, value, ok):
    assert (outcomes.int_problem(method, value) is None) is ok


def test_defaults_are_canvas_defaults():
    assert outcomes.default_int("decaying_average") == 65
    assert outcomes.default_int("standard_decaying_average") == 65
    assert outcomes.default_int("n_mastery") == 5
    assert outcomes.default_int("latest") is None


# ------------------------------------------------------------------ as a course's score model

SKILLS = {1: ["A"], 2: ["A"], 3: ["A"], 4: ["B"]}


def row(quiz, question, attempt, day, credit, points=1.0):
    return {"quiz_id": quiz, "question_id": question, "attempt": attempt,
            "graded_at": f"2024-09-{day:02d}T10:00:00Z", "credit": credit,
            "points_possible": points}


def test_a_quiz_result_is_its_latest_attempt_points_weighted():
    rows = [row(10, 1, 1, 1, 1.0), row(10, 2, 1, 1, 1.0, 3.0),      # attempt 1: 4 of 4 points
            row(10, 1, 2, 2, 1.0), row(10, 2, 2, 2, 0.0, 3.0),      # attempt 2: 1 of 4 points
            row(20, 3, 1, 9, 1.0)]
    latest = compute_student_mastery(rows, SKILLS, model=MasteryModel(score="latest"))["A"]
    assert latest.score == 100.0 and latest.model == "latest" and latest.evidence == 1
    average = compute_student_mastery(rows, SKILLS, model=MasteryModel(score="average"))["A"]
    assert average.score == pytest.approx(62.5)                   # (25 + 100) / 2
    highest = compute_student_mastery(rows, SKILLS, model=MasteryModel(score="highest"))["A"]
    assert highest.score == 100.0
    # keep_highest keeps attempt 1 for the gradebook percentage; Canvas's result is attempt 2
    pct = compute_student_mastery(rows, SKILLS, policy_by_quiz={10: "keep_highest"})["A"]
    assert pct.percentage == 100.0 and pct.model == "percentage"


def test_decaying_average_explains_itself():
    rows = [row(10, 1, 1, 1, 0.0), row(20, 2, 1, 8, 1.0), row(30, 3, 1, 15, 1.0),
            row(40, 1, 1, 22, 1.0)]
    m = compute_student_mastery(rows, SKILLS, model=MasteryModel(score="decaying_average"))["A"]
    assert m.score == pytest.approx(round(100 * 0.65 + (200 / 3) * 0.35, 1))
    assert m.explanation == ("Canvas decaying average: your latest quiz result (100 %) counts "
                             "65 %, the average of your 3 earlier ones (66.7 %) 35 %.")
    assert m.evidence == 4


def test_n_mastery_without_enough_results_has_no_score_yet():
    rows = [row(10, 1, 1, 1, 1.0), row(20, 2, 1, 8, 1.0), row(30, 3, 1, 15, 0.0)]
    m = compute_student_mastery(rows, SKILLS, model=MasteryModel(score="n_mastery"))["A"]
    assert m.score == 0.0 and m.level == "beginner" and m.evidence == 2
    assert "needs 5 quiz results at or above 75 %: you have 2 of your 3" in m.explanation
    ok = compute_student_mastery(rows, SKILLS, model=MasteryModel(score="n_mastery",
                                                                   calculation_int=2))["A"]
    assert ok.score == 100.0 and ok.level == "expert"
    # mastery is the course's "advanced" threshold
    strict = MasteryModel(score="n_mastery", calculation_int=2,
                          levels=(("beginner", 10), ("intermediate", 20), ("advanced", 100.1),
                                  ("expert", 100.2)))
    assert compute_student_mastery(rows, SKILLS, model=strict)["A"].score == 0.0


def test_an_invalid_calculation_int_is_refused():
    with pytest.raises(ValueError, match="from 1 to 10"):
        MasteryModel(score="n_mastery", calculation_int=12)
    with pytest.raises(ValueError, match="null"):
        MasteryModel(score="latest", calculation_int=3)


def test_skills_without_answers_are_not_started_under_every_method():
    rows = [row(10, 1, 1, 1, 1.0)]
    for method in outcomes.METHODS:
        b = compute_student_mastery(rows, SKILLS, model=MasteryModel(score=method))["B"]
        assert b.level == "not_started" and b.score == 0.0 and b.evidence == 0
