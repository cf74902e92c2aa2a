"""Request and response schemas of the course mastery settings
(``GET``/``PUT /achieveup/instructor/course/{cid}/settings``)."""
from __future__ import annotations

from marshmallow import validates_schema

from achieveup.analytics.schemas import Number
from achieveup.badges.levels import LEVEL_NAMES
from achieveup.mastery import outcomes
from achieveup.mastery.calc import SCORE_MODELS
from achieveup.mastery.model import PARAMETER_MODES
from knowgap.core.schemas import StrictSchema, ValidationError, fields, validate

_PROBABILITY = validate.Range(min=0.0, max=1.0)
_BELOW_HALF = validate.Range(min=0.0, max=0.5, max_inclusive=False,
                             error="Must be at least 0 and below 0.5.")


class FixedParametersSchema(StrictSchema):
    """BKT parameters used when ``bkt_parameters`` is ``fixed``."""

    p_init = fields.Float(required=True, validate=_PROBABILITY, metadata={
        "description": "P(L0): probability a student knows the skill before any answer."})
    p_transit = fields.Float(required=True, validate=_PROBABILITY, metadata={
        "description": "P(T): probability of learning the skill after an answer."})
    p_slip = fields.Float(required=True, validate=_BELOW_HALF, metadata={
        "description": "P(S): a student who knows the skill answers wrong (below 0.5)."})
    p_guess = fields.Float(required=True, validate=_BELOW_HALF, metadata={
        "description": "P(G): a student who does not know the skill answers right (below 0.5)."})
    p_forget = fields.Float(load_default=0.0, validate=_BELOW_HALF, metadata={
        "description": "P(F): a known skill is lost after an answer (0 in classic BKT)."})


class BadgeThresholdsSchema(StrictSchema):
    """Minimum score (0-100) of each badge level, strictly increasing."""

    beginner = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    intermediate = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    advanced = fields.Float(required=True, validate=validate.Range(min=0, max=100))
    expert = fields.Float(required=True, validate=validate.Range(min=0, max=100))

    @validates_schema
    def _increasing(self, data, **kwargs):
        values = [data.get(name) for name in LEVEL_NAMES]
        if None not in values and any(b <= a for a, b in zip(values, values[1:])):
            raise ValidationError("Thresholds must increase from beginner to intermediate to "
                                  "advanced to expert.", field_name="badge_thresholds")


class DecaySchema(StrictSchema):
    enabled = fields.Boolean(required=True, metadata={
        "description": "Whether P(L) of a skill decays while it goes unpractised."})
    half_life_days = fields.Integer(load_default=60, validate=validate.Range(min=1, max=3650),
                                    metadata={"description": "Days after which half of what "
                                              "P(L) gained above the skill's prior is gone."})


_MODEL_DOC = ("What a skill's score is: 'recency' (the default: the estimated chance of answering "
              "a typical question of the skill right now, from every answer compared with the "
              "class on the same question and weighted toward recent ones), 'percentage' "
              "(points earned under each quiz's attempt policy, what the gradebook shows), "
              "'bkt' (100 x the BKT probability that the student knows the skill), or one of "
              "Canvas Outcomes' calculation methods on per-quiz results: 'decaying_average', "
              "'weighted_average', 'standard_decaying_average', 'n_mastery', 'highest', "
              "'latest', 'average'. Levels and badges follow the score.")
_INT_DOC = ("Canvas's calculation_int for the method: decaying_average and weighted_average 1-99 "
            "(% weight of the latest result, default 65), standard_decaying_average 50-99 "
            "(default 65), n_mastery 1-10 (results at mastery needed, default 5); null for the "
            "other models, and for a Canvas method its default. Changing mastery_model without "
            "it resets it to the new method's default, as Canvas does.")


