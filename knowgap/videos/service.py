"""Videos as the extension sees them: per wrong answer, per course, overrides, watched, votes.

Instructor overrides set ``video_override`` on the question; generation skips overridden
questions, so neither a course-context change nor a re-sync can replace an instructor's
choice. ``/remove-video`` is an override too (the instructor wants no video there).
"""
from __future__ import annotations

import asyncio
import datetime as dt
from urllib.parse import urlsplit

from knowgap.core.errors import NotFound, ValidationFailed
from knowgap.courses import store
from knowgap.topics.pipeline import generate_course_content, video_status_note
from knowgap.videos import store as vstore
from knowgap.videos import youtube
from knowgap.videos.links import canonical_link, public_video
from knowgap.videos.youtube import YouTubeError
from knowgap.xapi import stage as xapi

LAZY_RETRY = dt.timedelta(minutes=10)


# ------------------------------------------------------------------ student view
def assessment_videos(svc, course_id: str, student_id: str) -> dict:
    """Videos for the questions the student got wrong (latest attempt), one per video."""
    db = svc.db
    wrong = store.incorrect_of(db, course_id, student_id)
    wanted = [qid for row in wrong for qid in row.get("incorrect", [])]
    if not wanted:
        return {"assessment_videos": []}
    questions = store.questions_of(db, course_id, wanted)
    needs = [q["question_id"] for q in questions if not q.get("video_override")
             and (not q.get("core_topic") or q.get("video_status") != "ok")]
    if needs:                       # fill in lazily (e.g. YouTube was down at sync time)
        generate_course_content(svc, course_id, question_ids=needs, video_cooldown=LAZY_RETRY)
        questions = store.questions_of(db, course_id, wanted)
    titles = store.quiz_titles(db, course_id)
    watched = vstore.watched_links(db, course_id, student_id)
    items, seen, missing = [], set(), []
    for q in questions:
        video = public_video(q.get("video"))
        if not video:
            if not q.get("video_override") and q.get("video_status"):
                missing.append(q["video_status"])
            continue
        if video["link"] in seen:
            continue
        seen.add(video["link"])
        items.append({"quiz_name": titles.get(q["quiz_id"], ""), "questionid": q["question_id"],
                      "question_text": q.get("question_text", ""),
                      "topic": q.get("core_topic") or "", "video": video,
                      "watched": video["link"] in watched})
    body = {"assessment_videos": items}
    note = video_status_note(missing)
    if note:
        body["status"] = note
    return body


# ------------------------------------------------------------------ instructor view
def course_videos(svc, course_id: str) -> dict:
    items, missing = [], []
    for q in store.questions_of(svc.db, course_id):
        if q.get("question_type") in store.NO_TOPIC_TYPES:
            continue
        if not q.get("video") and not q.get("video_override") and q.get("video_status"):
            missing.append(q["video_status"])
        items.append({"quizid": q["quiz_id"], "questionid": q["question_id"],
                      "core_topic": q.get("core_topic") or "",
                      "question_text": q.get("question_text", ""),
                      "video_data": public_video(q.get("video"))})
    body = {"course_videos": items}
    note = video_status_note(missing)
    if note:
        body["status"] = note
    return body


def get_question(svc, quiz_id: str, question_id: str, course_id: str | None = None) -> dict:
    q = store.find_question(svc.db, quiz_id, question_id, course_id)
    if q is None:
        raise NotFound(f"Question {question_id} of quiz {quiz_id} is not synced yet. "
                       "Sync the course first.", error="question_not_found")
    return q


def _video_for_link(svc, link: str) -> tuple[dict, str | None]:
    """Metadata for an instructor's link: YouTube videos endpoint when possible."""
    link = (link or "").strip()
    vid = youtube.parse_video_id(link)
    if vid is None:
        parts = urlsplit(link)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationFailed("The video link must be a YouTube link or an http(s) URL.",
                                   details={"video_link": ["Not a video link."]})
        return {"title": link, "link": link, "channel": "", "thumbnail": ""}, None
    basic = {"title": "", "link": youtube.watch_url(vid), "channel": "",
             "thumbnail": f"https://i.ytimg.com/vi/{vid}/hqdefault.jpg", "video_id": vid}
    if not youtube.configured(svc.config):
        return basic, youtube.STATUS_MESSAGES["not_configured"]

    async def fetch():
        async with youtube.new_session() as session:
            return await youtube.video_by_id(session, svc.config, vid)

    try:
        video = asyncio.run(fetch())
    except YouTubeError as exc:
        return basic, youtube.STATUS_MESSAGES.get(exc.kind)
    if video is None:
        raise ValidationFailed("That YouTube video does not exist or is private.",
                               details={"video_link": ["Video not found on YouTube."]})
    return video, None


def set_override(svc, question: dict, link: str, by: str) -> dict:
    video, note = _video_for_link(svc, link)
    store.update_question(svc.db, question["course_id"], question["question_id"], {
        "video": video, "video_status": "ok", "video_override": True, "override_by": by,
        "override_at": store.utcnow()})
    body = {"status": "success", "quiz_id": question["quiz_id"],
            "question_id": question["question_id"], "video": public_video(video)}
    if note:
        body["message"] = note
    return body


def remove_override(svc, question: dict, by: str) -> dict:
    store.update_question(svc.db, question["course_id"], question["question_id"], {
        "video": None, "video_status": "removed", "video_override": True, "override_by": by,
        "override_at": store.utcnow()})
    return {"status": "success", "quiz_id": question["quiz_id"],
            "question_id": question["question_id"], "video": None}


# ------------------------------------------------------------------ watched and votes
def set_watched(svc, course_id: str, student_id: str, link: str, watched: bool) -> dict:
    link = canonical_link(link)
    vstore.set_watched(svc.db, course_id, student_id, link, watched)
    if watched:
        xapi.video_watched(svc.db, svc.config, course_id, student_id, link)
    return {"status": "success", "video_link": link, "watched": bool(watched)}


VOTE_VALUES = {"up": 1, "down": -1, "none": 0, "1": 1, "-1": -1, "0": 0}


def vote(svc, course_id: str, student_id: str, link: str, value: str) -> dict:
    link = canonical_link(link)
    vstore.set_vote(svc.db, course_id, link, student_id, VOTE_VALUES[value])
    return {"status": "success", "video_link": link,
            **vstore.vote_counts(svc.db, course_id, link, student_id)}


def votes(svc, course_id: str, link: str, student_id: str | None) -> dict:
    link = canonical_link(link)
    return {"status": "success", "video_link": link,
            **vstore.vote_counts(svc.db, course_id, link, student_id)}
