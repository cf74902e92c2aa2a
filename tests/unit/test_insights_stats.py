"""Item analysis statistics on small cases computed by hand (``achieveup.insights.stats``)."""
import math

import pytest

from achieveup.insights.stats import (Answers, Choice, QuestionInfo, analyze_quiz,
                                      group_size, pearson, question_flags)

MC = "multiple_choice_question"


def answers(by_student: dict) -> dict:
    """``{question: {student: credit | (credit, picks, attempts)}}`` as ``Answers`` columns."""
    out = {}
    for qid, rows in by_student.items():
        cells = {s: v if isinstance(v, tuple) else (v, "", 1) for s, v in rows.items()}
        ids = sorted(cells)
        out[qid] = Answers(ids, [cells[s][0] for s in ids], [cells[s][1] for s in ids],
                           [cells[s][2] for s in ids])
    return out


def _quiz(matrix: dict, weights: dict) -> dict:
    questions = [QuestionInfo(qid, position=i, points_possible=w)
                 for i, (qid, w) in enumerate(weights.items(), start=1)]
    by_question = {qid: {sid: float(row[i]) for sid, row in matrix.items()}
                   for i, qid in enumerate(weights)}
    return analyze_quiz(questions, answers(by_question))


# Six students, four questions worth 1, 1, 1 and 2 points:
#
#        q1 q2 q3 q4(2)   quiz score
#   s1    1  0  0  1        3
#   s2    1  0  0  1        3
#   s3    1  0  1  0        2
#   s4    1  0  1  0        2
#   s5    1  1  0  1        4
#   s6    1  1  0  1        4
#
# Groups: round(0.27 * 6) = 2 students each: lower {s3, s4} (2 points), upper {s5, s6} (4).
MATRIX = {"s1": (1, 0, 0, 1), "s2": (1, 0, 0, 1), "s3": (1, 0, 1, 0), "s4": (1, 0, 1, 0),
          "s5": (1, 1, 0, 1), "s6": (1, 1, 0, 1)}
WEIGHTS = {"q1": 1, "q2": 1, "q3": 1, "q4": 2}


@pytest.fixture(scope="module")
def items():
    result = _quiz(MATRIX, WEIGHTS)
    # percentages 60, 60, 40, 40, 80, 80 of 5 points -> mean 60
    assert result["students"] == 6 and result["group_size"] == 2 and result["mean_score"] == 60.0
    return {i["question_id"]: i for i in result["items"]}


def test_question_everyone_gets_right(items):
    q1 = items["q1"]
    assert q1["difficulty"] == 1.0
    assert q1["point_biserial"] is None            # no spread in the item: undefined
    assert q1["upper_lower"] == 0.0                # 1 - 1
    assert [f["code"] for f in q1["flags"]] == ["everyone_correct"]
    assert q1["check"] is False and q1["students"] == 6 and q1["attempts"] == 6


def test_discriminating_question(items):
    # q2: x = 0,0,0,0,1,1; rest = score - q2 = 3,3,2,2,3,3 (mean 8/3)
    # sxy = -1/9 - 1/9 + 2/9 + 2/9 + 2/9 + 2/9 = 2/3; sxx = syy = 4/3 -> r = (2/3)/(4/3) = 0.5
    q2 = items["q2"]
    assert q2["difficulty"] == 0.333
    assert q2["point_biserial"] == 0.5
    assert (q2["upper_difficulty"], q2["lower_difficulty"], q2["upper_lower"]) == (1.0, 0.0, 1.0)
    assert q2["flags"] == [] and q2["check"] is False


def test_negative_discrimination(items):
    # q3: x = 0,0,1,1,0,0; rest = 3,3,1,1,4,4 (mean 8/3)
    # sxy = -1/9 - 1/9 - 10/9 - 10/9 - 4/9 - 4/9 = -10/3; sxx = 4/3; syy = 28/3
    # r = -10/3 / sqrt(112/9) = -10 / sqrt(112) = -0.945; upper 0, lower 1 -> -1
    q3 = items["q3"]
    assert q3["difficulty"] == 0.333
    assert q3["point_biserial"] == round(-10 / math.sqrt(112), 3) == -0.945
    assert q3["upper_lower"] == -1.0
    assert [f["code"] for f in q3["flags"]] == ["negative_discrimination"]
    assert "point-biserial -0.94" in q3["flags"][0]["message"]
    assert q3["check"] is True


def test_point_biserial_uses_the_rest_score(items):
    # q4 (2 points): upper group all right, lower all wrong (index +1), but against the REST
    # of the quiz (1,1,2,2,2,2) it correlates negatively: x = 1,1,0,0,1,1 (mean 2/3), y mean
    # 5/3; sxy = -2/9 * 4 + 1/9 * 2 = -2/3; sxx = syy = 4/3 -> r = -0.5
    q4 = items["q4"]
    assert q4["difficulty"] == 0.667 and q4["upper_lower"] == 1.0
    assert q4["point_biserial"] == -0.5
    assert q4["check"] is True


