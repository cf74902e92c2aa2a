"""Badges addressed by their public id: the lookup, what the public may see, owner actions.

What the public sees (every public URL: assertion, credential, page, baked images, verify):

* a badge its student shared is public; a shared badge that was later revoked answers 410
  with the Open Badges revocation notice on its JSON documents (verifiers must learn it was
  revoked) and the plain 404 page in a browser;
* a badge that is not shared answers 404 exactly as an unknown id does, revoked or not, so
  probing ids tells nothing about what exists.

Lookups keep the badge in a per-process cache (a bounded LRU) tagged with the visibility
revision (``achieveup.badges.revisions``): a hit costs one read of the tiny revisions document
instead of a query on the badge collection (on the embedded engine every query scans it), and
any share, unshare or revocation anywhere makes every process read the badge again. The other
fields of a badge never change after it is awarded, except its status-list position, which is
assigned once and written into the cached document too. Callers treat returned documents as
read-only.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from achieveup.badges import privacy, revisions, service
from achieveup.mastery import store
from knowgap.core.errors import Forbidden, Gone, NotFound

CACHE_SIZE = 4096
_cache: OrderedDict = OrderedDict()          # (database, public id) -> (revision, badge)
_lock = threading.Lock()


def find(db, public_id: str) -> dict | None:
    """The badge with this public id (shared or not, revoked or not), or None."""
    revision = revisions.current(db)[0]
    key = (id(db.client), db.name, public_id)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == revision:
            _cache.move_to_end(key)
            return hit[1]
    doc = db[store.BADGES].find_one({"public_id": public_id}) \
        or privacy.legacy_badge(db, public_id)
    if doc is not None:
        with _lock:
            _cache[key] = (revision, doc)
            _cache.move_to_end(key)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return doc


def shared(db, public_id: str) -> dict | None:
    """The badge if its student shared it (revoked or not); None for any other id."""
    doc = find(db, public_id)
    return doc if doc is not None and doc.get("public") else None


def shown(db, public_id: str) -> dict | None:
    """The badge a page may show: shared and not revoked."""
    doc = shared(db, public_id)
    return doc if doc is not None and not doc.get("revoked") else None


def not_found(message: str = "No such shared badge.") -> NotFound:
    return NotFound(message, error="badge_not_found")


def assertion(db, config, public_id: str) -> dict:
    """The Open Badges 2.0 hosted assertion of a shared badge (404 otherwise, 410 once
    revoked)."""
    doc = shared(db, public_id)
    if doc is None:
        raise not_found()
    if doc.get("revoked"):
        raise service.RevokedAssertion(service.shareable_link(config, public_id),
                                       service.revocation_reason(doc))
    return service.assertion_document(db, config, doc)


def issuable(doc: dict | None, missing: str = "No such shared badge.") -> dict:
    """``doc`` if a credential may be built of it: 404 when missing, 410 once revoked."""
    if doc is None:
        raise not_found(missing)
    if doc.get("revoked"):
        raise Gone(f"This badge was revoked. {service.revocation_reason(doc)}",
                   error="badge_revoked")
    return doc


# ------------------------------------------------------------------ the owner's actions


def owned(db, public_id: str, user: dict) -> dict | None:
    """The badge if ``user`` earned it (None when there is no such badge; 403 when it is
    somebody else's)."""
    doc = find(db, public_id)
    if doc is None:
        return None
    own = user.get("canvas_user_id") or user.get("canvas_student_id")
    if own is None or str(own) != doc["student_id"]:
        raise Forbidden("Only the student who earned this badge can share or download it.",
                        error="not_badge_owner")
    return doc


def set_public(db, config, public_id: str, user: dict, public: bool) -> dict:
    doc = owned(db, public_id, user)
    if doc is None or doc.get("revoked"):
        raise not_found("No such badge.")
    db[store.BADGES].update_one({"_id": doc["_id"]}, {"$set": {"public": bool(public),
                                                               "shared_at": store.utcnow()}})
    revisions.bump(db, revocation=False)
    return service.earned_view(config, {**doc, "public": bool(public)})
