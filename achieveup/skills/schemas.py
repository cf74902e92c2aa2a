"""Request and response schemas for skill matrices, course descriptions, question-skill
assignments and imports (these also feed the OpenAPI document).

Skill names are cleaned here, once: trimmed, non-empty, at most ``MAX_SKILL_LENGTH`` characters,
at most ``MAX_SKILLS`` per matrix and unique ignoring case. Anything else is a 422 with the
field named, before a service ever sees it.
"""
from __future__ import annotations

from marshmallow import validates_schema

from knowgap.core.schemas import (ID_PATTERN, Id, StrictSchema, Text, ValidationError, fields,
                                  no_operator_keys, validate)

MAX_SKILL_LENGTH = 100
MAX_SKILLS = 200
MAX_MATRIX_NAME = 120
MAX_MATRIX_DESCRIPTION = 2000
MAX_COURSE_DESCRIPTION = 12_000
MAX_ASSIGN_QUESTIONS = 1000
MAX_SKILLS_PER_QUESTION = 50
MAX_QUERY_QUESTIONS = 1000


def clean_skill_names(values, *, limit: int = MAX_SKILLS, dedupe: bool = False) -> list[str]:
    """Trim and check a list of skill names; raise ValidationError with a readable reason.
    A repeated name (ignoring case) is an error, or silently dropped with ``dedupe``."""
    if len(values) > limit:
        raise ValidationError(f"A list may hold at most {limit} skills; {len(values)} were sent.")
    cleaned: list[str] = []
    seen: dict[str, str] = {}
    for position, raw in enumerate(values, start=1):
        name = " ".join(raw.split())
        if not name:
            raise ValidationError(f"Skill {position} is empty. Every skill needs a name.")
        if len(name) > MAX_SKILL_LENGTH:
            raise ValidationError(
                f"Skill {position} is longer than {MAX_SKILL_LENGTH} characters. Shorten it.")
        key = name.casefold()
        if key in seen and dedupe:
            continue
        if key in seen:
            same = f"'{name}'" if seen[key] == name else f"'{seen[key]}' ('{name}')"
            raise ValidationError(
                f"The skill {same} appears more than once (skills are compared ignoring "
                "case). Remove the duplicate.")
        seen[key] = name
        cleaned.append(name)
    return cleaned


class SkillName(Text):
    """One skill name as sent by a client (cleaning happens on the whole list)."""


class SkillList(fields.List):
    """A list of skill names, returned trimmed and validated (see ``clean_skill_names``)."""

    def __init__(self, *, limit: int = MAX_SKILLS, **kwargs):
        super().__init__(SkillName(), **kwargs)
        self.limit = limit

    def _deserialize(self, value, attr, data, **kwargs):
        names = super()._deserialize(value, attr, data, **kwargs)
        return clean_skill_names(names, limit=self.limit)


class CleanName(Text):
    """A trimmed, non-empty display name."""

    def _deserialize(self, value, attr, data, **kwargs):
        name = " ".join(super()._deserialize(value, attr, data, **kwargs).split())
        if not name:
            raise ValidationError("Enter a name.")
        return name


# ------------------------------------------------------------------ matrices


class MatrixCreateSchema(StrictSchema):
    course_id = Id(required=True)
    matrix_name = CleanName(required=True, validate=validate.Length(max=MAX_MATRIX_NAME))
    skills = SkillList(required=True)
    description = fields.String(load_default="", allow_none=True,
                                validate=validate.Length(max=MAX_MATRIX_DESCRIPTION))


class MatrixUpdateSchema(StrictSchema):
    matrix_name = CleanName(validate=validate.Length(max=MAX_MATRIX_NAME))
    skills = SkillList()
    description = fields.String(allow_none=True,
                                validate=validate.Length(max=MAX_MATRIX_DESCRIPTION))
    # Some clients echo the matrix back; accept (and ignore) the read-only fields.
    course_id = Id()
    echoed_id = fields.Raw(data_key="_id", load_only=True)
    created_at = fields.Raw(load_only=True)
    updated_at = fields.Raw(load_only=True)

    @validates_schema
    def _something_to_change(self, data, **kwargs):
        if not {"matrix_name", "skills", "description"} & set(data):
            raise ValidationError("Send matrix_name, skills or description to change.",
                                  "_schema")


