"""AI suggestion routes (instructors only). Each response carries ``X-Suggestion-Source:
ai|heuristic``; object items also carry ``source``. See ``achieveup.ai.service``."""
from __future__ import annotations

from flask_smorest import Blueprint

from achieveup.ai import schemas as s
from achieveup.ai import service
from achieveup.auth.guards import (current_user, require_course_instructor, role_required,
                                   tenant_db)
from achieveup.skills import service as skills
from knowgap.core.extensions import limit_from_config
from knowgap.core.services import services

blp = Blueprint("ai_suggestions", __name__, url_prefix="/achieveup",
                description="AI (or offline) skill suggestions and question analysis")

instructor_only = role_required("instructor")
ai_limit = limit_from_config("ai_rate_limit")     # each call can spend the OpenAI quota
SOURCE_HEADER = "X-Suggestion-Source"
SOURCE_DOC = {"headers": {SOURCE_HEADER: {
    "description": "Which engine answered: ai or heuristic", "schema": {"type": "string"}}}}


def _headers(source: str) -> dict:
    return {SOURCE_HEADER: source}


def _me() -> str:
    return str(current_user()["_id"])


def _stored_description(course_id: str | None) -> str | None:
    if not course_id:
        return None
    return skills.get_description(tenant_db(), course_id, _me())["description"] or None


def _normalize(questions: list[dict]) -> list[dict]:
    """Accept both {id, text, type, points} and Canvas-shaped question objects."""
    out = []
    for q in questions:
        out.append({"id": q["id"],
                    "text": q.get("text") if q.get("text") is not None else q.get("question_text", ""),
                    "type": q.get("type") or q.get("question_type"),
                    "points": q["points"] if q.get("points") is not None else q.get("points_possible")})
    return out


@blp.route("/ai/suggest-skills", methods=["POST"])
@ai_limit
@instructor_only
@blp.arguments(s.CourseSkillsRequest)
@blp.response(200, s.CourseSkillOut(many=True), **SOURCE_DOC)
def suggest_course_skills(body):
    """Skills for a course (5–10, never empty). Uses the stored course description when the
    request has none."""
    course_id = body.get("courseId")
    if course_id:
        require_course_instructor(course_id)
    description = body.get("courseDescription") or _stored_description(course_id)
    items, source = service.suggest_course_skills(
        services().config, course_name=body["courseName"], course_code=body.get("courseCode"),
        description=description)
    return items, 200, _headers(source)


@blp.route("/ai/analyze-questions", methods=["POST"])
@ai_limit
@instructor_only
@blp.arguments(s.AnalyzeQuestionsRequest)
@blp.response(200, s.QuestionAnalysisOut(many=True), **SOURCE_DOC)
def analyze_questions(body):
    """Skills (from the course's matrices, or ``matrixId``'s) and complexity per question."""
    return _analyze(body["courseId"], body.get("matrixId"), body["questions"])


@blp.route("/questions/analyze", methods=["POST"])
@ai_limit
@instructor_only
@blp.arguments(s.QuestionsAnalyzeRequest)
@blp.response(200, s.QuestionAnalysisOut(many=True), **SOURCE_DOC)
def questions_analyze(body):
    """Same as ``/achieveup/ai/analyze-questions``; ``course_id`` is optional (without it the
    skills are free-form suggestions)."""
    return _analyze(body.get("course_id"), body.get("matrix_id"), body["questions"])


def _analyze(course_id, matrix_id, questions):
    """Both analyze routes: skills from the course's matrices when a course is named (after
    checking the caller teaches it), free-form suggestions otherwise."""
    allowed: list[str] = []
    if course_id:
        require_course_instructor(course_id)
        allowed = skills.course_skills(tenant_db(), course_id, matrix_id)
    items, source = service.analyze_questions(
        services().config, _normalize(questions), allowed,
        course={"description": _stored_description(course_id)})
    return items, 200, _headers(source)


@blp.route("/skills/suggest", methods=["POST"])
@ai_limit
@instructor_only
@blp.arguments(s.SuggestForQuestionRequest)
@blp.response(200, description="Skill names, best first.", **SOURCE_DOC)
def suggest_for_question(body):
    """Skill names for one question (from the course's matrices when ``course_id`` is given)."""
    course_id = body.get("course_id")
    allowed: list[str] = []
    if course_id:
        require_course_instructor(course_id)
        allowed = skills.course_skills(tenant_db(), course_id)
    context = body.get("course_context") or _stored_description(course_id)
    names, source = service.suggest_for_question(services().config, body["question_text"],
                                                 allowed, context=context)
    return names, 200, _headers(source)
