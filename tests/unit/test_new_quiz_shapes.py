"""New Quizzes shapes -> the shapes the service reads (pure): quizzes, items, the report."""
from __future__ import annotations

import pytest

from knowgap.canvas import new_quizzes as nq
from knowgap.canvas.results import NEW

QUIZ = {
    "id": "40002", "title": "Week 2 check", "instructions": "<p>Good luck</p>",
    "assignment_group_id": 1011, "points_possible": 9.0, "due_at": "2024-09-16T13:00:00Z",
    "lock_at": None, "unlock_at": "2024-09-09T13:00:00Z", "published": True,
    "grading_type": "points",
    "quiz_settings": {"shuffle_answers": True, "has_time_limit": False,
                      "multiple_attempts": {"multiple_attempts_enabled": True,
                                            "attempt_limit": True, "max_attempts": 3,
                                            "score_to_keep": "latest", "cooling_period": False}},
}
CHOICE = {
    "id": "501", "position": 1, "points_possible": 2.0, "entry_type": "Item",
    "entry": {"title": "Q1", "item_body": "<p>What is <b>osmosis</b>?</p>",
              "interaction_type_slug": "choice",
              "interaction_data": {"choices": [
                  {"id": "c-b", "position": 2, "item_body": "<p>Loss of electrons</p>"},
                  {"id": "c-a", "position": 1, "item_body": "<p>Diffusion of water</p>"}]},
              "scoring_data": {"value": "c-a"}, "scoring_algorithm": "Equivalence"},
}
MULTI = {
    "id": "502", "position": 2, "points_possible": 4.0, "entry_type": "Item",
    "entry": {"title": "Q2", "item_body": "<p>Select all that apply</p>",
              "interaction_type_slug": "multi-answer",
              "interaction_data": {"choices": [
                  {"id": "m1", "position": 1, "item_body": "<p>It is passive</p>"},
                  {"id": "m2", "position": 2, "item_body": "<p>It needs ATP</p>"},
                  {"id": "m3", "position": 3, "item_body": "<p>Water moves, slowly</p>"}]},
              "scoring_data": {"value": ["m1", "m3"]}, "scoring_algorithm": "PartialScore"},
}
TRUE_FALSE = {
    "id": "503", "position": 3, "points_possible": 1.0, "entry_type": "Item",
    "entry": {"title": "Q3", "item_body": "<p>Enzymes are catalysts.</p>",
              "interaction_type_slug": "true-false",
              "interaction_data": {"true_choice": "True", "false_choice": "False"},
              "scoring_data": {"value": True}},
}
ESSAY = {
    "id": "504", "position": 4, "points_possible": 3.0, "entry_type": "Item",
    "entry": {"title": "Q4", "item_body": "<p>Explain.</p>", "interaction_type_slug": "essay",
              "interaction_data": {"rce": True}, "scoring_data": {"value": ""}},
}
STIMULUS = {"id": "505", "position": 5, "points_possible": 0, "entry_type": "Stimulus",
            "entry": {"title": "Passage", "body": "<p>Read this.</p>"}}


def items():
    return [nq.normalize_item(i, "nq-40002") for i in (CHOICE, MULTI, TRUE_FALSE, ESSAY, STIMULUS)]


def test_quiz_becomes_a_classic_like_quiz_with_a_prefixed_id():
    quiz = nq.normalize_quiz(QUIZ)
    assert quiz["id"] == "nq-40002" and quiz["assignment_id"] == "40002"
    assert nq.is_new_quiz_id(quiz["id"]) and nq.assignment_of(quiz["id"]) == "40002"
    assert (quiz["title"], quiz["points_possible"], quiz["published"]) == ("Week 2 check", 9.0, True)
    assert quiz["scoring_policy"] == "keep_latest" and quiz["allowed_attempts"] == 3
    assert quiz["source"] == NEW
    single = nq.normalize_quiz({"id": 7, "quiz_settings": {}})
    assert single["allowed_attempts"] == 1 and single["scoring_policy"] == "keep_highest"
    unlimited = nq.normalize_quiz({"id": 8, "quiz_settings": {"multiple_attempts": {
        "multiple_attempts_enabled": True, "attempt_limit": False, "score_to_keep": "first"}}})
    assert unlimited["allowed_attempts"] == -1 and unlimited["scoring_policy"] == "keep_first"


def test_items_become_classic_like_questions():
    choice, multi, tf, essay, stimulus = items()
    assert choice["id"] == "nq-501" and choice["quiz_id"] == "nq-40002"
    assert choice["question_type"] == "multiple_choice_question"
    assert choice["question_text"] == "<p>What is <b>osmosis</b>?</p>"
    assert choice["answers"] == [{"id": "c-a", "text": "Diffusion of water", "weight": 100},
                                 {"id": "c-b", "text": "Loss of electrons", "weight": 0}]
    assert [a["weight"] for a in multi["answers"]] == [100, 0, 100]
    assert tf["answers"] == [{"id": "true", "text": "True", "weight": 100},
                             {"id": "false", "text": "False", "weight": 0}]
    assert essay["question_type"] == "essay_question" and essay["answers"] == []
    assert stimulus["question_type"] == "text_only_question"
    assert stimulus["question_text"] == "<p>Read this.</p>" and stimulus["points_possible"] == 0.0
    assert {q["source"] for q in (choice, stimulus)} == {NEW}


