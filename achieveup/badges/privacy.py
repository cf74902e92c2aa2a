"""What a badge reveals about its student, and to whom.

* **Public ids.** A badge's ``_id`` is its natural key (a hash of Canvas host, course,
  student, skill and level: anyone who knows those can compute it). Every URL a badge is known by outside the server — assertion, credential, page,
  baked images, the ``badge_id`` of the API — uses ``public_id`` instead: 128 random bits
  stored on the badge when it is awarded, never derived from anything, so it cannot be guessed
  and does not move when the natural key changes. It is not a unique index (the embedded engine
  checks unique indexes by scanning the collection on every insert); two awards drawing the
  same 128 random bits is not a practical event.
* **Badges awarded before public ids existed** get one the first time they are read (or all at
  once with :func:`assign_public_ids`). A badge whose links may already be out there — shared,
  ever shared (``shared_at``) or with a credential built (a status-list position) — keeps its
  old id as its public id, so every link and credential given out keeps working. Every other
  one gets a fresh random id: its old URL was never public and never answers.
* **Recipient salts.** Open Badges hash the recipient's e-mail with a salt that is published in
  the assertion. Each badge's salt is HMAC-SHA256(``BADGE_SALT``, public id): different for
  every assertion, so one published salt links no other badge and a list of e-mails cannot be
  tried against all badges at once; ``BADGE_SALT`` itself is never published.
* **Display name.** Public pages and lists name the student only when the student chose to
  (``AchieveUp_Badge_Profiles``, one document per Canvas user of a Canvas host, ``_id``
  "host|user": ``{canvas_host, student_id, show_name, updated_at}``; off unless set). A student who shared nothing is indistinguishable from one
  who does not exist.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from achieveup.mastery import store
from knowgap.core.tenancy import key, where

PROFILES = "AchieveUp_Badge_Profiles"
#: The form of the natural-key ids given out before public ids existed.
LEGACY_ID = re.compile(r"^[0-9a-f]{24}$")


def new_public_id() -> str:
    """128 random bits, url-safe base64 (22 characters)."""
    return secrets.token_urlsafe(16)


def recipient_salt(config, doc: dict) -> str:
    """The badge's own salt for hashing its recipient (see module docstring)."""
    key = (config.badge_salt or "").encode()
    return hmac.new(key, b"recipient-salt|" + doc["public_id"].encode(),
                    hashlib.sha256).hexdigest()[:32]


def _published(doc: dict) -> bool:
    """Could a link or credential naming the badge's old id be out there?"""
    return bool(doc.get("public") or doc.get("shared_at") or doc.get("status_index") is not None)


def ensure_public_id(db, doc: dict) -> str:
    """The badge's public id, assigned now for a badge awarded before they existed (``doc`` is
    updated in place; a concurrent assignment wins)."""
    if doc.get("public_id"):
        return doc["public_id"]
    candidate = doc["_id"] if _published(doc) else new_public_id()
    db[store.BADGES].update_one({"_id": doc["_id"], "public_id": None},
                                {"$set": {"public_id": candidate}})
    stored = db[store.BADGES].find_one({"_id": doc["_id"]}, {"public_id": 1})
    doc["public_id"] = (stored or {}).get("public_id") or candidate
    return doc["public_id"]


def legacy_badge(db, public_id: str) -> dict | None:
    """The badge an old-style link names, when that badge has no public id yet (it gets one
    now: its old id when it was published, so the link keeps working; otherwise a new one)."""
    if not LEGACY_ID.match(public_id):
        return None
    doc = db[store.BADGES].find_one({"_id": public_id, "public_id": None})
    if doc is None:
        return None
    return doc if ensure_public_id(db, doc) == public_id else None


def assign_public_ids(db) -> int:
    """Give every badge without a public id its one (idempotent; returns how many changed).
    A migration that rewrites badge ``_id``s must run this first, so published badges keep
    the links they were shared under."""
    docs = store.fetch_all(db[store.BADGES], {"public_id": None},
                           {"public": 1, "shared_at": 1, "status_index": 1})
    for doc in docs:
        ensure_public_id(db, doc)
    return len(docs)


# ------------------------------------------------------------------ display name


def shows_name(db, student_id: str) -> bool:
    doc = db[PROFILES].find_one({"_id": key(db, student_id)}, {"show_name": 1})
    return bool((doc or {}).get("show_name"))


def set_show_name(db, student_id: str, show: bool) -> None:
    db[PROFILES].update_one({"_id": key(db, student_id)},
                            {"$set": {**where(db, student_id=str(student_id)),
                                      "show_name": bool(show), "updated_at": store.utcnow()}},
                            upsert=True)


def real_name(db, student_id: str) -> str | None:
    """The student's name as their Canvas roster has it, else their AchieveUp account's (of
    ``db``'s Canvas host)."""
    student = db[store.STUDENTS].find_one(where(db, student_id=str(student_id)), {"name": 1})
    if student and student.get("name"):
        return student["name"]
    user = db[store.USERS].find_one(where(db, canvas_user_id=str(student_id)), {"name": 1})
    return (user or {}).get("name") or None


def display_name(db, student_id: str) -> str | None:
    """The name public pages may show: only when the student chose to show it."""
    return real_name(db, student_id) if shows_name(db, student_id) else None
