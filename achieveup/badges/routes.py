"""Badge endpoints (earned lists, generate, share, credential download, verify, the public
profile preference) and the public Open Badges 2.0 and 3.0 documents (assertions, classes,
issuer, credentials, keys, status lists, images), which are also pages for people
(``achieveup.badges.pages``)."""
from __future__ import annotations

import re

from flask import Response, jsonify, request
from flask_smorest import Blueprint

from achieveup.auth.guards import (current_user, is_admin, login_required,
                                   require_course_instructor, require_student_access,
                                   role_required, taught_course_ids, tenant_db)
from achieveup.badges import images, ob3, pages, privacy, public, service, verification
from achieveup.badges import schemas as s
from knowgap.core.errors import BadRequest
from knowgap.core.extensions import limit_from_config
from knowgap.core.schemas import Id, StrictSchema, fields, path_id
from knowgap.core.services import services

blp = Blueprint("achieveup_badges", __name__, description="AchieveUp skill badges",
                template_folder="templates")


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


PAGE_SCHEMA = {"type": "string", "description": "The page (HTML)."}
PAGE = {"text/html": {"schema": PAGE_SCHEMA}}
PAGE_NOTE = (" A request preferring text/html (a browser) gets the page instead; a badge that "
             "is missing, not shared or revoked gets the same 404 page.")
#: Endpoints that answer a page or JSON by the request's Accept (and link-preview crawlers).
NEGOTIATED = set()


def negotiated(view):
    NEGOTIATED.add(f"{blp.name}.{view.__name__}")
    return view


@blp.after_request
def _vary(response):
    if request.endpoint in NEGOTIATED:
        response.vary.add("Accept")
        response.vary.add("User-Agent")
    return response


def _public_profile(student_id):
    svc = services()
    db = public.profile_db(svc.db, svc.config)
    if pages.wants_html():
        return pages.profile_page(db, svc.config, str(student_id))
    return public.earned_response(db, svc.config, path_id(student_id, "student_id"))


@blp.route("/achieveup/public/badges/student/<student_id>/earned")
@negotiated
@blp.response(200, s.EarnedBadgesSchema)
@blp.alt_response(200, schema=PAGE_SCHEMA, content_type="text/html", success=True)
@blp.doc(summary="Publicly shared badges of a student (no authentication); student_name is "
                 "empty unless the student chose to show it. A student who shared nothing "
                 "gets the same answer as an unknown id." + PAGE_NOTE)
def public_earned(student_id):
    return _public_profile(student_id)


@blp.route("/achieveup/public/badges/student/<student_id>")
@negotiated
@blp.response(200, s.EarnedBadgesSchema)
@blp.alt_response(200, schema=PAGE_SCHEMA, content_type="text/html", success=True)
@blp.doc(summary="The student's public profile: a page in a browser listing their shared "
                 "badges (the 404 page when there are none); the same JSON as .../earned "
                 "otherwise")
def public_profile(student_id):
    return _public_profile(student_id)


@blp.route("/achieveup/badge-profile")
@login_required
@blp.response(200, s.BadgeProfileSchema)
@blp.doc(summary="Your public badge profile: whether pages and lists of your shared badges "
                 "show your name (off unless you turn it on)")
def badge_profile():
    return public.profile_settings(tenant_db(), services().config, _own_student_id())


@blp.route("/achieveup/badge-profile", methods=["PUT"])
@login_required
@blp.arguments(s.BadgeProfileUpdateSchema)
@blp.response(200, s.BadgeProfileSchema)
@blp.doc(summary="Show or hide your name on your shared badges' pages and public lists")
def update_badge_profile(body):
    db = tenant_db()
    student_id = _own_student_id()
    privacy.set_show_name(db, student_id, body["show_name"])
    return public.profile_settings(db, services().config, student_id)


def _own_student_id() -> str:
    own = current_user().get("canvas_user_id")
    if own is None:
        raise BadRequest("Add your Canvas API token in Settings first: badges and their "
                         "profile belong to your Canvas account.", error="canvas_token_missing")
    return str(own)


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
    return public.set_public(tenant_db(), services().config, path_id(badge_id, "badge_id"),
                             current_user(), body["public"])