class CourseSettingsUpdateSchema(StrictSchema):
    """Any subset of the settings; each field given replaces that setting as a whole."""

    mastery_model = fields.String(validate=validate.OneOf(SCORE_MODELS),
                                  metadata={"description": _MODEL_DOC})
    calculation_int = fields.Integer(allow_none=True, strict=True,
                                     validate=validate.Range(min=1, max=99),
                                     metadata={"description": _INT_DOC})
    bkt_parameters = fields.String(validate=validate.OneOf(PARAMETER_MODES), metadata={
        "description": "'fitted': parameters fitted on this course's answers per skill (EM), "
                       "refreshed by the course sync; 'fixed': fixed_parameters."})
    fixed_parameters = fields.Nested(FixedParametersSchema)
    forgetting = fields.Boolean(metadata={
        "description": "Fit a forgetting probability too (known skills can be lost)."})
    mastery_threshold = fields.Float(validate=validate.Range(min=0.5, max=1.0,
                                                             max_inclusive=False), metadata={
        "description": "P(L) from which a skill counts as mastered (0.5 to below 1)."})
    min_evidence = fields.Integer(validate=validate.Range(min=1, max=1000), metadata={
        "description": "Graded questions on a skill needed before it earns any badge."})
    badge_thresholds = fields.Nested(BadgeThresholdsSchema)
    decay = fields.Nested(DecaySchema, metadata={
        "description": "Decay of P(L) while a skill goes unpractised (affects the 'bkt' "
                       "score and 'mastered'; the other scores do not decay: 'recency' has its "
                       "own fitted weighting of old answers)."})

    @validates_schema
    def _calculation_int_fits_the_model(self, data, **kwargs):
        if "mastery_model" in data and "calculation_int" in data:
            problem = outcomes.int_problem(data["mastery_model"], data["calculation_int"])
            if problem:
                raise ValidationError(problem, field_name="calculation_int")


class FittedSkillSchema(StrictSchema):
    skill = fields.String(required=True)
    source = fields.String(required=True, metadata={
        "description": "'fitted' (this skill's answers), 'course' (too little evidence: the "
                       "course-wide fit) or 'default' (too little evidence for either)."})
    p_init = Number(required=True)
    p_transit = Number(required=True)
    p_slip = Number(required=True)
    p_guess = Number(required=True)
    p_forget = Number(required=True)
    observations = fields.Integer(required=True, metadata={
        "description": "Answers on the skill when it was fitted."})
    students = fields.Integer(required=True)


class RecencyFitSchema(StrictSchema):
    half_life_days = Number(required=True, allow_none=True, metadata={
        "description": "Fitted half-life of an answer's weight; null: every answer counts the "
                       "same (the course's answers showed no gain from favouring recent ones)."})
    held_out = fields.Integer(required=True, metadata={
        "description": "Answers (each student's last week on a skill) the half-life was chosen "
                       "on."})
    answers = fields.Integer(required=True)
    fitted_at = fields.String(required=True, allow_none=True)


class FittedParametersSchema(StrictSchema):
    fitted_at = fields.String(required=True, allow_none=True,
                              metadata={"description": "ISO-8601 UTC; null: never fitted."})
    evidence_rows = fields.Integer(required=True, metadata={
        "description": "Evidence rows of the course when it was fitted."})
    forgetting = fields.Boolean()
    course = fields.Dict(keys=fields.String(), values=Number(), required=True, allow_none=True,
                         metadata={"description": "Course-wide parameters (all skills pooled)."})
    skills = fields.List(fields.Nested(FittedSkillSchema), required=True)
    recency = fields.Nested(RecencyFitSchema, metadata={
        "description": "The course's recency fit (courses scored by 'recency', after their "
                       "first recompute)."})


class CourseSettingsSchema(StrictSchema):
    course_id = fields.String(required=True)
    mastery_model = fields.String(required=True, metadata={"description": _MODEL_DOC})
    calculation_int = fields.Integer(required=True, allow_none=True,
                                     metadata={"description": _INT_DOC})
    bkt_parameters = fields.String(required=True)
    fixed_parameters = fields.Nested(FixedParametersSchema, required=True)
    forgetting = fields.Boolean(required=True)
    mastery_threshold = Number(required=True)
    min_evidence = fields.Integer(required=True)
    badge_thresholds = fields.Nested(BadgeThresholdsSchema, required=True)
    decay = fields.Nested(DecaySchema, required=True)
    updated_at = fields.String(required=True, allow_none=True)
    fitted_parameters = fields.Nested(FittedParametersSchema, required=True)


class SettingsAcceptedSchema(StrictSchema):
    message = fields.String(required=True)
    job_id = fields.String(required=True, metadata={
        "description": "The recompute of mastery and badges under these settings; poll "
                       "GET /achieveup/jobs/{job_id}."})
    settings = fields.Nested(CourseSettingsSchema, required=True)