def test_distractors_unused_and_picked_by_strong_students():
    # q1 (1 point): a is correct; q2 (3 points) ranks the students.
    #        q1 pick  q2   score
    #   s1   b        1    3      upper (with s2)
    #   s2   b        1    3
    #   s3   a        0    1
    #   s4   a        0    1
    #   s5   c        0    0      lower (with s6)
    #   s6   c        0    0
    choices = (Choice("a", "Mitochondria", True), Choice("b", "Ribosome", False),
               Choice("c", "Nucleus", False), Choice("d", "Golgi", False))
    questions = [QuestionInfo("q1", 1, MC, 1.0, "Where is ATP made?", choices),
                 QuestionInfo("q2", 2, "essay_question", 3.0)]
    picks = {"s1": ("b", 1), "s2": ("b", 1), "s3": ("a", 0), "s4": ("a", 0), "s5": ("c", 0),
             "s6": ("c", 0)}
    responses = answers({"q1": {sid: (1.0 if pick == "a" else 0.0, pick, 1)
                                for sid, (pick, _) in picks.items()},
                         "q2": {sid: float(q2) for sid, (_, q2) in picks.items()}})
    item = analyze_quiz(questions, responses)["items"][0]
    by_id = {c["answer_id"]: c for c in item["choices"]}
    assert [(c["picked"], c["share"], c["upper_share"], c["lower_share"])
            for c in item["choices"]] == [(2, 0.333, 0.0, 0.0), (2, 0.333, 1.0, 0.0),
                                          (2, 0.333, 0.0, 1.0), (0, 0.0, 0.0, 0.0)]
    assert [f["code"] for f in by_id["b"]["flags"]] == ["picked_by_strong_students"]
    assert "100% of the strongest students" in by_id["b"]["flags"][0]["message"]
    assert [f["code"] for f in by_id["d"]["flags"]] == ["never_picked"]
    assert by_id["a"]["flags"] == [] and by_id["c"]["flags"] == []
    # x = 0,0,1,1,0,0; rest = 3,3,0,0,0,0 (mean 1): sxy = -2, sxx = 4/3, syy = 12 -> r = -0.5
    assert item["point_biserial"] == -0.5 and item["upper_lower"] == 0.0
    assert [f["code"] for f in item["flags"]] == [
        "negative_discrimination", "unused_distractors", "distractor_attracts_strong_students"]
    assert "'Golgi'" in item["flags"][1]["message"] and "'Ribosome'" in item["flags"][2]["message"]
    assert item["check"] is True
    # a question without choices has no distractor table
    assert analyze_quiz(questions, responses)["items"][1]["choices"] is None


def test_ungraded_answers_and_missing_questions_are_left_out():
    questions = [QuestionInfo("q1"), QuestionInfo("q2")]
    responses = answers({"q1": {"s1": (1.0, "", 3), "s2": (0.0, "", 1)},
                         "q2": {"s1": (None, "", 3), "s3": (None, "", 1)}})
    result = analyze_quiz(questions, responses)
    q1, q2 = result["items"]
    assert result["students"] == 2                  # s3 has no graded answer
    assert (q1["students"], q1["attempts"], q1["difficulty"]) == (2, 4, 0.5)
    assert q2["students"] == 0 and q2["difficulty"] is None
    assert [f["code"] for f in q2["flags"]] == ["no_responses"]
    assert [f["code"] for f in q1["flags"]] == ["few_responses"]


def test_partial_credit_counts_as_the_points_ratio():
    questions = [QuestionInfo("q1", points_possible=2.0)]
    item = analyze_quiz(questions, answers({"q1": {"s1": 0.5, "s2": 1.0}}))["items"][0]
    assert item["difficulty"] == 0.75
    # one question: the rest score is 0 for everybody, so no point-biserial; groups of one
    assert item["point_biserial"] is None and item["upper_lower"] == 0.5


def test_flags_on_low_or_negative_upper_lower_and_nobody_correct():
    low = question_flags(20, 0.5, 0.05, 0.3)
    assert [f["code"] for f in low] == ["low_discrimination"]
    assert "point-biserial 0.05" in low[0]["message"]
    negative = question_flags(10, 0.5, None, -0.2)      # no point-biserial: the index decides
    assert [f["code"] for f in negative] == ["negative_discrimination"]
    assert "upper-lower index -0.20" in negative[0]["message"]
    assert question_flags(10, 0.5, 0.25, 0.4) == []
    assert [f["code"] for f in question_flags(10, 0.0, None, 0.0)] == ["nobody_correct"]


def test_group_size_and_pearson():
    assert [group_size(n) for n in (0, 1, 2, 5, 10, 30, 100)] == [0, 0, 1, 1, 3, 8, 27]
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 1, 1], [1, 2, 3]) is None and pearson([1], [1]) is None


def test_multiple_answers_shares_count_every_choice_picked():
    choices = (Choice("a", "A", True), Choice("b", "B", True), Choice("c", "C", False))
    questions = [QuestionInfo("q", 1, "multiple_answers_question", 1.0, "", choices)]
    item = analyze_quiz(questions, answers({"q": {
        "s1": (1.0, "a,b", 1), "s2": (0.5, "a", 1), "s3": (0.0, "c", 2),
        "s4": (0.5, "a,c", 1)}}))["items"][0]
    assert [(c["answer_id"], c["picked"], c["share"]) for c in item["choices"]] == [
        ("a", 3, 0.75), ("b", 1, 0.25), ("c", 2, 0.5)]
    assert item["difficulty"] == 0.5 and item["attempts"] == 5