@blp.route("/achieveup/public/badges/assertions/<badge_id>")
@negotiated
@blp.response(200, s.OBAssertionSchema)
@blp.alt_response(200, schema=PAGE_SCHEMA, content_type="text/html", success=True)
@blp.doc(summary="Open Badges 2.0 hosted Assertion of a shared badge (404 when not shared, "
                 "410 when a shared badge was revoked)." + PAGE_NOTE)
def ob_assertion(badge_id):
    svc = services()
    if pages.wants_html():
        return pages.badge_page(svc.db, svc.config, str(badge_id))
    return public.assertion(svc.db, svc.config, path_id(badge_id, "badge_id"))


PNG = {"200": {"description": "PNG image.", "content": {"image/png": {}}}}


def _png(data: bytes, filename: str | None = None) -> Response:
    response = Response(data, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=300"
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _baked(badge_id: str, version: str) -> Response:
    """A shared badge's PNG baked for Open Badges ``version`` ("ob2": the assertion URL in
    the ``openbadges`` chunk; "ob3": the signed VC-JWT in ``openbadgecredential``)."""
    svc = services()
    doc = ob3.shared_badge(svc.db, path_id(badge_id, "badge_id"))
    if version == "ob2":
        keyword, text = images.OB2_KEYWORD, service.shareable_link(svc.config, doc["public_id"])
    else:
        keyword, text = images.OB3_KEYWORD, ob3.issue(svc.db, svc.config, doc)
    return _png(images.baked_png(doc["level"], keyword, text),
                f"badge-{doc['public_id']}-{version}.png")


@blp.route("/achieveup/public/badges/assertions/<badge_id>/image.png")
@blp.doc(summary="The shared badge's image baked as an Open Badges 2.0 badge: a PNG whose "
                 "iTXt chunk 'openbadges' holds the assertion URL (404 when not shared, 410 "
                 "when revoked)", responses=PNG)
def baked_ob2(badge_id):
    return _baked(badge_id, "ob2")


@blp.route("/achieveup/public/badges/credentials/<badge_id>/image.png")
@blp.doc(summary="The shared badge's image baked as an Open Badges 3.0 badge: a PNG whose "
                 "iTXt chunk 'openbadgecredential' holds the signed VC-JWT (404 when not "
                 "shared, 410 when revoked)", responses=PNG)
def baked_ob3(badge_id):
    return _baked(badge_id, "ob3")


@blp.route("/achieveup/public/badges/classes/<course_id>/<skill_slug>/<level>")
@blp.arguments(s.ClassQuerySchema, location="query")
@blp.response(200, s.OBBadgeClassSchema)
@blp.doc(summary="Open Badges 2.0 BadgeClass")
def ob_class(query, course_id, skill_slug, level):
    svc = services()
    return service.badge_class(svc.db, svc.config, path_id(course_id),
                               path_id(skill_slug, "skill_slug"), level, query.get("canvas_host"))


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
    return Response(images.svg(level), mimetype="image/svg+xml")


@blp.route("/achieveup/public/badges/images/<level>.png")
@blp.doc(summary="Badge image (PNG, 512x512, the same design as the SVG)", responses=PNG)
def ob_image_png(level):
    return _png(images.png(level))


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
            f'attachment; filename="badge-{doc["public_id"]}.{fmt}"')
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
@negotiated
@blp.arguments(s.CredentialQuerySchema, location="query")
@blp.doc(summary="Open Badges 3.0 credential of a shared badge (404 when not shared, 410 when "
                 "a shared badge was revoked); download=true adds Content-Disposition. "
                 "Without format or download, a request preferring text/html gets the "
                 "badge's page.",
         responses={"200": {**CREDENTIAL_DOC["200"],
                            "content": {**CREDENTIAL_DOC["200"]["content"], **PAGE}}})
def public_credential(query, badge_id):
    svc = services()
    if pages.wants_html():
        return pages.badge_page(svc.db, svc.config, str(badge_id))
    doc = ob3.shared_badge(svc.db, path_id(badge_id, "badge_id"))
    return _credential(doc, query["format"], download=query["download"])


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
