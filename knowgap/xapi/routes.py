"""xAPI delivery of a course (instructors of the course), and the extensions' descriptions.

* ``GET /achieveup/instructor/courses/{cid}/xapi`` — the course's delivery status;
* ``PUT`` the same path ``{enabled}`` — turn sending on or off (off by default unless the
  server sets ``XAPI_DEFAULT_ON``); turning it on sends what the course already stored;
* ``POST …/xapi/retry`` — send the dead-lettered statements again (after the LRS was fixed);
* ``GET /xapi/extensions/{name}`` — public: what one of our extension IRIs means (xAPI Data
  4.1 asks the controller of an extension IRI to describe it at that address).
"""
from __future__ import annotations

from flask_smorest import Blueprint

from achieveup.auth.guards import (current_user, require_course_instructor, role_required,
                                   tenant_db)
from knowgap.core.errors import NotFound
from knowgap.core.schemas import path_id
from knowgap.core.services import services
from knowgap.xapi import schemas as s
from knowgap.xapi import service
from knowgap.xapi.vocabulary import EXTENSIONS

blp = Blueprint("xapi", __name__, description="xAPI statements to the institution's LRS")

PATH = "/achieveup/instructor/courses/<course_id>/xapi"


def _course(course_id: str) -> tuple:
    """(the database on the instructor's Canvas host, config, course id) for an instructor of
    the course."""
    course_id = path_id(course_id)
    require_course_instructor(course_id)
    return tenant_db(), services().config, course_id


@blp.route(PATH, methods=["GET"])
@role_required("instructor")
@blp.response(200, s.DeliveryStatusSchema)
@blp.doc(summary="The course's xAPI delivery: on or off, statements pending / delivered / "
                 "refused (with the LRS's error), the last error and the next retry")
def get_delivery(course_id):
    return service.status(*_course(course_id))


@blp.route(PATH, methods=["PUT"])
@role_required("instructor")
@blp.arguments(s.DeliveryUpdateSchema)
@blp.response(200, s.DeliveryStatusSchema)
@blp.doc(summary="Turn sending this course's learning events to the LRS on or off")
def put_delivery(body, course_id):
    return service.set_enabled(*_course(course_id), body["enabled"],
                               str(current_user()["_id"]))


@blp.route(PATH + "/retry", methods=["POST"])
@role_required("instructor")
@blp.response(200, s.RetryResultSchema)
@blp.doc(summary="Send the statements the LRS refused once more")
def retry_delivery(course_id):
    return service.retry_dead(*_course(course_id))


@blp.route("/xapi/extensions/<name>", methods=["GET"])
@blp.response(200)
@blp.doc(summary="What an xAPI extension IRI of this server means", security=[])
def extension(name):
    if name not in EXTENSIONS:
        raise NotFound(f"This server defines no xAPI extension named {name[:60]!r}.",
                       error="extension_not_found")
    return {"id": f"{services().config.public_base_url.rstrip('/')}/xapi/extensions/{name}",
            "name": name, "description": EXTENSIONS[name]}
