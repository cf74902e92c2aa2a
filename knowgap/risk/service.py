"""At-risk prediction for one student: gather the inputs, then ``risk.calc.compute_risk``.

Inputs (each optional; ``calc`` renormalizes over what exists):
- current course score: the student's enrollment ``grades.current_score``;
- the last five graded results: the student's graded submissions, ``score / points_possible``
  ordered by ``graded_at`` (points from ``include[]=assignment`` or, failing that, the quiz
  list's ``points_possible`` by ``assignment_id``);
- the student's AchieveUp skill mastery average and engagement index, when AchieveUp has them:
  handed in by the caller (the course pipeline, ``achieveup.pipeline.student_risk``, reads
  them from what AchieveUp stored); this module imports nothing of AchieveUp.

``risk_for_student(gateway_or_data, course_id, student_id, skill_mastery=, engagement=)``:
pass a ``CanvasGateway``/``CanvasAccess`` (anything with
``run(async fn(client))``) to fetch from Canvas, or a mapping with already known inputs
(``current_score``, ``recent_results`` [(graded_at, percentage)] or ``submissions`` +
``points_by_assignment``, optional ``skill_mastery`` and ``engagement``, which win over the
keyword arguments).

The per-course display toggle lives in ``knowgap_risk_toggle`` {canvas_host, course_id, enabled,
updated_by, updated_at}. Default: **on** (friendlier: a new course shows risk without setup;
instructors can turn it off).
"""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping

from knowgap.canvas import quiz_sources
from knowgap.canvas.errors import CanvasNotFound, CanvasPermissionDenied
from knowgap.core.errors import NotFound
from knowgap.core.tenancy import where
from knowgap.risk.calc import compute_risk
from knowgap.videos.links import public_video

RISK_TOGGLE = "knowgap_risk_toggle"
DEFAULT_ENABLED = True


# ------------------------------------------------------------------ toggle
def risk_enabled(db, course_id: str) -> bool:
    doc = db[RISK_TOGGLE].find_one(where(db, course_id=str(course_id)))
    return DEFAULT_ENABLED if doc is None else bool(doc.get("enabled"))


def set_risk_enabled(db, course_id: str, enabled: bool, by: str) -> None:
    db[RISK_TOGGLE].update_one(where(db, course_id=str(course_id)),
                               {"$set": {"enabled": bool(enabled), "updated_by": by,
                                         "updated_at": dt.datetime.now(dt.timezone.utc)}},
                               upsert=True)


# ------------------------------------------------------------------ inputs
def results_from_submissions(submissions, points_by_assignment: Mapping | None = None) -> list:
    """[(graded_at, percentage)] of graded, scored submissions with known points possible."""
    points_by_assignment = points_by_assignment or {}
    out = []
    for s in submissions or []:
        if not isinstance(s, dict) or s.get("score") is None or not s.get("graded_at"):
            continue
        if s.get("excused"):
            continue
        assignment = s.get("assignment") if isinstance(s.get("assignment"), dict) else {}
        possible = assignment.get("points_possible")
        if possible is None:
            possible = points_by_assignment.get(str(s.get("assignment_id")))
        try:
            possible = float(possible)
            score = float(s["score"])
        except (TypeError, ValueError):
            continue
        if possible > 0:
            out.append((s["graded_at"], 100.0 * score / possible))
    return out


async def _fetch_inputs(client, course_id: str, student_id: str) -> dict:
    async def safe(coro, default):
        try:
            return await coro
        except (CanvasPermissionDenied, CanvasNotFound):
            return default

    enrollments, submissions, quizzes = await asyncio.gather(
        safe(client.list_enrollments(course_id, user_id=student_id,
                                     types=["StudentEnrollment"]), []),
        safe(client.get_all(f"/courses/{course_id}/students/submissions",
                            {"student_ids[]": [student_id], "include[]": ["assignment"],
                             "workflow_state": "graded"}), []),
        safe(quiz_sources.all_quizzes(client, course_id), []))
    grades = next((e.get("grades") for e in enrollments
                   if isinstance(e, dict) and e.get("grades")), None) or {}
    return {"enrolled": bool(enrollments), "current_score": grades.get("current_score"),
            "final_score": grades.get("final_score"), "submissions": submissions,
            "points_by_assignment": {str(q["assignment_id"]): q.get("points_possible")
                                     for q in quizzes if q.get("assignment_id")}}


