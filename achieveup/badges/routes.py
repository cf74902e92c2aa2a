"""Badge endpoints (earned lists, generate, share, credential download, verify) and the public
Open Badges 2.0 and 3.0 documents (assertions, classes, issuer, credentials, keys, status
lists)."""
from __future__ import annotations

import re

from flask import Response, jsonify
from flask_smorest import Blueprint

from achieveup.auth.guards import (current_user, is_admin, login_required,
                                   require_course_instructor, require_student_access,
                                   role_required, taught_course_ids, tenant_db)
from achieveup.badges import ob3, service, verification
from achieveup.badges import schemas as s
from knowgap.core.extensions import limit_from_config
from knowgap.core.schemas import Id, StrictSchema, fields, path_id
from knowgap.canvas.hosts import default_host
from knowgap.core.services import services
from knowgap.core.tenancy import scoped

blp = Blueprint("achieveup_badges", __name__, description="AchieveUp skill badges")


class GenerateSchema(StrictSchema):
    course_id = Id(required=True)


class ShareSchema(StrictSchema):
    public = fields.Boolean(required=True, truthy={True}, falsy={False})


def _visible_badges(student_id: str) -> list[dict]:
    require_student_access(student_id)
    user = current_user()
    db = tenant_db(user)
    own = user.get("canvas_user_id")
    if is_admin(user) or (own is not None and str(own) == student_id):
        return service.badges_of_student(db, student_id)
    # an instructor sees the badges of the courses they teach only
    return service.badges_of_student(db, student_id, course_ids=taught_course_ids(user))


@blp.route("/achieveup/badges/student/<student_id>/earned")
@login_required
@blp.response(200, s.EarnedBadgesSchema)
@blp.doc(summary="Badges earned by a student: {student_id, student_name, total_badges, badges}")
def earned(student_id):
    student_id = path_id(student_id, "student_id")
    return service.earned_response(tenant_db(), services().config, student_id,
                                   _visible_badges(student_id))


@blp.route("/achieveup/public/badges/student/<student_id>/earned")
@blp.response(200, s.EarnedBadgesSchema)
@blp.doc(summary="Publicly shared badges of a student (no authentication)")
def public_earned(student_id):
    student_id = path_id(student_id, "student_id")
    svc = services()
    db = scoped(svc.db, default_host(svc.config))     # a student id alone names no Canvas
    badges = service.badges_of_student(db, student_id, public_only=True)
    return service.earned_response(db, svc.config, student_id, badges)


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
    new = service.award_for_course(tenant_db(), svc.config, body["course_id"])
    return [service.earned_view(svc.config, b) for b in new]


@blp.route("/achieveup/badges/<badge_id>/share", methods=["PUT"])
@login_required
@blp.arguments(ShareSchema)
@blp.response(200, s.EarnedBadgeSchema)
@blp.doc(summary="Make one of your badges public (or private again)")
def share(body, badge_id):
    return service.set_public(tenant_db(), services().config, path_id(badge_id, "badge_id"),
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


# ------------------------------------------------------------------ Open Badges 3.0

JWT_CONTENT = {ob3.MEDIA_TYPE: {"schema": {"type": "string",
                                            "description": "A compact VC-JWT (EdDSA)."}}}
CREDENTIAL_DOC = {"200": {
    "description": "The credential: the VC-JWT (format=jwt, default) or its claims as JSON "
                   "(format=json).",
    "content": {**JWT_CONTENT, "application/json": {"schema": s.OB3CredentialSchema}}}}
verify_limit = limit_from_config("badge_verify_rate_limit")
LIST_NUMBER = re.compile(r"^[0-9]{1,9}$")


def _credential(doc: dict, fmt: str, *, download: bool) -> Response:
    svc = services()
    if fmt == "json":
        response = jsonify(ob3.credential(svc.db, svc.config, doc))
    else:
        response = Response(ob3.issue(svc.db, svc.config, doc), mimetype=ob3.MEDIA_TYPE)
    if download:
        response.headers["Content-Disposition"] = (
            f'attachment; filename="badge-{doc["_id"]}.{fmt}"')
    return response


@blp.route("/achieveup/badges/<badge_id>/credential")
@login_required
@blp.arguments(s.CredentialQuerySchema, location="query")
@blp.doc(summary="Download your Open Badges 3.0 credential (.jwt or .json); only the student "
                 "who earned the badge, shared or not", responses=CREDENTIAL_DOC)
def download_credential(query, badge_id):
    doc = ob3.own_badge(tenant_db(), path_id(badge_id, "badge_id"), current_user())
    return _credential(doc, query["format"], download=True)


@blp.route("/achieveup/public/badges/credentials/<badge_id>")
@blp.arguments(s.CredentialQuerySchema, location="query")
@blp.doc(summary="Open Badges 3.0 credential of a shared badge (410 when revoked)",
         responses=CREDENTIAL_DOC)
def public_credential(query, badge_id):
    doc = ob3.shared_badge(services().db, path_id(badge_id, "badge_id"))
    return _credential(doc, query["format"], download=False)


@blp.route("/achieveup/public/badges/jwks.json")
@blp.response(200, s.JWKSSchema)
@blp.doc(summary="JWKS: the Ed25519 keys of this issuer's Open Badges 3.0 credentials")
def ob3_jwks():
    return ob3.jwks(services().config)


@blp.route("/achieveup/public/badges/keys/<kid>")
@blp.response(200, s.JWKSchema)
@blp.doc(summary="One signing key as a JWK (credentials name it by this URL in their kid)")
def ob3_key(kid):
    return ob3.published_jwk(services().config, path_id(kid, "kid"))


@blp.route("/achieveup/public/badges/status/<list_number>")
@blp.doc(summary="Bitstring Status List credential (revocation) as a VC-JWT; verifiers and "
                 "caches may keep it for BADGE_STATUS_LIST_TTL_SECONDS",
         responses={"200": {"description": "BitstringStatusListCredential as a VC-JWT.",
                            "content": JWT_CONTENT}})
def ob3_status_list(list_number):
    svc = services()
    number = int(path_id(list_number, "list_number", LIST_NUMBER))
    response = Response(ob3.status_list_token(svc.db, svc.config, number),
                        mimetype=ob3.MEDIA_TYPE)
    response.headers["Cache-Control"] = (
        f"public, max-age={svc.config.badge_status_list_ttl_seconds}")
    return response


@blp.route("/achieveup/badges/verify", methods=["POST"])
@verify_limit
@blp.arguments(s.VerifyRequestSchema)
@blp.response(200, s.VerifyResultSchema)
@blp.doc(summary="Verify a badge of this issuer: an Open Badges 3.0 VC-JWT or an Open Badges "
                 "2.0 assertion URL (public, rate-limited); never fetches the URL")
def verify(body):
    svc = services()
    return verification.verify(svc.db, svc.config, body)
