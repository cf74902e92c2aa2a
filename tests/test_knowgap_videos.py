"""KnowGap videos: student videos, overrides, watched, votes, YouTube failures."""
from __future__ import annotations

import pytest

from knowgap.courses import store
from knowgap.videos import youtube
from tests.conftest import sandbox_db
from tests.knowgap_support import TEACHER, config, kg_config, post, student_token, sync  # noqa: F401

COURSE = 102


def wrong_ids(db, sid):
    return {qid for row in store.incorrect_of(db, str(COURSE), str(sid))
            for qid in row["incorrect"]}


def test_assessment_videos_only_for_wrong_answers_deduplicated(client, app, canvas_world):
    sync(client, COURSE)
    db = sandbox_db(app)
    sid = canvas_world.student_ids(COURSE)[0]
    r = post(client, "/get-assessment-videos", student_token(sid), course_id=COURSE,
             student_id=sid)
    assert r.status_code == 200
    items = r.get_json()["assessment_videos"]
    wrong = wrong_ids(db, sid)
    assert items and {i["questionid"] for i in items} <= wrong
    links = [i["video"]["link"] for i in items]
    assert len(links) == len(set(links))
    wrong_with_video = {q["video"]["link"] for q in db[store.QUESTIONS].find(
        {"course_id": str(COURSE), "question_id": {"$in": list(wrong)}}) if q.get("video")}
    assert set(links) == wrong_with_video
    item = items[0]
    assert set(item) == {"quiz_name", "questionid", "question_text", "topic", "video", "watched"}
    assert set(item["video"]) == {"title", "link", "channel", "thumbnail"}
    assert item["watched"] is False

    r = post(client, "/set-video-watched", student_token(sid), course_id=COURSE, student_id=sid,
             video_link=item["video"]["link"], watched=True)
    assert r.status_code == 200
    items = post(client, "/get-assessment-videos", student_token(sid), course_id=COURSE,
                 student_id=sid).get_json()["assessment_videos"]
    assert [i["watched"] for i in items if i["video"]["link"] == item["video"]["link"]] == [True]


def test_other_students_data_refused(client, canvas_world):
    sync(client, COURSE)
    a, b = canvas_world.student_ids(COURSE)[:2]
    for path, extra in (("/get-assessment-videos", {}),
                        ("/set-video-watched", {"video_link": "https://youtu.be/dQw4w9WgXcQ",
                                                "watched": True}),
                        ("/vote-video", {"video_link": "https://youtu.be/dQw4w9WgXcQ",
                                         "vote": "up"})):
        r = post(client, path, student_token(a), course_id=COURSE, student_id=b, **extra)
        assert r.status_code == 403, path
    # an instructor may look at a student's videos
    r = post(client, "/get-assessment-videos", TEACHER, course_id=COURSE, student_id=b)
    assert r.status_code == 200


def test_instructor_video_actions_refused_to_students(client, app, canvas_world):
    sync(client, COURSE)
    q = sandbox_db(app)[store.QUESTIONS].find_one({"course_id": str(COURSE)})
    sid = canvas_world.student_ids(COURSE)[0]
    tok = student_token(sid)
    assert post(client, "/get-course-videos", tok, course_id=COURSE).status_code == 403
    for path, extra in (("/add-video", {"video_link": "https://youtu.be/dQw4w9WgXcQ"}),
                        ("/update-video-link", {"new_link": "https://youtu.be/dQw4w9WgXcQ"}),
                        ("/remove-video", {})):
        r = post(client, path, tok, quiz_id=q["quiz_id"], question_id=q["question_id"], **extra)
        assert r.status_code == 403 and r.get_json()["error"] == "instructor_required", path
    r = post(client, "/update-video-link", "other-teacher-token", quiz_id=q["quiz_id"],
             question_id=q["question_id"], new_link="https://youtu.be/dQw4w9WgXcQ")
    assert r.status_code == 403


def test_overrides_survive_course_context_change(client, app, openai_fake, youtube_fake):
    sync(client, COURSE)
    db = sandbox_db(app)
    questions = [q for q in db[store.QUESTIONS].find({"course_id": str(COURSE)})
                 if q["question_type"] != "text_only_question"]
    first, second = questions[0], questions[1]
    youtube_fake.add_video("OVERRIDE001", "Instructor pick", "Prof Channel")
    r = post(client, "/add-video", TEACHER, quiz_id=first["quiz_id"],
             question_id=first["question_id"], video_link="https://youtu.be/OVERRIDE001")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["video"]["title"] == "Instructor pick"
    r = post(client, "/remove-video", TEACHER, quiz_id=second["quiz_id"],
             question_id=second["question_id"])
    assert r.status_code == 200 and r.get_json()["video"] is None
    before = {q["question_id"]: q for q in db[store.QUESTIONS].find({"course_id": str(COURSE)})}

    calls = openai_fake.calls
    r = post(client, "/update-course-context", TEACHER, course_id=COURSE,
             course_context="General chemistry for first-year engineers.")
    assert r.status_code == 200, r.get_json()
    assert openai_fake.calls > calls                  # non-overridden topics regenerated
    after = {q["question_id"]: q for q in db[store.QUESTIONS].find({"course_id": str(COURSE)})}
    assert after[first["question_id"]]["video"]["link"].endswith("OVERRIDE001")
    assert after[second["question_id"]]["video"] is None
    for qid in (first["question_id"], second["question_id"]):
        assert after[qid]["topic_key"] == before[qid]["topic_key"]
    regenerated = [q for qid, q in after.items() if not q.get("video_override")
                   and q["question_type"] != "text_only_question"]
    assert regenerated and all(q["topic_key"] != before[q["question_id"]]["topic_key"]
                               for q in regenerated)
    sync(client, COURSE)                               # a re-sync keeps them too
    again = db[store.QUESTIONS].find_one({"question_id": first["question_id"]})
    assert again["video"]["link"].endswith("OVERRIDE001")
    videos = post(client, "/get-course-videos", TEACHER, course_id=COURSE).get_json()
    item = next(v for v in videos["course_videos"] if v["questionid"] == first["question_id"])
    assert item["video_data"]["title"] == "Instructor pick"
    assert set(item) == {"quizid", "questionid", "core_topic", "question_text", "video_data"}