def fetch_risk_inputs(gateway, course_id: str, student_id: str) -> dict:
    return gateway.run(lambda client: _fetch_inputs(client, str(course_id), str(student_id)))


# ------------------------------------------------------------------ entry point
def risk_for_student(gateway_or_data, course_id, student_id, *,
                     skill_mastery: float | None = None,
                     engagement: float | None = None) -> dict:
    """``{risk_level, risk_index, factors}`` for one student (see module docstring)."""
    if isinstance(gateway_or_data, Mapping):
        data = dict(gateway_or_data)
    else:
        data = fetch_risk_inputs(gateway_or_data, course_id, student_id)
        if not data.get("enrolled", True):
            raise NotFound(f"User {student_id} is not a student in course {course_id}.",
                           error="student_not_found")
    recent = data.get("recent_results")
    if recent is None:
        recent = results_from_submissions(data.get("submissions"),
                                          data.get("points_by_assignment"))
    if data.get("skill_mastery") is not None:
        skill_mastery = data["skill_mastery"]
    if data.get("engagement") is not None:
        engagement = data["engagement"]
    return compute_risk(current_score=data.get("current_score"), recent_results=recent,
                        skill_mastery=skill_mastery, engagement=engagement).to_dict()


# ------------------------------------------------------------------ support videos
# Curated, stable links (YouTube searches, so they never go dead) per risk level; used when
# video search is not configured or fails.
SUPPORT_QUERIES = {
    "low": "how to study effectively active recall spaced repetition",
    "medium": "study skills time management for college students",
    "high": "how to catch up in a class you are failing study plan",
}
SUPPORT_TITLES = {
    "low": "Keep it up: active recall and spaced repetition",
    "medium": "Get back on track: time management and study habits",
    "high": "Catching up: a step-by-step study plan",
}


def curated_support_video(level: str) -> dict:
    from urllib.parse import quote_plus
    return {"title": SUPPORT_TITLES[level],
            "link": "https://www.youtube.com/results?search_query=" + quote_plus(SUPPORT_QUERIES[level]),
            "channel": "YouTube search", "thumbnail": ""}


def support_answer(level: str, video: dict, source: str) -> dict:
    """The support video nested (``video``, the contract) and flat as the extension reads it
    (``title``, ``channelTitle``, ``url``, ``videoId``: YouTube search's names, ``videoId``
    empty for a curated search link)."""
    from knowgap.videos import youtube

    return {"status": "success", "risk_level": level, "video": video, "source": source,
            "title": video["title"], "channelTitle": video["channel"], "url": video["link"],
            "videoId": youtube.parse_video_id(video["link"]) or ""}


def support_video(services, level: str) -> dict:
    """One study-skills video for a risk level: YouTube search when configured, else curated."""
    from knowgap.videos import store as vstore
    from knowgap.videos import youtube

    key = f"support:{level}"
    if youtube.configured(services.config):
        hit = vstore.cached_video(services.db, key)
        if hit and hit[0]:
            return support_answer(level, public_video(hit[0]), "youtube")

        async def fetch():
            async with youtube.new_session() as session:
                return await youtube.search(session, services.config, SUPPORT_QUERIES[level])

        try:
            video = asyncio.run(fetch())
        except youtube.YouTubeError:
            video = None
        if video:
            vstore.put_video(services.db, key, SUPPORT_QUERIES[level], video, "ok")
            return support_answer(level, public_video(video), "youtube")
    return support_answer(level, curated_support_video(level), "curated")
