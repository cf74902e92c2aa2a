"""Badge endpoints (earned lists, generate, share) and public Open Badges 2.0 documents."""
from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from achieveup.auth.guards import (current_user, is_admin, login_required,
                                   require_course_instructor, require_student_access,
                                   role_required, taught_course_ids)
from achieveup.badges import schemas as s
from achieveup.badges import service
from knowgap.core.schemas import Id, StrictSchema, fields, path_id
from knowgap.core.services import services

blp = Blueprint("achieveup_badges", __name__, description="AchieveUp skill badges")


class GenerateSchema(StrictSchema):
    course_id = Id(required=True)


class ShareSchema(StrictSchema):
    public = fields.Boolean(required=True, truthy={True}, falsy={False})


def _visible_badges(student_id: str) -> list[dict]:
    require_student_access(student_id)
    user = current_user()
    svc = services()
    own = user.get("canvas_user_id")
    if is_admin(user) or (own is not None and str(own) == student_id):
        return service.badges_of_student(svc.db, student_id)
    # an instructor sees the badges of the courses they teach only
    return service.badges_of_student(svc.db, student_id, course_ids=taught_course_ids(user))


@blp.route("/achieveup/badges/student/<student_id>/earned")
@login_required
@blp.response(200, s.EarnedBadgesSchema)
@blp.doc(summary="Badges earned by a student: {student_id, student_name, total_badges, badges}")
def earned(student_id):
    student_id = path_id(student_id, "student_id")
    svc = services()
    return service.earned_response(svc.db, svc.config, student_id, _visible_badges(student_id))


@blp.route("/achieveup/public/badges/student/<student_id>/earned")
@blp.response(200, s.EarnedBadgesSchema)
@blp.doc(summary="Publicly shared badges of a student (no authentication)")
def public_earned(student_id):
    student_id = path_id(student_id, "student_id")
    svc = services()
    badges = service.badges_of_student(svc.db, student_id, public_only=True)
    return service.earned_response(svc.db, svc.config, student_id, badges)


@blp.route("/achieveup/badges/<student_id>")
@login_required
@blp.response(200, s.EarnedBadgeSchema(many=True))
@blp.doc(summary="Badges earned by a student as a bare array of EarnedBadge")
def earned_list(student_id):
    student_id = path_id(student_id, "student_id")
    config = services().config
    return [service.earned_view(config, b) for b in _visible_badges(student_id)]


@blp.route("/achieveup/badges/generate", methods=["POST"])
@role_required("instructor")
@blp.arguments(GenerateSchema)
@blp.response(200, s.EarnedBadgeSchema(many=True))
@blp.doc(summary="Re-evaluate badge awards from stored mastery; returns the newly awarded")
def generate(body):
    require_course_instructor(body["course_id"])
    svc = services()
    new = service.award_for_course(svc.db, svc.config, body["course_id"])
    return [service.earned_view(svc.config, b) for b in new]


@blp.route("/achieveup/badges/<badge_id>/share", methods=["PUT"])
@login_required
@blp.arguments(ShareSchema)
@blp.response(200, s.EarnedBadgeSchema)
@blp.doc(summary="Make one of your badges public (or private again)")
def share(body, badge_id):
    svc = services()
    return service.set_public(svc.db, svc.config, path_id(badge_id, "badge_id"),
                              current_user(), body["public"])


@blp.route("/achieveup/public/badges/assertions/<badge_id>")
@blp.response(200, s.OBAssertionSchema)
@blp.doc(summary="Open Badges 2.0 hosted Assertion (shared badges; 410 when revoked)")
def ob_assertion(badge_id):
    svc = services()
    return service.assertion(svc.db, svc.config, path_id(badge_id, "badge_id"))


@blp.route("/achieveup/public/badges/classes/<course_id>/<skill_slug>/<level>")
@blp.response(200, s.OBBadgeClassSchema)
@blp.doc(summary="Open Badges 2.0 BadgeClass")
def ob_class(course_id, skill_slug, level):
    svc = services()
    return service.badge_class(svc.db, svc.config, path_id(course_id),
                               path_id(skill_slug, "skill_slug"), level)


@blp.route("/achieveup/public/badges/issuer")
@blp.response(200, s.OBIssuerSchema)
@blp.doc(summary="Open Badges 2.0 Issuer profile")
def ob_issuer():
    return service.issuer(services().config)


@blp.route("/achieveup/public/badges/images/<level>.svg")
@blp.doc(summary="Badge image", responses={"200": {
    "description": "The badge image (SVG).",
    "content": {"image/svg+xml": {}}}})
def ob_image(level):
    return Response(service.image_svg(level), mimetype="image/svg+xml")
