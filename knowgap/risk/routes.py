"""KnowGap risk endpoints: at-risk prediction, the per-course toggle, support videos."""
from __future__ import annotations

from flask_smorest import Blueprint

from knowgap.core.errors import BadRequest
from knowgap.core.schemas import path_id
from knowgap.core.extensions import limit_from_config
from knowgap.identity.request import (identify, requested_canvas, requested_services,
                                      scoped_services)
from knowgap.identity.service import require_instructor, require_self_or_instructor
from knowgap.risk import service
from knowgap.risk.schemas import RiskBody, SupportVideoBody, ToggleBody, ToggleQuery

blp = Blueprint("knowgap_risk", __name__, description="KnowGap: at-risk prediction")


@blp.route("/get-risk", methods=["POST"])
@blp.arguments(RiskBody)
@blp.response(200)
def get_risk(body):
    """``{risk_level, risk_index, factors, enabled}``; students only see their own, and only
    while the course's risk display is on; instructors always get it."""
    caller = identify(body, body["course_id"])
    svc = scoped_services(caller)
    student_id = body.get("student_id") or caller.user_id
    require_self_or_instructor(caller, student_id)
    if caller.is_instructor and student_id == caller.user_id:
        raise BadRequest("Give the student_id of the student to assess.", error="student_required")
    enabled = service.risk_enabled(svc.db, body["course_id"])
    if not enabled and not caller.is_instructor:
        return {"risk_level": None, "risk_index": None, "factors": [], "enabled": False}
    result = service.risk_for_student(svc, caller.canvas(svc.config), body["course_id"],
                                      student_id)
    return {**result, "enabled": enabled}


@blp.route("/get-toggle-risk/<string:course_id>", methods=["GET"])
@blp.arguments(ToggleQuery, location="query")
@blp.response(200)
def get_toggle_risk(query, course_id):
    """``{course_id, toggle_risk, canvas_host}`` (default on), no token needed: the switch
    only says whether to show risk, and students' extensions must see their instructor's
    choice. ``canvas_host`` is the Canvas the answer is for (``link``, else an allowed Canvas
    ``Origin``, else the server's Canvas)."""
    course_id = path_id(course_id)
    host = requested_canvas(query.get("link"))
    db = requested_services(host).db
    return {"course_id": course_id, "toggle_risk": service.risk_enabled(db, course_id),
            "canvas_host": host}


@blp.route("/update-toggle-risk/<string:course_id>", methods=["POST"])
@blp.arguments(ToggleBody)
@blp.response(200)
def update_toggle_risk(body, course_id):
    """Instructor: turn the course's risk display on or off."""
    course_id = path_id(course_id)
    caller = identify(body, course_id)
    require_instructor(caller)
    service.set_risk_enabled(scoped_services(caller).db, course_id, body["toggle_risk"],
                             caller.user_id)
    state = "on" if body["toggle_risk"] else "off"
    return {"status": "success", "course_id": course_id, "toggle_risk": body["toggle_risk"],
            "message": f"Risk display is now {state} for course {course_id}."}


@blp.route("/get-support-video", methods=["POST"])
@limit_from_config("ai_rate_limit")      # open to all, and may spend the YouTube quota
@blp.arguments(SupportVideoBody)
@blp.response(200)
def get_support_video(body):
    """One study-skills video for a risk level (generic content: no token needed)."""
    level = body.get("risk_level") or body.get("risk")
    return service.support_video(requested_services(requested_canvas()), level)
