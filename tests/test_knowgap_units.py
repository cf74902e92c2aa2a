"""KnowGap pure helpers: wrong-answer detection, video links."""
from knowgap.courses.answers import classify, incorrect_from_submission
from knowgap.videos.youtube import parse_video_id


def test_classify_counts_partial_as_incorrect_and_ignores_ungraded():
    wrong, right = classify([
        {"question_id": 1, "correct": False}, {"question_id": 2, "correct": "partial"},
        {"question_id": 3, "correct": True}, {"question_id": 4, "correct": "undefined"},
        {"question_id": 5, "correct": "no_score"}, {"question_id": 6, "correct": 0}])
    assert wrong == ["1", "2"]
    assert right == ["3"]


def test_latest_attempt_wins():
    sub = {"submission_history": [
        {"attempt": 2, "graded_at": "b", "submission_data": [{"question_id": 9, "correct": True}]},
        {"attempt": 1, "graded_at": "a", "submission_data": [{"question_id": 9, "correct": False}]},
    ]}
    assert incorrect_from_submission(sub) == {"attempt": 2, "graded_at": "b", "incorrect": [],
                                              "correct": ["9"]}
    assert incorrect_from_submission({"submission_history": [{"attempt": None}]}) is None


def test_parse_video_id():
    vid = "dQw4w9WgXcQ"
    for link in (vid, f"https://www.youtube.com/watch?v={vid}&t=3", f"https://youtu.be/{vid}",
                 f"https://www.youtube.com/embed/{vid}", f"youtube.com/shorts/{vid}"):
        assert parse_video_id(link) == vid
    assert parse_video_id("https://evil.example.com/watch?v=" + vid) is None
    assert parse_video_id("javascript:alert(1)") is None