class SkillMatrixSchema(StrictSchema):
    id = fields.String(data_key="_id", attribute="_id")
    course_id = fields.String()
    matrix_name = fields.String()
    skills = fields.List(fields.String())
    description = fields.String()
    created_at = fields.String()
    updated_at = fields.String()


class MatrixDeletedSchema(StrictSchema):
    message = fields.String()
    matrix_id = fields.String()


class CourseImportSchema(StrictSchema):
    source_course_id = Id(required=True)
    target_course_id = Id(required=True)

    @validates_schema
    def _different(self, data, **kwargs):
        if data.get("source_course_id") == data.get("target_course_id"):
            raise ValidationError("The source and target course must be different courses.",
                                  "target_course_id")


class MatrixImportResultSchema(StrictSchema):
    message = fields.String()
    imported_count = fields.Integer()
    matrices = fields.List(fields.Nested(SkillMatrixSchema))


class ImportStatusSchema(StrictSchema):
    target_course_id = fields.String()
    source_course_id = fields.String()
    matrices_imported = fields.Boolean()
    assignments_imported = fields.Boolean()


# ------------------------------------------------------------------ course descriptions


class CourseDescriptionUpdateSchema(StrictSchema):
    description = fields.String(required=True,
                                validate=validate.Length(max=MAX_COURSE_DESCRIPTION))

    @validates_schema
    def _no_nul(self, data, **kwargs):
        if "\x00" in (data.get("description") or ""):
            raise ValidationError("Text may not contain NUL characters.", "description")


class CourseDescriptionSchema(StrictSchema):
    course_id = fields.String()
    description = fields.String()
    updated_at = fields.String(allow_none=True)


# ------------------------------------------------------------------ question skills


def _question_skill_map(mapping: dict) -> None:
    if len(mapping) > MAX_ASSIGN_QUESTIONS:
        raise ValidationError(
            f"Send at most {MAX_ASSIGN_QUESTIONS} questions per request; {len(mapping)} were sent.")
    bad = [k for k in mapping if not isinstance(k, str) or not ID_PATTERN.match(k)]
    if bad:
        raise ValidationError("Question ids must be ids (letters, digits, '_', '-', '.', ':').")
    # Map keys may end up as document keys (exports, per-question maps): no '$', no '.'.
    no_operator_keys(mapping)


class QuestionSkillsField(fields.Dict):
    """``{question_id: [skill, ...]}`` with ids checked and each list cleaned."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), values=fields.List(SkillName()),
                         validate=_question_skill_map, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        mapping = super()._deserialize(value, attr, data, **kwargs)
        cleaned, errors = {}, {}
        for qid, names in mapping.items():
            try:
                cleaned[qid] = clean_skill_names(names, limit=MAX_SKILLS_PER_QUESTION,
                                                dedupe=True)
            except ValidationError as exc:
                errors[qid] = exc.messages
        if errors:
            raise ValidationError(errors)
        return cleaned


class AssignSkillsSchema(StrictSchema):
    course_id = Id(required=True)
    question_skills = QuestionSkillsField(required=True)


class AssignResultSchema(StrictSchema):
    message = fields.String()
    assigned = fields.Integer()


class AssignmentsQuerySchema(StrictSchema):
    course_id = Id(required=True)
    question_id = fields.List(Id(), load_default=list,
                              validate=validate.Length(max=MAX_QUERY_QUESTIONS))


class AssignmentsSchema(StrictSchema):
    course_id = fields.String()
    question_skills = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class SkillsImportResultSchema(StrictSchema):
    imported_count = fields.Integer()
    matched_quizzes = fields.Integer()
    matched_questions = fields.Integer()