def row(student, attempt, responses, **extra):
    return {"name": "Ava Chen", "id": student, "sis_id": f"S{student}", "section": "BIO-101",
            "section_id": 1011, "section_sis_id": "BIO-101-01", "submitted": extra.pop(
                "submitted", "2024-09-10T13:00:00Z"), "attempt": attempt,
            "item_responses": responses, "n_correct": 0, "n_incorrect": 0, "score": 0, **extra}


REPORT = [
    row(1001, 1, [
        {"item_id": "501", "position": 1, "question": "What is osmosis?",
         "answer": "Diffusion of water", "points": 2.0, "points_possible": 2.0},
        {"item_id": "502", "position": 2, "question": "Select all",
         "answer": ["It is passive", "Water moves, slowly"], "points": 4.0,
         "points_possible": 4.0},
        {"item_id": "503", "position": 3, "question": "Enzymes", "answer": "False",
         "points": 0.0, "points_possible": 1.0},
        {"item_id": "504", "position": 4, "question": "Explain", "answer": "Because...",
         "points": None, "points_possible": 3.0}]),
    row(1001, 2, [
        {"item_id": "501", "answer": "Loss of electrons", "points": 0},
        {"item_id": "502", "answer": "It is passive, It needs ATP", "points": 1.0},
        {"item_id": "999", "answer": "from a bank", "points": 1, "points_possible": 1}],
        submitted="2024-09-11 08:30:00 UTC"),
    row(1002, 1, [{"item_id": "504", "answer": "Long essay", "points": 1.5}],
        submitted="2024-09-10T10:00:00-04:00"),
    {"name": "broken", "id": 1003, "attempt": True, "item_responses": [
        {"item_id": "501", "points": 2}]},
    {"name": "no attempt", "id": 1004, "item_responses": [{"item_id": "501", "points": 2}]},
]


@pytest.mark.parametrize("wrap", [lambda r: r, lambda r: {"student_analysis": r},
                                  lambda r: {"quiz_id": 40002, "rows": r}])
def test_report_rows_become_results(wrap):
    results = nq.student_analysis_results(wrap(REPORT), "nq-40002", items())
    by_key = {(r.student_id, r.question_id, r.attempt): r for r in results}
    assert len(results) == 8                     # the two broken rows are skipped
    first = by_key[("1001", "nq-501", 1)]
    assert (first.credit, first.correct, first.answer_ids) == (1.0, True, ("c-a",))
    assert first.source == NEW and first.quiz_id == "nq-40002"
    assert first.graded_at == "2024-09-10T13:00:00Z"
    assert by_key[("1001", "nq-502", 1)].answer_ids == ("m1", "m3")
    tf = by_key[("1001", "nq-503", 1)]
    assert (tf.credit, tf.correct, tf.answer_ids) == (0.0, False, ("false",)) and tf.is_wrong
    essay = by_key[("1001", "nq-504", 1)]
    assert essay.credit is None and essay.correct is None and not essay.is_wrong
    # second attempt: partial credit from points / points possible (taken from the item)
    partial = by_key[("1001", "nq-502", 2)]
    assert partial.credit == 0.25 and partial.correct == "partial" and partial.is_wrong
    assert partial.answer_ids == ("m1", "m2")    # comma-joined answer split on the choices
    assert partial.points_possible == 4.0
    assert by_key[("1001", "nq-501", 2)].answer_ids == ("c-b",)
    assert by_key[("1001", "nq-501", 2)].graded_at == "2024-09-11T08:30:00Z"
    bank = by_key[("1001", "nq-999", 2)]         # an item drawn from a bank: still counted
    assert bank.credit == 1.0 and bank.answer_ids == ()
    graded_essay = by_key[("1002", "nq-504", 1)]
    assert graded_essay.credit == 0.5 and graded_essay.graded_at == "2024-09-10T14:00:00Z"


def test_a_choice_whose_text_has_a_comma_is_one_answer():
    [r] = nq.student_analysis_results([row(7, 1, [{"item_id": "502",
                                                  "answer": "Water moves, slowly",
                                                  "points": 2.0}])], "nq-40002", items())
    assert r.answer_ids == ("m3",)


def test_empty_and_foreign_reports_give_nothing():
    assert nq.student_analysis_results(None, "nq-1") == []
    assert nq.student_analysis_results({"errors": ["x"]}, "nq-1") == []
    assert nq.student_analysis_results([{"id": 1, "attempt": 1, "item_responses": "x"}],
                                       "nq-1") == []


def test_answers_match_choices_as_visible_text():
    item = {"id": "601", "position": 1, "points_possible": 1.0, "entry_type": "Item",
            "entry": {"item_body": "<p>Pick</p>", "interaction_type_slug": "choice",
                      "interaction_data": {"choices": [
                          {"id": "x", "position": 1, "item_body": "<p>Salt &amp; water</p>"},
                          {"id": "y", "position": 2, "item_body": "<p>Oil</p>"}]},
                      "scoring_data": {"value": "x"}}}
    question = nq.normalize_item(item, "nq-1")
    assert question["answers"][0]["text"] == "Salt & water"
    [r] = nq.student_analysis_results([row(7, 1, [{"item_id": "601", "answer": "SALT & WATER",
                                                   "points": 1}])], "nq-1", [question])
    assert r.answer_ids == ("x",)
