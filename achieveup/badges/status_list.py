"""Revocation of Open Badges 3.0 credentials: a W3C Bitstring Status List.

Each badge gets a position in a status list the first time its credential is built: a global
counter (one document in ``AchieveUp_Badge_Status``) hands out positions, stored on the badge as
``status_list`` (the list number) and ``status_index`` (the bit in that list; 131,072 bits per
list, the minimum size the specification sets, for herd privacy). Awarding is untouched: a
badge that never became a credential needs no position.

The list credential is built on every request from the list's revoked badges (a 16 KiB
bitstring, gzip and one Ed25519 signature), so a revocation is in the very next copy. The
revoked positions of a list are an indexed query, kept per process until the revocation
revision changes (``achieveup.badges.revisions``), so no process serves a list older than the
last revocation.
Verifiers and HTTP caches keep a copy for at most ``BADGE_STATUS_LIST_TTL_SECONDS``
(``Cache-Control: max-age`` and the list's ``ttl``), i.e. revocation reaches them within one
refresh. ``validUntil`` (a day) bounds how long a replayed old copy could hide a revocation.
"""
from __future__ import annotations

import datetime as dt

from openbadgeslib.ob3.status_list import build_status_list_credential, status_entry
from pymongo import ReturnDocument

from achieveup.badges import revisions, service
from achieveup.badges.revisions import COUNTERS
from achieveup.mastery import store
from knowgap.core.errors import NotFound

LIST_SIZE = 131072
PURPOSE = "revocation"
LIST_VALIDITY = dt.timedelta(days=1)
_REVOKED: dict = {}                       # (database, list) -> (revision, revoked indexes)


def list_url(config, list_number: int) -> str:
    return service.public_url(config, f"status/{list_number}")


def _allocate(db) -> tuple[int, int]:
    counter = db[COUNTERS].find_one_and_update(
        {"_id": PURPOSE}, {"$inc": {"next": 1}}, upsert=True,
        return_document=ReturnDocument.AFTER)
    return divmod(counter["next"] - 1, LIST_SIZE)


def ensure_position(db, doc: dict) -> tuple[int, int]:
    """The badge's (list, index), assigned once; ``doc`` is updated in place."""
    if doc.get("status_index") is None:
        number, index = _allocate(db)
        fields = {"status_list": 1, "status_index": 1}
        stored = db[store.BADGES].find_one_and_update(
            {"_id": doc["_id"], "status_index": None},
            {"$set": {"status_list": number, "status_index": index}}, projection=fields,
            return_document=ReturnDocument.AFTER)
        # a concurrent request may have assigned it first: the stored position wins
        stored = stored or db[store.BADGES].find_one({"_id": doc["_id"]}, fields)
        doc["status_list"], doc["status_index"] = stored["status_list"], stored["status_index"]
    return doc["status_list"], doc["status_index"]


def entry(config, doc: dict) -> dict:
    """The credential's ``credentialStatus`` (call :func:`ensure_position` first)."""
    return status_entry(list_url(config, doc["status_list"]), PURPOSE, doc["status_index"])


def list_count(db) -> int:
    counter = db[COUNTERS].find_one({"_id": PURPOSE}) or {"next": 0}
    return max(1, -(-counter["next"] // LIST_SIZE))


def revoked_indexes(db, list_number: int) -> tuple[int, ...]:
    revision = revisions.current(db)[1]
    key = (id(db.client), db.name, list_number)
    cached = _REVOKED.get(key)
    if cached is not None and cached[0] == revision and revision[0] is not None:
        return cached[1]
    docs = store.fetch_all(db[store.BADGES], {"status_list": list_number, "revoked": True},
                           {"_id": 0, "status_index": 1})
    indexes = tuple(sorted(d["status_index"] for d in docs))
    if len(_REVOKED) > 256:
        _REVOKED.clear()
    _REVOKED[key] = (revision, indexes)
    return indexes


def list_number_of(config, url: str) -> int | None:
    """The list number of one of this issuer's status list URLs (None for any other URL)."""
    prefix = list_url(config, "")
    tail = url[len(prefix):] if url.startswith(prefix) else ""
    return int(tail) if tail.isdigit() and len(tail) < 10 else None


def list_credential(db, config, list_number: int, *, now: dt.datetime | None = None) -> dict:
    """The (unsigned) BitstringStatusListCredential of list ``list_number``."""
    if not 0 <= list_number < list_count(db):
        raise NotFound("No such status list.", error="status_list_not_found")
    now = now or store.utcnow()
    return build_status_list_credential(
        service.issuer_id(config), list_url(config, list_number), PURPOSE,
        revoked_indexes(db, list_number), LIST_SIZE, issued=now,
        valid_until=now + LIST_VALIDITY, ttl=config.badge_status_list_ttl_seconds * 1000)
