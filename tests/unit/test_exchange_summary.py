"""The export workbook's Summary figures (``achieveup.exchange.summary``), pure."""
from __future__ import annotations

import math

from achieveup.exchange import summary


def doc(**parts) -> dict:
    base = {"matrices": [], "question_skills": [], "mastery": [], "badges": [], "items": []}
    return {**base, **parts}


def test_levels_by_skill_counts_students_per_level_in_matrix_order():
    data = doc(matrices=[{"matrix_name": "A", "skills": ["Waves", "Cells"]},
                         {"matrix_name": "B", "skills": ["Cells", "Optics"]}],
               mastery=[{"skill": "Cells", "level": "expert"},
                        {"skill": "Cells", "level": "expert"},
                        {"skill": "Cells", "level": "not_started"},
                        {"skill": "Waves", "level": "beginner"},
                        {"skill": "Legacy", "level": "mythic"},
                        {"skill": "Waves", "level": None}])
    skills, levels, counts = summary.levels_by_skill(data)
    assert skills == ["Waves", "Cells", "Optics", "Legacy"]
    assert levels == ["not_started", "beginner", "intermediate", "advanced", "expert", "mythic"]
    assert counts == [[0, 1, 0, 0, 0, 0], [1, 0, 0, 0, 2, 0], [0] * 6, [0, 0, 0, 0, 0, 1]]


def test_progress_bands_put_each_student_in_one_band():
    bands = summary.progress_bands([0.0, 9.99, 10.0, 55.5, 99.9, 100.0, 104.0, -2.0])
    assert [label for label, _ in bands][:2] == ["0–10%", "10–20%"]
    assert bands[-1][0] == "90–100%"
    assert [n for _, n in bands] == [3, 1, 0, 0, 0, 1, 0, 0, 0, 3]


def test_summarize_counts_and_mean_progress_skip_missing_values():
    data = doc(question_skills=[{"question_id": "1"}, {"question_id": "2"}],
               badges=[{"level": "beginner"}, {"level": "beginner"}, {"level": "expert"}],
               items=[{"quiz_id": "7", "question_id": "1", "check": False},
                      {"quiz_id": "7", "question_id": "2", "check": True, "position": 2,
                       "quiz_title": "Quiz", "difficulty": 0.5, "point_biserial": -0.2,
                       "flags": "why"},
                      {"quiz_id": "8", "question_id": "3", "check": None}])
    s = summary.summarize(data, [50.0, None, float("nan"), 70.0])
    assert s.students == 4 and s.mean_progress == 60.0
    assert sum(n for _, n in s.bands) == 2
    assert s.badges_by_level == [("beginner", 2), ("intermediate", 0), ("advanced", 0),
                                 ("expert", 1)]
    assert (s.questions_mapped, s.quizzes_analysed, s.questions_analysed) == (2, 2, 3)
    assert s.to_check == [{"label": "Q2 · Quiz", "quiz_title": "Quiz", "difficulty": 0.5,
                           "discrimination": -0.2, "why": "why"}]
    assert summary.summarize(doc(), []).mean_progress is None


def test_discrimination_falls_back_to_the_upper_lower_index():
    assert summary.discrimination({"point_biserial": 0.31, "upper_lower": 0.5}) == 0.31
    assert summary.discrimination({"point_biserial": None, "upper_lower": 0.0}) == 0.0
    assert summary.discrimination({"point_biserial": math.nan, "upper_lower": None}) is None


def test_question_label_is_short_and_names_the_question():
    long = {"quiz_id": "9", "question_id": "55", "position": 12,
            "quiz_title": "Midterm examination for the whole of chapter one"}
    label = summary.question_label(long)
    assert label.startswith("Q12 · Midterm") and label.endswith("…")
    assert len(label) <= len("Q12 · ") + summary.LABEL_TITLE_CHARS
    assert summary.question_label({"quiz_id": "9", "question_id": "55", "position": None,
                                   "quiz_title": None}) == "question 55 · Quiz 9"
