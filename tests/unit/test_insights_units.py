"""Engagement index, study-plan ordering and leaderboard ranking, computed by hand."""
import pytest

from achieveup.insights.engagement import (engagement_index, level_for,
                                           recency_performance)
from achieveup.insights.plan import easier_first, missed_questions, weakest_first
from achieveup.insights.ranking import rank

SUBMISSIONS = [
    # on time, two attempts
    {"quiz_id": "1", "submitted_at": "2024-02-20T10:00:00Z", "late": False, "missing": False,
     "excused": False, "attempt": 2},
    # late
    {"quiz_id": "2", "submitted_at": "2024-03-01T10:00:00Z", "late": True, "missing": False,
     "excused": False, "attempt": 1},
    # missing (Canvas: past due, nothing handed in)
    {"quiz_id": "3", "submitted_at": None, "late": False, "missing": True, "excused": False,
     "attempt": None},
    # excused: never counts
    {"quiz_id": "4", "submitted_at": None, "late": False, "missing": True, "excused": True,
     "attempt": None},
    # not due yet, not submitted: does not count
    {"quiz_id": "5", "submitted_at": None, "late": False, "missing": False, "excused": False,
     "attempt": None},
]


def test_engagement_index_by_hand():
    # counted quizzes 1, 2, 3: on time (1 + 0.5 * 1 late + 0 missing) / 3 = 0.5
    # participation: 2 + 1 attempts on 3 quizzes = 1.0 (capped at 1)
    # recency: last submission 2024-03-01, course's latest 2024-03-15: 14 days -> (28-14)/21
    # videos: 1 of 4 watched = 0.25
    # points: 35 * .5 + 25 * 1 + 25 * 2/3 + 15 * .25 = 17.5 + 25 + 16.667 + 3.75 = 62.917
    r = engagement_index(SUBMISSIONS, "2024-03-15T10:00:00Z", videos_recommended=4,
                         videos_watched=1)
    by_name = {f["name"]: f for f in r["factors"]}
    assert list(by_name) == ["on_time", "participation", "recency", "videos"]
    assert r["index"] == 62.9 and r["level"] == "medium"
    assert by_name["on_time"]["value"] == 33.3 and by_name["on_time"]["points"] == 17.5
    assert by_name["on_time"]["detail"] == "1 of 3 quizzes on time, 1 late, 1 missing"
    assert by_name["participation"]["value"] == 1.0 and by_name["participation"]["points"] == 25.0
    assert by_name["recency"]["value"] == 14.0 and by_name["recency"]["points"] == 16.7
    assert by_name["videos"]["value"] == 25.0 and by_name["videos"]["points"] == 3.8
    assert [f["max_points"] for f in r["factors"]] == [35.0, 25.0, 25.0, 15.0]
    assert sum(f["points"] for f in r["factors"]) == pytest.approx(r["index"], abs=0.11)


def test_engagement_renormalizes_without_videos_and_reference():
    # only on_time (.35) and participation (.25): weights .583 / .417
    # index = 100 * (.35 * .5 + .25 * 1) / .6 = 70.83
    r = engagement_index(SUBMISSIONS)
    assert [f["name"] for f in r["factors"]] == ["on_time", "participation"]
    assert [f["weight"] for f in r["factors"]] == [0.583, 0.417]
    assert r["index"] == 70.8 and r["level"] == "high"


def test_engagement_edges():
    assert engagement_index([]) == {"index": None, "level": None, "factors": []}
    # never submitted while classmates did: recency gives nothing, missing quizzes nothing
    r = engagement_index([SUBMISSIONS[2]], "2024-03-15T10:00:00Z")
    assert r["index"] == 0.0 and r["level"] == "low"
    assert {f["name"]: f["value"] for f in r["factors"]} == {
        "on_time": 0.0, "participation": 0.0, "recency": None}
    assert [recency_performance(d) for d in (0, 7, 17.5, 28, 40)] == [1.0, 1.0, 0.5, 0.0, 0.0]
    assert [level_for(v) for v in (None, 39.9, 40, 69.9, 70)] == [
        None, "low", "medium", "medium", "high"]


def test_weakest_skills_first():
    skills = [
        {"skill": "A", "p_mastery": 0.6, "score": 70, "evidence_count": 4,
         "questions_attempted": 4, "mastered": False},
        {"skill": "B", "p_mastery": 0.3, "score": 40, "evidence_count": 2,
         "questions_attempted": 2, "mastered": False},
        {"skill": "C", "p_mastery": 0.3, "score": 40, "evidence_count": 9,
         "questions_attempted": 9, "mastered": False},     # same, more evidence: surer
        {"skill": "D", "p_mastery": 0.97, "score": 95, "evidence_count": 5,
         "questions_attempted": 5, "mastered": True},      # mastered: not in the plan
        {"skill": "E", "p_mastery": None, "score": 0, "evidence_count": 0,
         "questions_attempted": 0, "mastered": False},     # not started: not in the plan
    ]
    assert [s["skill"] for s in weakest_first(skills)] == ["C", "B", "A"]


def test_missed_questions_come_from_each_quizs_latest_attempt():
    rows = [{"quiz_id": "1", "question_id": "a", "attempt": 1, "credit": 0.0},
            {"quiz_id": "1", "question_id": "a", "attempt": 2, "credit": 1.0},   # fixed
            {"quiz_id": "1", "question_id": "b", "attempt": 1, "credit": 1.0},
            {"quiz_id": "1", "question_id": "b", "attempt": 2, "credit": 0.5},   # partial
            {"quiz_id": "2", "question_id": "c", "attempt": 1, "credit": 0.0},
            {"quiz_id": "2", "question_id": "d", "attempt": 1, "credit": None}]  # ungraded
    assert missed_questions(rows) == {"b": {"quiz_id": "1", "attempt": 2, "credit": 0.5},
                                      "c": {"quiz_id": "2", "attempt": 1, "credit": 0.0}}


def test_easier_questions_first_unknown_difficulty_last():
    qs = [{"question_id": "h", "difficulty": 0.2, "quiz_id": "1", "position": 1},
          {"question_id": "u", "difficulty": None, "quiz_id": "1", "position": 2},
          {"question_id": "e", "difficulty": 0.9, "quiz_id": "2", "position": 1},
          {"question_id": "m1", "difficulty": 0.5, "quiz_id": "2", "position": 3},
          {"question_id": "m0", "difficulty": 0.5, "quiz_id": "1", "position": 9}]
    assert [q["question_id"] for q in easier_first(qs)] == ["e", "m0", "m1", "h", "u"]


def test_rank_by_badges_then_mastery_with_shared_ranks():
    rows = [{"student_id": "1", "badges": 3, "mastery": 50.0, "skills_mastered": 1},
            {"student_id": "2", "badges": 5, "mastery": 10.0, "skills_mastered": 0},
            {"student_id": "3", "badges": 3, "mastery": 50.0, "skills_mastered": 1},
            {"student_id": "4", "badges": 3, "mastery": 60.0, "skills_mastered": 0},
            {"student_id": "5", "badges": 0, "mastery": 0.0, "skills_mastered": 0}]
    assert [(r["student_id"], r["rank"]) for r in rank(rows)] == [
        ("2", 1), ("4", 2), ("1", 3), ("3", 3), ("5", 5)]
