"""Canvas enrollment types normalised to five roles: teacher, ta, designer, student, observer.

Canvas spells one role several ways depending on the endpoint: ``/courses`` entries carry
``{"type": "teacher", "role": "TeacherEnrollment"}``, ``/enrollments`` carries
``"type": "TeacherEnrollment"``, and custom roles keep a base ``type`` with a custom ``role``
name. Deciding who is an instructor from one normalised set keeps that logic in one place.
"""
from __future__ import annotations

INSTRUCTOR_TYPES = frozenset({"teacher", "ta", "designer"})
KNOWN_ROLES = frozenset({"teacher", "ta", "designer", "student", "observer"})


def normalize_role(value) -> str | None:
    """``"TeacherEnrollment"``/``"teacher"``/``"Teacher"`` → ``"teacher"``; unknown → None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().lower()
    if text.endswith("enrollment"):
        text = text[: -len("enrollment")]
    return text if text in KNOWN_ROLES else None


def course_roles(course_json) -> set[str]:
    """Roles of the caller in a course object from ``/courses`` (its ``enrollments`` list).

    Also accepts an enrollment list (``/courses/:id/enrollments?user_id=self``) or a single
    enrollment. Uses ``type`` first (always a base type) and ``role`` as a fallback.
    """
    if isinstance(course_json, dict) and "enrollments" in course_json:
        entries = course_json.get("enrollments") or []
    elif isinstance(course_json, list):
        entries = course_json
    elif isinstance(course_json, dict):
        entries = [course_json]
    else:
        return set()
    roles: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if entry.get("enrollment_state") not in (None, "active"):
            continue
        role = normalize_role(entry.get("type")) or normalize_role(entry.get("role"))
        if role:
            roles.add(role)
    return roles


def is_instructor_of(course_json) -> bool:
    return bool(course_roles(course_json) & INSTRUCTOR_TYPES)


def enrollment_user_id(entry) -> str | None:
    """The Canvas user id (as a string) of an enrollment from ``/courses/:id/enrollments``.

    Enrollments carry ``user_id``; some responses only nest it in ``user`` (``include[]=user``)
    or are user objects themselves (``/courses/:id/users``), hence the fallbacks.
    """
    if not isinstance(entry, dict):
        return None
    uid = entry.get("user_id")
    if uid is None and isinstance(entry.get("user"), dict):
        uid = entry["user"].get("id")
    if uid is None:
        uid = entry.get("id")
    return None if uid is None else str(uid)
