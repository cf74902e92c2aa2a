import dataclasses
import random

import pytest

from achieveup.mastery.calc import (
    BKTParams,
    SkillMastery,
    bkt_update,
    compute_course_mastery,
    compute_student_mastery,
    kept_credits,
    mastery_time_series,
    normalize_correct,
    prepare_question_skills,
    select_attempts,
)

P = BKTParams()  # p_init .3, T .1, S .1, G .2


# --- normalize_correct -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "correct, points, possible, expected",
    [
        (True, 2, 2, 1.0),
        (False, 0, 2, 0.0),
        ("true", None, None, 1.0),
        ("false", None, None, 0.0),
        (True, 0, 0, 1.0),  # Canvas' verdict wins even on a 0-point question
        ("partial", 1, 4, 0.25),
        ("partial", 5, 4, 1.0),  # clamped
        ("partial", -1, 4, 0.0),  # clamped
        ("partial", None, 4, None),  # cannot compute: no invented credit
        ("partial", 1, 0, None),
        ("undefined", 0, 5, None),  # essay waiting for the teacher
        ("no_score", 0, 5, None),
        ("defined", 3, 4, 0.75),  # manually graded essay
        (None, None, 5, None),
        (None, 2, 4, 0.5),
    ],
)
def test_normalize_correct(correct, points, possible, expected):
    assert normalize_correct(correct, points, possible) == expected


# --- BKT ---------------------------------------------------------------------------------------

def test_bkt_correct_then_wrong_matches_hand_computation():
    # correct: P(L|1) = .3*.9 / (.3*.9 + .7*.2) = .27/.41 = 0.658537; + (1-.658537)*.1
    p1 = bkt_update(0.3, 1.0, P)
    assert p1 == pytest.approx(0.27 / 0.41 + (1 - 0.27 / 0.41) * 0.1)
    assert p1 == pytest.approx(0.692683, abs=1e-6)
    # wrong: P(L|0) = .692683*.1 / (.692683*.1 + .307317*.8) = 0.219814; + (1-.219814)*.1
    p2 = bkt_update(p1, 0.0, P)
    assert p2 == pytest.approx(0.297833, abs=1e-6)


def test_bkt_partial_credit_interpolates_posteriors():
    p = 0.4
    pc = p * 0.9 / (p * 0.9 + 0.6 * 0.2)
    pw = p * 0.1 / (p * 0.1 + 0.6 * 0.8)
    post = 0.25 * pc + 0.75 * pw
    assert bkt_update(p, 0.25, P) == pytest.approx(post + (1 - post) * 0.1)
    # monotone in credit, and between the two extremes
    values = [bkt_update(p, c / 10, P) for c in range(11)]
    assert values == sorted(values)
    assert values[0] == pytest.approx(bkt_update(p, 0.0, P))
    assert values[-1] == pytest.approx(bkt_update(p, 1.0, P))


def test_bkt_ungraded_is_no_observation():
    assert bkt_update(0.42, None, P) == 0.42


def test_bkt_reaches_mastery_after_consistent_success():
    p = P.p_init
    steps = 0
    while p < P.mastery_threshold:
        p = bkt_update(p, 1.0, P)
        steps += 1
    assert 3 <= steps <= 6


