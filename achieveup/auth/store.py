"""The ``AchieveUp_Users`` collection and the one public shape of a user.

User document (see /work/interfaces.md)::

    {_id ObjectId, name, email, email_lower (unique), password_hash, role:
     instructor|student|admin, canvas_token_enc?, canvas_token_type, canvas_token_created_at,
     canvas_token_last_validated, canvas_user_id (str), canvas_base_url, canvas_host (the tenant
     key of canvas_base_url), has_student_access, tokens_valid_after, created_at, updated_at}

``public_user`` is the only way a user leaves the server: it never includes the password hash,
the (encrypted) Canvas token or an ObjectId.
"""
from __future__ import annotations

from datetime import datetime, timezone

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from knowgap.core.errors import Conflict

USERS = "AchieveUp_Users"
ROLES = ("instructor", "student", "admin")


def utcnow() -> datetime:
    """Now, in UTC, truncated to milliseconds (what MongoDB stores)."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{value.microsecond // 1000:03d}Z"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def user_host(user: dict, config) -> str:
    """The Canvas host (tenant key, ``knowgap.core.tenancy``) whose records ``user`` sees: the
    host of their Canvas account, else of the server's ``CANVAS_BASE_URL``."""
    from knowgap.canvas.hosts import canvas_host, default_host

    stored = user.get("canvas_base_url")
    return canvas_host(stored) if stored else default_host(config)


def find_by_email(db: Database, email: str) -> dict | None:
    return db[USERS].find_one({"email_lower": normalize_email(email)})


def find_by_id(db: Database, user_id) -> dict | None:
    if isinstance(user_id, str):
        try:
            user_id = ObjectId(user_id)
        except (InvalidId, TypeError):
            return None
    if not isinstance(user_id, ObjectId):
        return None
    return db[USERS].find_one({"_id": user_id})


def insert(db: Database, doc: dict) -> dict:
    try:
        result = db[USERS].insert_one(doc)
    except DuplicateKeyError:
        raise email_taken() from None
    doc["_id"] = result.inserted_id
    return doc


def update(db: Database, user_id: ObjectId, changes: dict, unset: tuple[str, ...] = ()) -> dict:
    """Apply ``changes`` (and remove ``unset`` fields); returns the fresh document."""
    ops: dict = {"$set": {**changes, "updated_at": utcnow()}}
    if unset:
        ops["$unset"] = {name: "" for name in unset}
    try:
        db[USERS].update_one({"_id": user_id}, ops)
    except DuplicateKeyError:
        raise email_taken() from None
    return db[USERS].find_one({"_id": user_id})


def email_taken() -> Conflict:
    return Conflict("An account with this email already exists. Sign in instead, or use "
                    "another email.", error="email_taken")


def public_user(user: dict) -> dict:
    """The contract's ``user`` object."""
    has_token = bool(user.get("canvas_token_enc"))
    body = {
        "id": str(user["_id"]),
        "name": user.get("name", ""),
        "email": user.get("email", ""),
        "role": user.get("role", "student"),
        "hasCanvasToken": has_token,
        "canvasTokenType": user.get("canvas_token_type") or "student",
        "has_student_access": bool(user.get("has_student_access")),
    }
    if has_token and user.get("canvas_token_created_at"):
        body["canvas_token_created_at"] = iso(user["canvas_token_created_at"])
    if has_token and user.get("canvas_token_last_validated"):
        body["canvas_token_last_validated"] = iso(user["canvas_token_last_validated"])
    if user.get("canvas_user_id"):
        body["canvas_student_id"] = str(user["canvas_user_id"])
    return body
