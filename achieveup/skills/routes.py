"""``/achieveup`` skill matrices, course descriptions, import status and question skills.

Every route is for instructors of the course concerned (admins pass): role first, then
"does the caller teach this course" through Canvas (``require_course_instructor``). Routes
addressed by matrix id load the matrix first and check its course.
"""
from __future__ import annotations

from flask_smorest import Blueprint

from achieveup.auth.guards import (current_user, require_course_instructor, role_required,
                                   tenant_db, user_gateway)
from achieveup.skills import schemas as s
from achieveup.skills import service
from knowgap.core.schemas import path_id
from knowgap.core.services import services

blp = Blueprint("skills", __name__, url_prefix="/achieveup",
                description="AchieveUp skill matrices and question-skill assignments")

instructor_only = role_required("instructor")


def _db():
    return tenant_db()


def _me() -> str:
    return str(current_user()["_id"])


def _teaches(course_id: str) -> str:
    require_course_instructor(course_id)
    return course_id


def _owned_matrix(matrix_id: str) -> dict:
    matrix = service.load_matrix(_db(), matrix_id)
    _teaches(matrix["course_id"])
    return matrix


# ------------------------------------------------------------------ matrices


@blp.route("/matrix/course/<string:course_id>", methods=["GET"])
@instructor_only
@blp.response(200, s.SkillMatrixSchema(many=True))
def list_course_matrices(course_id):
    """All skill matrices of a course (``[]`` when none)."""
    cid = _teaches(path_id(course_id, "course_id"))
    return service.list_matrices(_db(), cid)


# GET and PUT share the path: for GET the id is a course id, for PUT a matrix id (the
# contract's ``/matrix/{cid}`` and ``/matrix/{mid}``); OpenAPI needs one parameter name.
@blp.route("/matrix/<string:ref>", methods=["GET"])
@instructor_only
@blp.response(200, s.SkillMatrixSchema)
def first_course_matrix(ref):
    """The course's first skill matrix (``ref`` is a course id), or ``{}`` when it has none."""
    cid = _teaches(path_id(ref, "course_id"))
    return service.first_matrix(_db(), cid)


@blp.route("/matrix/create", methods=["POST"])
@instructor_only
@blp.arguments(s.MatrixCreateSchema)
@blp.response(201, s.SkillMatrixSchema)
@blp.alt_response(409, description="A matrix with this name exists in the course.")
def create_matrix(body):
    """Create a skill matrix (name unique per course, ignoring case)."""
    _teaches(body["course_id"])
    return service.create_matrix(_db(), instructor_id=_me(), **body)


@blp.route("/matrix/<string:ref>", methods=["PUT"])
@instructor_only
@blp.arguments(s.MatrixUpdateSchema)
@blp.response(200, s.SkillMatrixSchema)
@blp.alt_response(409, description="Another matrix of the course has this name.")
def update_matrix(body, ref):
    """Rename a matrix and/or replace its skills or description (``ref`` is a matrix id)."""
    matrix = _owned_matrix(ref)
    changes = {k: body[k] for k in ("matrix_name", "skills", "description") if k in body}
    return service.update_matrix(_db(), matrix, changes, services().config)


@blp.route("/matrix/delete/<string:matrix_id>", methods=["DELETE"])
@instructor_only
@blp.response(200, s.MatrixDeletedSchema)
def delete_matrix(matrix_id):
    """Delete a matrix; assignments to skills no other matrix of the course has are removed."""
    return service.delete_matrix(_db(), _owned_matrix(matrix_id), services().config)


@blp.route("/matrix/import", methods=["POST"])
@instructor_only
@blp.arguments(s.CourseImportSchema)
@blp.response(200, s.MatrixImportResultSchema)
def import_matrices(body):
    """Copy another course's matrices (the caller must teach both courses). A name already
    used in the target is skipped when the skills are the same, else suffixed "(imported)"."""
    _teaches(body["source_course_id"])
    _teaches(body["target_course_id"])
    return service.import_matrices(_db(), instructor_id=_me(), **body)


@blp.route("/import-status/<string:course_id>", methods=["GET"])
@instructor_only
@blp.response(200, s.ImportStatusSchema)
def import_status(course_id):
    """What was imported into this course, and from where (always 200)."""
    cid = _teaches(path_id(course_id, "course_id"))
    return service.import_status(_db(), cid)


# ------------------------------------------------------------------ course descriptions


@blp.route("/course-description/<string:course_id>", methods=["GET"])
@instructor_only
@blp.response(200, s.CourseDescriptionSchema)
def get_course_description(course_id):
    """The caller's description of a course (``""``/``null`` when not written yet)."""
    cid = _teaches(path_id(course_id, "course_id"))
    return service.get_description(_db(), cid, _me())


@blp.route("/course-description/<string:course_id>", methods=["PUT"])
@instructor_only
@blp.arguments(s.CourseDescriptionUpdateSchema)
@blp.response(200, s.CourseDescriptionSchema)
def put_course_description(body, course_id):
    """Save the caller's description of a course (at most 12,000 characters)."""
    cid = _teaches(path_id(course_id, "course_id"))
    return service.save_description(_db(), cid, _me(), body["description"])


# ------------------------------------------------------------------ question skills


@blp.route("/skills/assign", methods=["POST"])
@instructor_only
@blp.arguments(s.AssignSkillsSchema)
@blp.response(200, s.AssignResultSchema)
@blp.alt_response(400, description="Some skills are in no matrix of the course.")
def assign_skills(body):
    """Set the skills of questions; an empty list removes a question's mapping."""
    cid = _teaches(body["course_id"])
    return service.assign_skills(_db(), cid, body["question_skills"])


@blp.route("/skills/assignments", methods=["GET"])
@instructor_only
@blp.arguments(s.AssignmentsQuerySchema, location="query")
@blp.response(200, s.AssignmentsSchema)
def get_assignments(query):
    """Question-skill assignments of a course; repeat ``question_id`` to select questions."""
    cid = _teaches(query["course_id"])
    return service.get_assignments(_db(), cid, query["question_id"])


@blp.route("/skills/import", methods=["POST"])
@instructor_only
@blp.arguments(s.CourseImportSchema)
@blp.response(200, s.SkillsImportResultSchema)
def import_question_skills(body):
    """Copy question skills from a past course, matching quizzes by normalized title and
    questions by normalized text. Imports the source's matrices first when the target has
    none; only skills present in the target's matrices are copied."""
    _teaches(body["source_course_id"])
    _teaches(body["target_course_id"])
    return service.import_question_skills(_db(), user_gateway(), instructor_id=_me(), **body)