def test_bkt_params_validation_and_frozen():
    with pytest.raises(ValueError):
        BKTParams(p_init=1.5)
    with pytest.raises(ValueError):
        BKTParams(p_slip=0.6, p_guess=0.5)  # degenerate
    with pytest.raises(ValueError):
        BKTParams(p_guess=1.0)
    with pytest.raises(ValueError):
        BKTParams(mastery_threshold=0)
    with pytest.raises(ValueError):
        BKTParams(p_transit="0.1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        P.p_init = 0.5


# --- attempt policy ------------------------------------------------------------------------

HISTORY = [
    {"attempt": 1, "score": 2, "graded_at": "2024-01-01T10:00:00Z", "results": {"1": 1.0, "2": 1.0, "3": 0.0}},
    {"attempt": 2, "score": 3, "graded_at": "2024-01-02T10:00:00Z", "results": {"1": 1.0, "2": 1.0, "3": 1.0}},
    {"attempt": 3, "score": 1, "graded_at": "2024-01-03T10:00:00Z", "results": {"1": 0.0, "2": 1.0, "3": 0.0}},
    {"attempt": 4, "score": None, "graded_at": None, "results": {"1": None}},  # not graded yet
]


def test_select_attempts_policies():
    assert [a["attempt"] for a in select_attempts(HISTORY, "keep_highest")] == [2]
    assert [a["attempt"] for a in select_attempts(HISTORY, "keep_latest")] == [3]
    assert [a["attempt"] for a in select_attempts(list(reversed(HISTORY)), "keep_average")] == [1, 2, 3]
    assert select_attempts([], "keep_latest") == []
    with pytest.raises(ValueError):
        select_attempts(HISTORY, "keep_best")


def test_select_attempts_tie_prefers_later_and_missing_score_is_sum():
    history = [
        {"attempt": 1, "results": {"a": 1.0, "b": 0.5}},
        {"attempt": 2, "results": {"a": 0.5, "b": 1.0}},
    ]
    assert select_attempts(history, "keep_highest")[0]["attempt"] == 2


def test_kept_credits_average():
    assert kept_credits(HISTORY, "keep_average") == pytest.approx({"1": 2 / 3, "2": 1.0, "3": 1 / 3})
    assert kept_credits(HISTORY, "keep_latest") == {"1": 0.0, "2": 1.0, "3": 0.0}


# --- compute_student_mastery ---------------------------------------------------------------

SKILLS = {"1": ["Recursion"], "2": ["Recursion", "Loops"], "3": ["Loops"], "9": ["Sorting"]}


def _rows(quiz_id, attempt, day, credits):
    return [
        {"quiz_id": quiz_id, "question_id": qid, "attempt": attempt,
         "graded_at": f"2024-01-{day:02d}T12:00:00Z", "credit": c}
        for qid, c in credits.items()
    ]


def _history_rows():
    return (
        _rows(10, 1, 1, {1: 0.0, 2: 0.0, 3: 1.0})
        + _rows(10, 2, 2, {1: 1.0, 2: 1.0, 3: 0.0})
    )


def test_policy_changes_percentage_but_bkt_uses_all_attempts():
    rows = _history_rows()
    highest = compute_student_mastery(rows, SKILLS, P, {10: "keep_highest"})
    latest = compute_student_mastery(rows, SKILLS, P, {"10": "keep_latest"})
    average = compute_student_mastery(rows, SKILLS, P, {10: "keep_average"})
    # attempt 2 scores 2 > 1, so highest == latest here
    assert highest["Recursion"].percentage == 100.0
    assert highest["Loops"].percentage == 50.0
    assert latest["Loops"].percentage == 50.0
    # average: q1 .5, q2 .5, q3 .5
    assert average["Recursion"].percentage == 50.0
    assert average["Recursion"].questions_attempted == 2
    assert average["Recursion"].questions_correct == pytest.approx(1.0)
    # BKT identical under every policy and counts every attempt
    for result in (highest, latest, average):
        assert result["Recursion"].evidence_count == 4
        assert result["Loops"].evidence_count == 4
    # Recursion saw: wrong, wrong (attempt 1) then right, right (attempt 2)
    p = P.p_init
    for c in (0.0, 0.0, 1.0, 1.0):
        p = bkt_update(p, c, P)
    assert highest["Recursion"].p_mastery == pytest.approx(round(p, 4))


def test_bkt_is_chronological_regardless_of_input_order():
    rows = _history_rows()
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    a = compute_student_mastery(rows, SKILLS, P)
    b = compute_student_mastery(list(reversed(rows)), SKILLS, P)
    c = compute_student_mastery(shuffled, SKILLS, P)
    assert a["Recursion"].p_mastery == b["Recursion"].p_mastery == c["Recursion"].p_mastery
    # and order matters: learning late is not the same as forgetting late
    forgot = _rows(10, 1, 1, {1: 1.0, 2: 1.0}) + _rows(10, 2, 2, {1: 0.0, 2: 0.0})
    assert compute_student_mastery(forgot, SKILLS, P)["Recursion"].p_mastery < a["Recursion"].p_mastery


def test_keep_highest_uses_whole_attempt_score_including_unmapped_questions():
    # attempt 1: mapped q1 right, unmapped q77/q78 wrong (score 1); attempt 2: q1 wrong,
    # unmapped right (score 2) -> attempt 2 is kept although it is worse for Recursion.
    rows = _rows(5, 1, 1, {1: 1.0, 77: 0.0, 78: 0.0}) + _rows(5, 2, 2, {1: 0.0, 77: 1.0, 78: 1.0})
    out = compute_student_mastery(rows, SKILLS, P, {5: "keep_highest"})
    assert out["Recursion"].percentage == 0.0
    assert out["Recursion"].evidence_count == 2


def test_partial_credit_and_ungraded_results():
    rows = [
        {"quiz_id": 1, "question_id": "1", "attempt": 1, "graded_at": "2024-02-01T00:00:00Z", "credit": 0.5},
        {"quiz_id": 1, "question_id": "3", "attempt": 1, "graded_at": "2024-02-01T00:00:00Z", "credit": None},
    ]
    out = compute_student_mastery(rows, SKILLS, P)
    rec = out["Recursion"]
    assert rec.questions_attempted == 1
    assert rec.questions_correct == 0.5
    assert rec.percentage == 50.0
    assert rec.level == "intermediate"
    assert rec.p_mastery == pytest.approx(round(bkt_update(0.3, 0.5, P), 4))
    assert out["Loops"].level == "not_started"  # q3 ungraded -> no evidence
    assert out["Loops"].evidence_count == 0
    assert out["Loops"].p_mastery == P.p_init
    assert out["Sorting"].level == "not_started"


def test_levels_mastered_and_last_graded_at():
    rows = []
    for day in range(1, 8):
        rows += _rows(day, 1, day, {1: 1.0})
    out = compute_student_mastery(rows, SKILLS, P)
    rec = out["Recursion"]
    assert rec.percentage == 100.0 and rec.level == "expert"
    assert rec.mastered is True and rec.p_mastery >= 0.95
    assert rec.last_graded_at == "2024-01-07T12:00:00Z"
    low = compute_student_mastery(_rows(1, 1, 1, {1: 0.0, 2: 0.0, 3: 0.0, 9: 0.0}), SKILLS, P)
    assert low["Recursion"].level == "beginner"  # started, below 25%
    assert low["Recursion"].mastered is False


def test_int_and_str_question_ids_and_to_dict():
    rows = [{"quiz_id": 1, "question_id": 9, "attempt": 1, "graded_at": "2024-01-01T00:00:00Z", "credit": 1}]
    out = compute_student_mastery(rows, {9: ["Sorting"]}, P)
    assert out["Sorting"].questions_attempted == 1
    d = out["Sorting"].to_dict()
    assert set(d) == {"skill", "questions_attempted", "questions_correct", "percentage", "p_mastery",
                      "evidence_count", "mastered", "level", "last_graded_at", "score", "model",
                      "evidence", "explanation"}
    assert d["score"] == d["percentage"] == 100.0 and d["model"] == "percentage"
    assert isinstance(out["Sorting"], SkillMastery)


def test_duplicate_result_in_same_attempt_counts_once():
    rows = _rows(1, 1, 1, {1: 0.0}) + _rows(1, 1, 1, {1: 1.0})  # regraded
    out = compute_student_mastery(rows, SKILLS, P)
    assert out["Recursion"].evidence_count == 1
    assert out["Recursion"].percentage == 100.0


def test_compute_course_mastery_matches_per_student():
    by_student = {"s1": _history_rows(), "s2": _rows(10, 1, 3, {1: 1.0}), "s3": []}
    course = compute_course_mastery(by_student, SKILLS, P, {10: "keep_average"})
    assert set(course) == {"s1", "s2", "s3"}
    for sid, rows in by_student.items():
        assert course[sid] == compute_student_mastery(rows, SKILLS, P, {10: "keep_average"})
    assert all(m.level == "not_started" for m in course["s3"].values())
    # a prepared map is accepted as-is
    assert compute_student_mastery(by_student["s1"], prepare_question_skills(SKILLS), P) == \
        compute_student_mastery(by_student["s1"], SKILLS, P)


def test_mastery_time_series_is_cumulative_per_day():
    rows = (
        _rows(1, 1, 1, {1: 0.0})
        + [{"quiz_id": 2, "question_id": 1, "attempt": 1, "graded_at": "2024-01-01T23:00:00-05:00", "credit": 1.0}]
        + _rows(3, 1, 5, {1: 1.0, 3: 1.0})
    )
    series = mastery_time_series(rows, SKILLS, P)
    rec = series["Recursion"]
    # the -05:00 timestamp is 2024-01-02 in UTC
    assert [p["date"] for p in rec] == ["2024-01-01", "2024-01-02", "2024-01-05"]
    assert [p["percentage"] for p in rec] == [0.0, 50.0, pytest.approx(66.7)]
    assert rec[-1]["p_mastery"] == compute_student_mastery(rows, SKILLS, P)["Recursion"].p_mastery
    assert [p["date"] for p in series["Loops"]] == ["2024-01-05"]
    assert series["Sorting"] == []
