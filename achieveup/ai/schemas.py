"""Request/response schemas of the AI suggestion routes, and the schemas that validate the
AI's replies (lenient about extra keys, strict about the values we use)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, validates_schema

from knowgap.core.schemas import Id, StrictSchema, ValidationError, fields, validate

MAX_QUESTIONS = 200
MAX_QUESTION_TEXT = 10_000
MAX_COURSE_DESCRIPTION = 12_000
MAX_COURSE_FIELD = 300
COMPLEXITY = ("low", "medium", "high")


class PlainText(fields.String):
    """Free text (question HTML, descriptions): any string without NUL bytes. Values are only
    ever stored or sent to the AI, never used as query keys, so a leading '$' is fine."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Text may not contain NUL characters.")
        return text


# ------------------------------------------------------------------ requests


class CourseSkillsRequest(StrictSchema):
    courseId = Id()
    courseName = PlainText(required=True, validate=validate.Length(min=1, max=MAX_COURSE_FIELD))
    courseCode = PlainText(load_default="", validate=validate.Length(max=MAX_COURSE_FIELD))
    courseDescription = PlainText(load_default=None, allow_none=True,
                                  validate=validate.Length(max=MAX_COURSE_DESCRIPTION))


class QuestionIn(StrictSchema):
    id = Id(required=True)
    text = PlainText(required=True, validate=validate.Length(max=MAX_QUESTION_TEXT))
    type = PlainText(load_default=None, allow_none=True, validate=validate.Length(max=100))
    points = fields.Float(load_default=None, allow_none=True, allow_nan=False)


class QuestionInLenient(QuestionIn):
    """The web app sends Canvas question objects to ``/questions/analyze``: accept
    ``question_text``/``question_type``/``points_possible`` as aliases and ignore the rest."""

    class Meta:
        unknown = EXCLUDE

    text = PlainText(validate=validate.Length(max=MAX_QUESTION_TEXT))
    question_text = PlainText(validate=validate.Length(max=MAX_QUESTION_TEXT))
    question_type = PlainText(allow_none=True, validate=validate.Length(max=100))
    points_possible = fields.Float(allow_none=True, allow_nan=False)

    @validates_schema
    def _has_text(self, data, **kwargs):
        if data.get("text") is None and data.get("question_text") is None:
            raise ValidationError("Each question needs its text.", "text")


def _questions_field(nested):
    return fields.List(fields.Nested(nested), required=True,
                       validate=validate.Length(min=1, max=MAX_QUESTIONS,
                                                error=f"Send 1 to {MAX_QUESTIONS} questions."))


class AnalyzeQuestionsRequest(StrictSchema):
    courseId = Id(required=True)
    quizId = Id(load_default=None, allow_none=True)
    matrixId = Id(load_default=None, allow_none=True)
    questions = _questions_field(QuestionIn)


class QuestionsAnalyzeRequest(StrictSchema):
    course_id = Id(load_default=None, allow_none=True)
    matrix_id = Id(load_default=None, allow_none=True)
    questions = _questions_field(QuestionInLenient)


class SuggestForQuestionRequest(StrictSchema):
    question_text = PlainText(required=True,
                              validate=validate.Length(min=1, max=MAX_QUESTION_TEXT))
    course_id = Id(load_default=None, allow_none=True)
    course_context = PlainText(load_default=None, allow_none=True,
                               validate=validate.Length(max=MAX_COURSE_DESCRIPTION))


# ------------------------------------------------------------------ responses


class CourseSkillOut(Schema):
    skill = fields.String()
    description = fields.String()
    relevance = fields.Float()
    source = fields.String(metadata={"description": "ai or heuristic"})


class QuestionAnalysisOut(Schema):
    questionId = fields.String()
    suggestedSkills = fields.List(fields.String())
    complexity = fields.String(metadata={"enum": list(COMPLEXITY)})
    confidence = fields.Float()
    source = fields.String(metadata={"description": "ai or heuristic"})


# ------------------------------------------------------------------ AI replies


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class LooseId(fields.Field):
    """The AI may echo an id as number or string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValidationError("Not an id.")
        return str(value).strip()


class AIQuestionResult(_Lenient):
    questionId = LooseId(required=True)
    suggestedSkills = fields.List(fields.String(), required=True)
    complexity = fields.String(load_default=None, allow_none=True)
    confidence = fields.Float(load_default=None, allow_none=True, allow_nan=False)


class AIAnalyzeReply(_Lenient):
    questions = fields.List(fields.Nested(AIQuestionResult), required=True)


class AICourseSkill(_Lenient):
    skill = fields.String(required=True)
    description = fields.String(load_default="", allow_none=True)
    relevance = fields.Float(load_default=None, allow_none=True, allow_nan=False)


class AISuggestSkillsReply(_Lenient):
    skills = fields.List(fields.Nested(AICourseSkill), required=True,
                         validate=validate.Length(min=1))
