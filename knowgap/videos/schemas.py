"""Request bodies of the KnowGap video endpoints (unknown fields -> 422)."""
from __future__ import annotations

from knowgap.core.schemas import Id, Text, fields, validate
from knowgap.identity.schemas import CallerBody

LINK = validate.Length(min=1, max=500)


class AssessmentVideosBody(CallerBody):
    student_id = Id(required=True)
    course_id = Id(required=True)


class CourseVideosBody(CallerBody):
    course_id = Id(required=True)


class QuestionRef(CallerBody):
    course_id = Id()
    quiz_id = Id(required=True)
    question_id = Id(required=True)


class UpdateVideoLinkBody(QuestionRef):
    new_link = Text(required=True, validate=LINK)


class AddVideoBody(QuestionRef):
    video_link = Text(required=True, validate=LINK)


class RemoveVideoBody(QuestionRef):
    video_link = Text(validate=LINK)


class WatchedBody(CallerBody):
    student_id = Id(required=True)
    course_id = Id(required=True)
    video_link = Text(required=True, validate=LINK)
    watched = fields.Boolean(required=True)


class VoteBody(CallerBody):
    student_id = Id(required=True)
    course_id = Id(required=True)
    video_link = Text(required=True, validate=LINK)
    vote = Text(required=True, validate=validate.OneOf(["up", "down", "none", "1", "-1", "0"]))


class VotesQueryBody(CallerBody):
    course_id = Id(required=True)
    video_link = Text(required=True, validate=LINK)
    student_id = Id()
