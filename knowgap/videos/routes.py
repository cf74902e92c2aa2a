"""KnowGap video endpoints: student videos, instructor overrides, watched state, votes."""
from __future__ import annotations

from flask_smorest import Blueprint

from knowgap.identity.request import identify, scoped_services
from knowgap.identity.service import (require_instructor, require_self,
                                      require_self_or_instructor, with_course)
from knowgap.videos import service
from knowgap.videos.schemas import (AddVideoBody, AssessmentVideosBody, CourseVideosBody,
                                    RemoveVideoBody, UpdateVideoLinkBody, VoteBody,
                                    VotesQueryBody, WatchedBody)

blp = Blueprint("knowgap_videos", __name__, description="KnowGap: videos")


@blp.route("/get-assessment-videos", methods=["POST"])
@blp.arguments(AssessmentVideosBody)
@blp.response(200)
def get_assessment_videos(body):
    """Videos for the questions the student answered incorrectly, one per video."""
    caller = identify(body, body["course_id"])
    require_self_or_instructor(caller, body["student_id"])
    return service.assessment_videos(scoped_services(caller), body["course_id"], body["student_id"])


@blp.route("/get-course-videos", methods=["POST"])
@blp.arguments(CourseVideosBody)
@blp.response(200)
def get_course_videos(body):
    """Instructor: every question's topic and video."""
    caller = identify(body, body["course_id"])
    require_instructor(caller)
    return service.course_videos(scoped_services(caller), body["course_id"])


def _instructor_question(body):
    """Verify the caller, find the question, require teaching its course."""
    caller = identify(body)
    svc = scoped_services(caller)
    question = service.get_question(svc, body["quiz_id"], body["question_id"],
                                    body.get("course_id"))
    caller = with_course(svc, caller, question["course_id"])
    require_instructor(caller)
    return svc, caller, question


@blp.route("/update-video-link", methods=["POST"])
@blp.arguments(UpdateVideoLinkBody)
@blp.response(200)
def update_video_link(body):
    """Instructor: replace a question's video (kept across regeneration)."""
    svc, caller, question = _instructor_question(body)
    return service.set_override(svc, question, body["new_link"], caller.user_id)


@blp.route("/add-video", methods=["POST"])
@blp.arguments(AddVideoBody)
@blp.response(200)
def add_video(body):
    """Instructor: set a question's video (kept across regeneration)."""
    svc, caller, question = _instructor_question(body)
    return service.set_override(svc, question, body["video_link"], caller.user_id)


@blp.route("/remove-video", methods=["POST"])
@blp.arguments(RemoveVideoBody)
@blp.response(200)
def remove_video(body):
    """Instructor: no video for this question (kept across regeneration)."""
    svc, caller, question = _instructor_question(body)
    return service.remove_override(svc, question, caller.user_id)


@blp.route("/set-video-watched", methods=["POST"])
@blp.arguments(WatchedBody)
@blp.response(200)
def set_video_watched(body):
    """Record watched state for the caller only."""
    caller = identify(body, body["course_id"])
    require_self(caller, body["student_id"])
    return service.set_watched(scoped_services(caller), body["course_id"], caller.user_id,
                               body["video_link"], body["watched"])


@blp.route("/vote-video", methods=["POST"])
@blp.arguments(VoteBody)
@blp.response(200)
def vote_video(body):
    """One vote per student per video (up, down, or none to withdraw)."""
    caller = identify(body, body["course_id"])
    require_self(caller, body["student_id"])
    return service.vote(scoped_services(caller), body["course_id"], caller.user_id,
                        body["video_link"], body["vote"])


@blp.route("/get-video-votes", methods=["POST"])
@blp.arguments(VotesQueryBody)
@blp.response(200)
def get_video_votes(body):
    """Vote totals for a video in a course, plus the caller's own vote."""
    caller = identify(body, body["course_id"])
    require_self_or_instructor(caller, body.get("student_id"))
    return service.votes(scoped_services(caller), body["course_id"], body["video_link"],
                         body.get("student_id") or caller.user_id)
