"""Response schemas of the instructor dashboard, course student analytics, student progress and
individual graphs (they document the OpenAPI responses; see ``achieveup.analytics.service`` for
how each value is computed).

The numeric fields here dump their value unchanged (``Number``/``Count``): the services already
produce JSON-ready numbers (rounded scores, counts), and a response schema must not turn an
integer score into a float or the other way round.
"""
from __future__ import annotations

from knowgap.core.schemas import StrictSchema, fields


class Number(fields.Number):
    """A number documented as ``type: number`` and dumped as is (no int/float coercion)."""

    num_type = float

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class Count(fields.Integer):
    """An integer documented as ``type: integer`` and dumped as is."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value


# ------------------------------------------------------------------ dashboard


class DashboardActivitySchema(StrictSchema):
    type = fields.String(required=True, metadata={"description": "Always 'sync' for now."})
    course_id = fields.String(required=True)
    course_name = fields.String(required=True, allow_none=True)
    timestamp = fields.String(required=True, allow_none=True,
                              metadata={"description": "ISO-8601 UTC of the last sync."})
    description = fields.String(required=True)


class InstructorDashboardSchema(StrictSchema):
    students = Count(required=True, metadata={
        "description": "Distinct students enrolled in Canvas in the instructor's courses (a "
                       "student in two of them counts once), known before any sync."})
    averageProgress = Number(required=True)
    totalCourses = Count(required=True)
    totalSkillMatrices = Count(required=True)
    recentActivity = fields.List(fields.Nested(DashboardActivitySchema), required=True)


# ------------------------------------------------------------------ student analytics

_MODEL = ("What produced the score: 'recency' (the default: every answer against the class on "
          "the same question, weighted toward recent ones), 'percentage', a Canvas Outcomes "
          "calculation method ('decaying_average', 'weighted_average', "
          "'standard_decaying_average', 'n_mastery', 'highest', 'latest', 'average'), or "
          "'bkt_' + where the skill's BKT parameters come from: 'fitted' (this course's answers), "
          "'course' (course-wide fit), 'default', 'fixed' (the instructor's). Set per course in "
          "the mastery settings.")
_EVIDENCE = ("Graded answers the score rests on: distinct questions for a percentage, every "
             "attempt for recency and BKT, the answers in the quiz results used for a Canvas "
             "method.")
_EXPLANATION = ("How the score was reached, in one sentence (e.g. 'Canvas decaying average: your "
                "latest quiz result (80 %) counts 65 %, the average of your 3 earlier ones "
                "(60 %) 35 %.').")


class SkillBreakdownSchema(StrictSchema):
    score = Number(required=True)
    level = fields.String(required=True)
    questionsAttempted = Count(required=True)
    questionsCorrect = Number(required=True)
    badgeLevel = fields.String(metadata={"description": "Highest badge earned on the skill."})
    badgeEarnedAt = fields.String(allow_none=True)
    model = fields.String(metadata={"description": _MODEL})
    evidence = Count(metadata={"description": _EVIDENCE})
    explanation = fields.String(metadata={"description": _EXPLANATION})


class AnalyticsStudentSchema(StrictSchema):
    id = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)
    progress = Number(required=True)
    skillsMastered = Count(required=True)
    badgesEarned = Count(required=True)
    riskLevel = fields.String(required=True)
    totalQuestionsAttempted = Count(required=True)
    skillBreakdown = fields.Dict(keys=fields.String(), values=fields.Nested(SkillBreakdownSchema),
                                 required=True)


class StudentAnalyticsSchema(StrictSchema):
    students = fields.List(fields.Nested(AnalyticsStudentSchema), required=True)
    skillDistribution = fields.Dict(keys=fields.String(), values=Count(), required=True,
                                    metadata={"description": "Students who mastered each skill."})
    averageScores = fields.Dict(keys=fields.String(), values=Number(), required=True, metadata={
        "description": "Mean score of the students with evidence on each skill."})


# ------------------------------------------------------------------ student progress


class SkillProgressSchema(StrictSchema):
    score = Number(required=True)
    level = fields.String(required=True)
    total_questions = Count(required=True)
    correct_answers = Number(required=True)
    model = fields.String(metadata={"description": _MODEL})
    evidence = Count(metadata={"description": _EVIDENCE})
    explanation = fields.String(metadata={"description": _EXPLANATION})


class StudentProgressSchema(StrictSchema):
    student_id = fields.String(required=True)
    course_id = fields.String(required=True)
    skill_progress = fields.Dict(keys=fields.String(), values=fields.Nested(SkillProgressSchema),
                                 required=True)
    last_updated = fields.String(required=True, allow_none=True)


# ------------------------------------------------------------------ individual graphs


class TimePointSchema(StrictSchema):
    date = fields.String(required=True)
    average = Number(required=True)
    skills = fields.Dict(keys=fields.String(), values=Number(), required=True)


class PerformanceSchema(StrictSchema):
    skill = fields.String(required=True)
    course_id = fields.String(required=True)
    score = Number(required=True)
    level = fields.String(required=True)
    pMastery = Number(required=True, allow_none=True)
    questionsAttempted = Count(required=True)
    questionsCorrect = Number(required=True)


class TrendSchema(StrictSchema):
    skill = fields.String(required=True)
    course_id = fields.String(required=True)
    change = Number(required=True)
    direction = fields.String(required=True)
    points = Count(required=True)


class RadarSchema(StrictSchema):
    skill = fields.String(required=True)
    score = Number(required=True)
    fullMark = Count(required=True)


class GraphSummarySchema(StrictSchema):
    totalSkills = Count(required=True)
    skillsMastered = Count(required=True)
    averageScore = Number(required=True)
    totalQuestionsAttempted = Count(required=True)
    lastActivity = fields.String(required=True, allow_none=True)
    courses = fields.List(fields.String(), required=True)


class IndividualGraphsSchema(StrictSchema):
    timeSeriesData = fields.List(fields.Nested(TimePointSchema), required=True)
    performance = fields.List(fields.Nested(PerformanceSchema), required=True)
    distribution = fields.Dict(keys=fields.String(), values=Count(), required=True)
    trends = fields.List(fields.Nested(TrendSchema), required=True)
    radar = fields.List(fields.Nested(RadarSchema), required=True)
    summary = fields.Nested(GraphSummarySchema, required=True)
