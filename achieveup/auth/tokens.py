"""Access JWTs, rotating refresh tokens with reuse detection, and session revocation.

Access token: a JWT signed with HS256 only (the algorithm is fixed here, never read from the
token; decoding passes ``algorithms=["HS256"]`` so ``alg: none`` and RS/HS confusion fail), key
``config.jwt_secret_key`` (>= 32 bytes, enforced by config), lifetime
``config.jwt_access_minutes``. Claims: ``sub`` (user id), ``iat`` (seconds, millisecond
precision so a token issued right after a password change is distinguishable from one issued
right before), ``exp``, ``jti`` (random), ``type: "access"``, ``fid`` (the session: its refresh
family).

Refresh token: an opaque random string (``secrets.token_urlsafe(48)``). Only its SHA-256 is
stored, in ``AchieveUp_Refresh_Tokens.jti``, next to ``family_id`` (one per login), ``user_id``,
``expires_at`` (``config.jwt_refresh_days``), ``used_at``, ``revoked_at``, ``revoked_reason``.
Every use rotates it: the presented token is marked used atomically and a new one of the same
family is issued. Presenting a token that was already used means it was copied: the whole
family is revoked and the caller gets 401.

Sessions end at once, not at the access token's expiry: every request checks its token's
session (``session_revocation``), so revoking a family (logout, refresh-token reuse, a password
change for every session but the one making it) stops its access tokens on their next request.
A family's records outlive its access tokens (refresh lifetime > access lifetime), so the
check needs no extra collection.

Denylist: ``AchieveUp_Revoked_Tokens {jti, expires_at}`` holds access-token ids revoked by
logout until they would have expired anyway (TTL index).
"""
from __future__ import annotations

import hashlib
import math
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone

import jwt
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from achieveup.auth.store import as_utc, utcnow
from knowgap.core.errors import Unauthorized

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti"]
MAX_TOKEN_LENGTH = 4096

REFRESH = "AchieveUp_Refresh_Tokens"
REVOKED = "AchieveUp_Revoked_Tokens"


# ---------------------------------------------------------------------------- access tokens


def _now_ms() -> float:
    return math.floor(time.time() * 1000) / 1000


def issue_access(config, user_id: str, family_id: str | None = None) -> tuple[str, dict]:
    """A signed access token and its claims."""
    iat = _now_ms()
    claims = {"sub": str(user_id), "iat": iat,
              "exp": int(iat + config.jwt_access_minutes * 60),
              "jti": uuid.uuid4().hex, "type": ACCESS_TYPE}
    if family_id:
        claims["fid"] = family_id
    token = jwt.encode(claims, config.jwt_secret_key, algorithm=ALGORITHM)
    return token, claims


def session_expired() -> Unauthorized:
    return Unauthorized("Your session has expired. Please sign in again.", error="token_expired")


def token_invalid() -> Unauthorized:
    return Unauthorized("Your session is not valid. Please sign in again.", error="token_invalid")


