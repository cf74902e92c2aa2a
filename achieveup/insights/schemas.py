"""Request and response schemas of the insights endpoints (they also document OpenAPI; see
``achieveup.insights.stats``, ``engagement``, ``plan`` and ``ranking`` for the definitions)."""
from __future__ import annotations

from achieveup.analytics.schemas import Count, Number
from knowgap.core.schemas import StrictSchema, fields


class ItemFlagSchema(StrictSchema):
    code = fields.String(required=True, metadata={"description": (
        "e.g. negative_discrimination, low_discrimination, nobody_correct, everyone_correct, "
        "few_responses, no_responses, unused_distractors, distractor_attracts_strong_students; "
        "on a choice: never_picked, picked_by_strong_students.")})
    message = fields.String(required=True, metadata={"description": "The reason in words."})


class ItemChoiceSchema(StrictSchema):
    answer_id = fields.String(required=True)
    text = fields.String(required=True)
    correct = fields.Boolean(required=True)
    picked = Count(required=True, metadata={"description": "Respondents who picked it."})
    share = Number(required=True, allow_none=True, metadata={
        "description": "Share of the respondents who picked it (0-1; multiple-answer "
                       "questions add up to more than 1)."})
    upper_share = Number(required=True, allow_none=True, metadata={
        "description": "Share of the upper 27 % group that picked it."})
    lower_share = Number(required=True, allow_none=True, metadata={
        "description": "Share of the lower 27 % group that picked it."})
    flags = fields.List(fields.Nested(ItemFlagSchema), required=True)


class QuizItemSchema(StrictSchema):
    question_id = fields.String(required=True)
    position = Count(required=True, allow_none=True)
    question_type = fields.String(required=True, allow_none=True)
    question_text = fields.String(required=True, metadata={
        "description": "Plain text, at most 300 characters."})
    points_possible = Number(required=True, allow_none=True)
    students = Count(required=True, metadata={
        "description": "Students with a graded answer (latest attempt)."})
    attempts = Count(required=True, metadata={
        "description": "Quiz attempts made by those students (retakes included)."})
    difficulty = Number(required=True, allow_none=True, metadata={
        "description": "Proportion correct, 0-1 (mean credit; 1 = everyone right)."})
    point_biserial = Number(required=True, allow_none=True, metadata={
        "description": "Correlation of the question with the rest-of-quiz score, -1..1."})
    upper_lower = Number(required=True, allow_none=True, metadata={
        "description": "Difficulty in the upper 27 % minus in the lower 27 %, -1..1."})
    upper_difficulty = Number(required=True, allow_none=True)
    lower_difficulty = Number(required=True, allow_none=True)
    choices = fields.List(fields.Nested(ItemChoiceSchema), required=True, allow_none=True,
                          metadata={"description": "Distractor analysis (choice questions)."})
    flags = fields.List(fields.Nested(ItemFlagSchema), required=True)
    check = fields.Boolean(required=True, metadata={
        "description": "True when the question should be checked (see flags)."})


class ItemAnalysisSchema(StrictSchema):
    course_id = fields.String(required=True)
    quiz_id = fields.String(required=True)
    quiz_title = fields.String(required=True)
    source = fields.String(required=True, allow_none=True, metadata={
        "description": "classic or new (quiz engine)."})
    attempt_basis = fields.String(required=True, metadata={
        "description": "Always 'latest': each student's latest attempt is analysed."})
    students = Count(required=True)
    group_size = Count(required=True, metadata={
        "description": "Students in each of the upper and lower 27 % groups."})
    mean_score = Number(required=True, allow_none=True, metadata={
        "description": "Mean percentage of the graded points."})
    questions_to_check = Count(required=True)
    items = fields.List(fields.Nested(QuizItemSchema), required=True)


# ------------------------------------------------------------------ engagement


class EngagementFactorSchema(StrictSchema):
    name = fields.String(required=True, metadata={
        "description": "on_time, participation, recency or videos."})
    value = Number(required=True, allow_none=True, metadata={
        "description": "on_time/videos: percent; participation: attempts per quiz; recency: "
                       "days behind the course's latest submission."})
    detail = fields.String(required=True)
    weight = Number(required=True, metadata={"description": "Effective weight (sums to 1)."})
    performance = Number(required=True, metadata={"description": "0-1."})
    max_points = Number(required=True)
    points = Number(required=True, metadata={
        "description": "This factor's part of the index (the points add up to it)."})


