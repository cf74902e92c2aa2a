"""The recency model (achieveup/mastery/recency.py) and its use in calc: question difficulty
cancels out, recent answers weigh more only when the course shows that they predict better,
few answers stay near the class, and the stored form round-trips."""
import math

import numpy as np
import pytest

from achieveup.mastery import calc, recency
from achieveup.mastery.calc import MasteryModel, compute_student_mastery, group_rows

SKILLS = {f"q{i}": ["A"] for i in range(20)}


def rows_of(answers):
    """[(quiz, question, attempt, day, credit)] -> evidence rows."""
    return [[str(q), n, a, f"2024-09-{d:02d}T10:00:00Z", c, 1.0] for q, n, a, d, c in answers]


def course_fit(evidence: dict, skills=SKILLS):
    groups = [group_rows(rows) for rows in evidence.values()]
    return calc.fit_recency(groups, calc.prepare_course_skills(skills))


def score(rows, fit, skills=SKILLS, skill="A"):
    model = MasteryModel(score="recency", recency=fit)
    return compute_student_mastery([dict(zip(("quiz_id", "question_id", "attempt",
                                              "graded_at", "credit"), r)) for r in rows],
                                   skills, model=model)[skill]


def test_question_difficulty_cancels_out():
    # q0 is easy (everyone right), q1 hard (everyone wrong) in a class of 30
    evidence = {f"s{i}": rows_of([(1, "q0", 1, 1, 1.0), (1, "q1", 1, 1, 0.0)])
                for i in range(30)}
    hard_right = rows_of([(2, "q1", 1, 2, 1.0)])       # answered only the hard one: right
    easy_right = rows_of([(2, "q0", 1, 2, 1.0)])       # answered only the easy one: right
    evidence.update(hard=hard_right, easy=easy_right)
    fit = course_fit(evidence)
    assert fit.questions["q0"] > 0.9 and fit.questions["q1"] < 0.1
    assert score(hard_right, fit).score > score(easy_right, fit).score


def test_static_course_counts_every_answer_the_same():
    rng = np.random.default_rng(1)
    evidence = {}
    for s in range(80):
        p = rng.uniform(0.2, 0.9)
        evidence[f"s{s}"] = rows_of([(w, f"q{w * 2 + j}", 1, 1 + 3 * w, float(rng.random() < p))
                                     for w in range(8) for j in range(2)])
    fit = course_fit(evidence)
    assert fit.half_life_days is None and fit.held_out >= recency.MIN_HELD_OUT


def test_learning_course_gets_a_memory_and_recent_answers_weigh_more():
    rng = np.random.default_rng(2)
    evidence = {}
    for s in range(120):
        click = rng.uniform(0, 30)                     # the day the skill clicks
        evidence[f"s{s}"] = rows_of([(w, f"q{w * 2 + j}", 1, 1 + 3 * w,
                                      float(rng.random() < (0.9 if 1 + 3 * w > click else 0.15)))
                                     for w in range(9) for j in range(2)])
    fit = course_fit(evidence)
    assert fit.half_life_days is not None and fit.half_life_days <= 42
    early = rows_of([(w, f"q{w * 2}", 1, 1 + 3 * w, float(w < 4)) for w in range(9)])
    late = rows_of([(w, f"q{w * 2}", 1, 1 + 3 * w, float(w >= 5)) for w in range(9)])
    assert score(late, fit).score > score(early, fit).score
    # with every answer counting the same they would tie (same questions' difficulty aside)
    flat = recency.RecencyFit(questions=fit.questions, levels=fit.levels, clock=fit.clock)
    assert abs(score(late, flat).score - score(early, flat).score) < 15


def test_few_answers_stay_near_the_class_and_explain_the_score():
    evidence = {f"s{i}": rows_of([(1, "q0", 1, 1, float(i % 2)), (1, "q1", 1, 1, 1.0)])
                for i in range(40)}
    one = rows_of([(1, "q0", 1, 1, 1.0)])
    many = rows_of([(1, "q0", 1, 1, 1.0)] + [(k, "q0", 1, 1 + k, 1.0) for k in range(2, 10)])
    evidence.update(one=one, many=many)
    fit = course_fit(evidence)
    a, b = score(one, fit), score(many, fit)
    assert 100 * fit.levels["A"] < a.score < b.score
    assert a.evidence == 1 and b.evidence == 9 and a.model == "recency"
    # "score = class level + deviation", as the sentence says
    level = round(100 * fit.levels["A"], 1)
    assert f"the class is at {level:g} %" in a.explanation
    points = float(a.explanation.split(" points above")[0].split()[-1])
    assert a.score == pytest.approx(level + points, abs=0.15)
    assert a.explanation.startswith("1 of your 1 answer right; every answer counting the same")


def test_without_a_fit_the_score_is_the_students_own_proportion():
    rows = rows_of([(1, "q0", 1, 1, 1.0), (1, "q1", 1, 1, 0.0), (2, "q2", 1, 5, 1.0)])
    m = score(rows, None)
    assert m.score == pytest.approx(66.7) and m.evidence == 3


def test_the_wall_clock_does_not_matter_only_the_courses():
    evidence = {f"s{i}": rows_of([(1, "q0", 1, 1, 1.0), (2, "q1", 1, 20, float(i % 3 == 0))])
                for i in range(20)}
    fit = course_fit(evidence)
    rows = evidence["s3"]
    a = compute_student_mastery(
        [dict(zip(("quiz_id", "question_id", "attempt", "graded_at", "credit"), r)) for r in rows],
        SKILLS, model=MasteryModel(score="recency", recency=fit,
                                   now=__import__("datetime").datetime(2030, 1, 1)))["A"]
    assert a.score == score(rows, fit).score
    assert fit.clock == pytest.approx(recency.days("2024-09-20T10:00:00Z"))


def test_stored_form_round_trips_and_bad_documents_are_ignored():
    evidence = {f"s{i}": rows_of([(1, "q0", 1, 1, 1.0), (2, "q1", 1, 9, float(i % 2))])
                for i in range(12)}
    fit = course_fit(evidence)
    doc = recency.to_document(fit)
    assert all(isinstance(e["skill"], str) for e in doc["levels"])   # names are data, not keys
    back = recency.from_document(doc)
    assert back.questions == pytest.approx(fit.questions) and back.clock == fit.clock
    assert back.half_life_days == fit.half_life_days
    assert recency.from_document({**doc, "half_life_days": -3}) is None
    assert recency.from_document({**doc, "levels": [{"skill": "A", "level": 7}]}) is None
    assert recency.from_document({**doc, "questions": [{"p": 0.5}]}) is None
    assert recency.from_document(None) is None


def test_an_empty_course_fits_to_nothing():
    assert recency.fit(calc.recency_answers([], calc.prepare_course_skills(SKILLS))) == \
        recency.EMPTY
    assert recency.days("not a time") is None and recency.days("") is None
    assert math.isclose(recency.days("1970-01-02T00:00:00Z"), 1.0)


def test_multi_skill_questions_count_once_in_their_proportion():
    skills = {"q0": ["A", "B"], "q1": ["A"]}
    evidence = {f"s{i}": rows_of([(1, "q0", 1, 1, 1.0), (1, "q1", 1, 1, 0.0)]) for i in range(6)}
    fit = course_fit(evidence, skills)
    # 6 right answers on q0, smoothed toward the mean of its skills (A 0.5, B 1.0) by 2 answers
    assert fit.questions["q0"] == pytest.approx((6 + 2 * 0.75) / 8)
    assert set(fit.levels) == {"A", "B"}