def decode_access(config, token: str) -> dict:
    """The verified claims of an access token, or 401 (expired / invalid)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise token_invalid()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise token_invalid()
        claims = jwt.decode(token, config.jwt_secret_key, algorithms=[ALGORITHM],
                            options={"require": REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError:
        raise session_expired() from None
    except jwt.InvalidTokenError:
        raise token_invalid() from None
    if claims.get("type") != ACCESS_TYPE or not isinstance(claims.get("jti"), str):
        raise token_invalid()
    if not isinstance(claims.get("iat"), (int, float)) or isinstance(claims["iat"], bool):
        raise token_invalid()
    return claims


def expires_at(claims: dict) -> datetime:
    return datetime.fromtimestamp(claims["exp"], timezone.utc)


# ---------------------------------------------------------------------------- denylist


def deny_access(db: Database, claims: dict) -> None:
    """Revoke one access token until its natural expiry."""
    try:
        db[REVOKED].update_one({"jti": claims["jti"]},
                               {"$setOnInsert": {"jti": claims["jti"],
                                                 "expires_at": expires_at(claims),
                                                 "revoked_at": utcnow()}}, upsert=True)
    except DuplicateKeyError:  # a concurrent logout of the same token
        pass


def is_denied(db: Database, jti: str) -> bool:
    return db[REVOKED].find_one({"jti": jti}, {"_id": 1}) is not None


# ---------------------------------------------------------------------------- refresh tokens


def refresh_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_refresh(db: Database, config, user_id: str, family_id: str | None = None,
                  parent: str | None = None) -> tuple[str, dict]:
    token = secrets.token_urlsafe(48)
    now = utcnow()
    doc = {"jti": refresh_hash(token), "user_id": str(user_id),
           "family_id": family_id or uuid.uuid4().hex, "parent": parent,
           "created_at": now, "expires_at": now + timedelta(days=config.jwt_refresh_days),
           "used_at": None, "revoked_at": None}
    db[REFRESH].insert_one(doc)
    return token, doc


def refresh_invalid() -> Unauthorized:
    return Unauthorized("Your session has ended. Please sign in again.",
                        error="refresh_token_invalid")


#: Why a session ended (``revoked_reason``) -> what the user reads.
SESSION_ENDED = {
    "logout": ("You have signed out. Please sign in again.", "token_revoked"),
    "password_change": ("Your password was changed, so this session ended. Please sign in "
                        "again.", "token_revoked"),
    "reuse": ("This session was ended because its refresh token was used twice. Please sign "
              "in again.", "refresh_token_reused"),
}


def session_ended(reason: str | None) -> Unauthorized:
    message, error = SESSION_ENDED.get(reason or "", (
        "Your session has ended. Please sign in again.", "token_revoked"))
    return Unauthorized(message, error=error)


def consume_refresh(db: Database, token: str) -> dict:
    """Mark a refresh token used (atomically) and return its record, or raise 401.

    A token that was already used (and not revoked) is a replay: its family is revoked.
    """
    if not isinstance(token, str) or not token or len(token) > 512:
        raise refresh_invalid()
    digest = refresh_hash(token)
    now = utcnow()
    record = db[REFRESH].find_one_and_update(
        {"jti": digest, "used_at": None, "revoked_at": None},
        {"$set": {"used_at": now}})
    if record is None:
        known = db[REFRESH].find_one({"jti": digest})
        if known is None:
            raise refresh_invalid()
        if known.get("revoked_at") is not None:
            raise session_ended(known.get("revoked_reason"))
        revoke_family(db, known["family_id"], reason="reuse")
        raise session_ended("reuse")
    if as_utc(record["expires_at"]) <= now:
        raise Unauthorized("Your session has expired. Please sign in again.",
                           error="refresh_token_expired")
    return record


def find_refresh(db: Database, token: str) -> dict | None:
    if not isinstance(token, str) or not token or len(token) > 512:
        return None
    return db[REFRESH].find_one({"jti": refresh_hash(token)})


def revoke_family(db: Database, family_id: str, reason: str = "logout") -> int:
    result = db[REFRESH].update_many({"family_id": family_id, "revoked_at": None},
                                     {"$set": {"revoked_at": utcnow(), "revoked_reason": reason}})
    return result.modified_count


def revoke_user(db: Database, user_id: str, reason: str = "password_change",
                keep_family: str | None = None) -> int:
    """End every session of the user except ``keep_family`` (the one making the change)."""
    query: dict = {"user_id": str(user_id), "revoked_at": None}
    if keep_family:
        query["family_id"] = {"$ne": keep_family}
    result = db[REFRESH].update_many(query, {"$set": {"revoked_at": utcnow(),
                                                      "revoked_reason": reason}})
    return result.modified_count


def session_revocation(db: Database, family_id: str) -> str | None:
    """Why the session ``family_id`` was ended (``revoked_reason``), or None while it lives."""
    record = db[REFRESH].find_one({"family_id": family_id, "revoked_at": {"$ne": None}},
                                  {"revoked_reason": 1})
    return None if record is None else (record.get("revoked_reason") or "revoked")
