"""KnowGap pure helpers: wrong-answer detection, video links."""
from knowgap.canvas.results import classic_results
from knowgap.courses.answers import incorrect_rows
from knowgap.videos.youtube import parse_video_id


def _rows(history):
    return incorrect_rows(classic_results([{"assignment_id": 7, "user_id": 42,
                                            "submission_history": history}], {"7": "70"}, {}))


def test_partial_counts_as_incorrect_and_ungraded_is_ignored():
    [row] = _rows([{"attempt": 1, "graded_at": "a", "submission_data": [
        {"question_id": 1, "correct": False}, {"question_id": 2, "correct": "partial"},
        {"question_id": 3, "correct": True}, {"question_id": 4, "correct": "undefined"},
        {"question_id": 5, "correct": "no_score"}, {"question_id": 6}]}])
    assert row["incorrect"] == ["1", "2"]
    assert row["correct"] == ["3"]
    assert (row["student_id"], row["quiz_id"], row["attempt"]) == ("42", "70", 1)


def test_latest_attempt_wins():
    rows = _rows([
        {"attempt": 2, "graded_at": "b", "submission_data": [{"question_id": 9, "correct": True}]},
        {"attempt": 1, "graded_at": "a", "submission_data": [{"question_id": 9, "correct": False}]},
    ])
    assert rows == [{"student_id": "42", "quiz_id": "70", "attempt": 2, "graded_at": "b",
                     "incorrect": [], "correct": ["9"], "picked": []}]
    assert _rows([{"attempt": None}]) == []


def test_the_choices_of_wrong_answers_are_kept():
    [row] = _rows([{"attempt": 1, "graded_at": "a", "submission_data": [
        {"question_id": 1, "correct": False, "answer_id": 11},
        {"question_id": 2, "correct": True, "answer_id": 21},
        {"question_id": 3, "correct": "partial", "answer_31": "1", "answer_32": "0"},
        {"question_id": 4, "correct": False, "text": "membrane"},
        {"question_id": 5, "correct": False, "text": "<p>Water <b>moves</b> out</p>"},
        {"question_id": 6, "correct": "partial", "answer_for_a": "cell",
         "answer_id_for_a": 61, "answer_for_b": "wall", "answer_id_for_b": None},
        {"question_id": 7, "correct": False, "text": "", "answer_id": None}]}])
    # choices by id; what the student typed where no choice says it, as plain text
    assert row["picked"] == [{"question_id": "1", "answer_ids": ["11"]},
                             {"question_id": "3", "answer_ids": ["31"]},
                             {"question_id": "4", "answer_ids": [], "text": "membrane"},
                             {"question_id": "5", "answer_ids": [], "text": "Water moves out"},
                             {"question_id": "6", "answer_ids": ["61"], "text": "b: wall"}]


def test_parse_video_id():
    vid = "dQw4w9WgXcQ"
    for link in (vid, f"https://www.youtube.com/watch?v={vid}&t=3", f"https://youtu.be/{vid}",
                 f"https://www.youtube.com/embed/{vid}", f"youtube.com/shorts/{vid}"):
        assert parse_video_id(link) == vid
    assert parse_video_id("https://evil.example.com/watch?v=" + vid) is None
    assert parse_video_id("javascript:alert(1)") is None