class EngagementSchema(StrictSchema):
    student_id = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)
    index = Number(required=True, allow_none=True, metadata={
        "description": "0-100; null without any signal."})
    level = fields.String(required=True, allow_none=True, metadata={
        "description": "high (>= 70), medium (>= 40) or low."})
    factors = fields.List(fields.Nested(EngagementFactorSchema), required=True)


class StudentEngagementSchema(EngagementSchema):
    course_id = fields.String(required=True)


class CourseEngagementSchema(StrictSchema):
    course_id = fields.String(required=True)
    students = fields.List(fields.Nested(EngagementSchema), required=True, metadata={
        "description": "Least engaged first."})


# ------------------------------------------------------------------ leaderboard


class LeaderboardEntrySchema(StrictSchema):
    rank = Count(required=True)
    name = fields.String(required=True)
    badges = Count(required=True)
    mastery = Number(required=True, metadata={"description": "Mean skill score (percent)."})
    skills_mastered = Count(required=True)
    you = fields.Boolean(required=True)


class OwnStandingSchema(StrictSchema):
    rank = Count(required=True, allow_none=True, metadata={
        "description": "Null until you have graded work in the course."})
    listed = fields.Boolean(required=True)
    opted_in = fields.Boolean(required=True)
    badges = Count(required=True)
    mastery = Number(required=True)
    skills_mastered = Count(required=True)


class LeaderboardSchema(StrictSchema):
    course_id = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    ranked = Count(required=True, metadata={"description": "Students with a rank."})
    entries = fields.List(fields.Nested(LeaderboardEntrySchema), required=True, metadata={
        "description": "Only students who opted in."})
    you = fields.Nested(OwnStandingSchema, required=True, allow_none=True, metadata={
        "description": "The signed-in student's own standing (null for instructors)."})


class LeaderboardSettingsBody(StrictSchema):
    enabled = fields.Boolean(required=True, truthy={True}, falsy={False})


class LeaderboardSettingsSchema(StrictSchema):
    course_id = fields.String(required=True)
    enabled = fields.Boolean(required=True)


class PreferencesBody(StrictSchema):
    leaderboard_opt_in = fields.Boolean(required=True, truthy={True}, falsy={False})


class PreferencesSchema(StrictSchema):
    student_id = fields.String(required=True)
    leaderboard_opt_in = fields.Boolean(required=True)


# ------------------------------------------------------------------ study plan


class PlanVideoSchema(StrictSchema):
    title = fields.String(required=True)
    link = fields.String(required=True)
    channel = fields.String(required=True)
    thumbnail = fields.String(required=True)


class PlanQuestionSchema(StrictSchema):
    step = Count(required=True)
    question_id = fields.String(required=True)
    quiz_id = fields.String(required=True)
    quiz_title = fields.String(required=True)
    question_text = fields.String(required=True)
    credit = Number(required=True, metadata={"description": "Credit earned (0-1)."})
    difficulty = Number(required=True, allow_none=True, metadata={
        "description": "Proportion of the class answering correctly."})
    video = fields.Nested(PlanVideoSchema, required=True, allow_none=True)
    video_watched = fields.Boolean(required=True)


class PlanSkillSchema(StrictSchema):
    skill = fields.String(required=True)
    score = Number(required=True, allow_none=True)
    level = fields.String(required=True, allow_none=True)
    p_mastery = Number(required=True, allow_none=True)
    evidence_count = Count(required=True)
    questions_attempted = Count(required=True)
    questions = fields.List(fields.Nested(PlanQuestionSchema), required=True, metadata={
        "description": "Missed questions, easier to harder."})


class StudyPlanSchema(StrictSchema):
    course_id = fields.String(required=True)
    student_id = fields.String(required=True)
    student_name = fields.String(required=True, allow_none=True)
    generated_at = fields.String(required=True)
    skills = fields.List(fields.Nested(PlanSkillSchema), required=True, metadata={
        "description": "Skills not mastered yet, weakest first."})
    not_started = fields.List(fields.String(), required=True)
    mastered = fields.List(fields.String(), required=True)
