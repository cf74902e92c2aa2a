"""The only place that knows KnowGap's video collections.

Every document carries ``canvas_host`` and every query filters by it (``db`` is scoped to a
Canvas host, ``knowgap.core.tenancy``); the unique keys below are per host.

- ``knowgap_video_cache`` {topic_key, topic, video|None, status ok|no_results, fetched_at}
  unique (topic_key): one YouTube search per distinct topic (errors are not cached).
- ``knowgap_video_watched`` {course_id, student_id, video_link, watched, updated_at}
  unique (course_id, student_id, video_link)
- ``knowgap_video_votes`` {course_id, video_link, student_id, vote 1|-1, updated_at}
  unique (course_id, video_link, student_id): one vote per student per video, changeable.
"""
from __future__ import annotations

from knowgap.core.clock import utcnow
from knowgap.core.tenancy import where

VIDEO_CACHE = "knowgap_video_cache"
WATCHED = "knowgap_video_watched"
VOTES = "knowgap_video_votes"


def topic_cache_key(topic: str) -> str:
    return " ".join((topic or "").lower().split())


def cached_video(db, key: str):
    """(video, status) from the cache, or None when this topic was never searched."""
    doc = db[VIDEO_CACHE].find_one(where(db, topic_key=key))
    return (doc.get("video"), doc.get("status", "ok")) if doc else None


def put_video(db, key: str, topic: str, video: dict | None, status: str) -> None:
    db[VIDEO_CACHE].update_one(where(db, topic_key=key),
                               {"$set": {"topic": topic, "video": video, "status": status,
                                         "fetched_at": utcnow()}}, upsert=True)


def set_watched(db, course_id: str, student_id: str, link: str, watched: bool) -> None:
    db[WATCHED].update_one(where(db, course_id=course_id, student_id=student_id, video_link=link),
                           {"$set": {"watched": bool(watched), "updated_at": utcnow()}},
                           upsert=True)


def watched_links(db, course_id: str, student_id: str) -> set[str]:
    return {d["video_link"] for d in db[WATCHED].find(
        where(db, course_id=course_id, student_id=student_id, watched=True), {"video_link": 1})}


def set_vote(db, course_id: str, link: str, student_id: str, vote: int) -> None:
    key = where(db, course_id=course_id, video_link=link, student_id=student_id)
    if vote == 0:
        db[VOTES].delete_one(key)
    else:
        db[VOTES].update_one(key, {"$set": {"vote": vote, "updated_at": utcnow()}}, upsert=True)


def vote_counts(db, course_id: str, link: str, student_id: str | None) -> dict:
    up = down = 0
    mine = 0
    for d in db[VOTES].find(where(db, course_id=course_id, video_link=link),
                            {"vote": 1, "student_id": 1}):
        if d["vote"] > 0:
            up += 1
        else:
            down += 1
        if student_id is not None and d["student_id"] == student_id:
            mine = d["vote"]
    return {"upvotes": up, "downvotes": down, "score": up - down,
            "user_vote": "up" if mine > 0 else "down" if mine < 0 else None}