def test_override_link_validated(client, app):
    sync(client, COURSE)
    q = sandbox_db(app)[store.QUESTIONS].find_one({"course_id": str(COURSE)})
    r = post(client, "/add-video", TEACHER, quiz_id=q["quiz_id"], question_id=q["question_id"],
             video_link="javascript:alert(1)")
    assert r.status_code == 422
    r = post(client, "/add-video", TEACHER, quiz_id=q["quiz_id"], question_id="999999",
             video_link="https://youtu.be/dQw4w9WgXcQ")
    assert r.status_code == 404


def test_votes_one_per_student_changeable(client, canvas_world):
    a, b = canvas_world.student_ids(COURSE)[:2]
    link = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    for sid, vote in ((a, "up"), (a, "up"), (b, "up")):
        r = post(client, "/vote-video", student_token(sid), course_id=COURSE, student_id=sid,
                 video_link=link, vote=vote)
        assert r.status_code == 200
    assert r.get_json()["upvotes"] == 2
    r = post(client, "/vote-video", student_token(a), course_id=COURSE, student_id=a,
             video_link="https://youtu.be/dQw4w9WgXcQ", vote="down")
    body = r.get_json()
    assert (body["upvotes"], body["downvotes"], body["user_vote"]) == (1, 1, "down")
    r = post(client, "/get-video-votes", student_token(b), course_id=COURSE, video_link=link)
    assert r.get_json()["user_vote"] == "up" and r.get_json()["score"] == 0
    r = post(client, "/vote-video", student_token(a), course_id=COURSE, student_id=a,
             video_link=link, vote="sideways")
    assert r.status_code == 422


@pytest.mark.parametrize("mode", ["500", "quota", "timeout"])
def test_youtube_failures_never_crash(sandbox, openai_fake, youtube_fake, db, monkeypatch,
                                      canvas_world, mode):
    from knowgap import create_app

    monkeypatch.setattr(youtube, "TIMEOUT_SECONDS", 0.3)
    youtube_fake.mode = mode
    client = create_app(kg_config(sandbox, openai_fake, youtube_fake), db=db).test_client()
    body = sync(client, COURSE)
    assert body["videos"]["with_video"] == 0 and body["video_status"]
    if mode == "quota":
        assert body["videos"]["youtube_calls"] <= 8      # stops calling after the quota error
        assert "quota" in body["video_status"]
    qs = list(db[store.QUESTIONS].find({"course_id": str(COURSE),
                                        "question_type": {"$ne": "text_only_question"}}))
    assert all(q["core_topic"] and q["video"] is None for q in qs)
    sid = canvas_world.student_ids(COURSE)[0]
    r = post(client, "/get-assessment-videos", student_token(sid), course_id=COURSE,
             student_id=sid)
    assert r.status_code == 200 and r.get_json()["assessment_videos"] == []
    assert r.get_json()["status"]
    youtube_fake.mode = "ok"                             # back up: the next sync fills videos
    body = sync(client, COURSE)
    assert body["videos"]["without_video"] == 0


def test_no_youtube_key_gives_clear_status(sandbox, openai_fake, db, canvas_world):
    from knowgap import create_app

    client = create_app(kg_config(sandbox, openai_fake), db=db).test_client()
    body = sync(client, COURSE)
    assert body["video_status"] == "Video search is not configured (YOUTUBE_API_KEY)."
    r = post(client, "/get-course-videos", TEACHER, course_id=COURSE)
    assert r.status_code == 200
    assert r.get_json()["status"] == "Video search is not configured (YOUTUBE_API_KEY)."
    q = db[store.QUESTIONS].find_one({"course_id": str(COURSE)})
    r = post(client, "/add-video", TEACHER, quiz_id=q["quiz_id"], question_id=q["question_id"],
             video_link="https://youtu.be/dQw4w9WgXcQ")
    assert r.status_code == 200 and r.get_json()["video"]["link"].endswith("dQw4w9WgXcQ")
