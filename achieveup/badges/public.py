"""Badges addressed by their public id: the lookup, what the public may see, owner actions.

What the public sees (every public URL: assertion, credential, page, baked images, verify):

* a badge its student shared is public; a shared badge that was later revoked answers 410
  with the Open Badges revocation notice on its JSON documents (verifiers must learn it was
  revoked) and the plain 404 page in a browser;
* a badge that is not shared answers 404 exactly as an unknown id does, revoked or not, so
  probing ids tells nothing about what exists.

Lookups by public id, and each student's list of shared badges, are kept in a per-process
cache (a bounded LRU) tagged with the visibility revision (``achieveup.badges.revisions``): a
hit costs one read of the tiny revisions document instead of a query on the badge collection
(on the embedded engine every query scans it), and any share, unshare or revocation anywhere
makes every process read them again. Unknown ids are kept too (as None): public ids are random,
so no id unknown now can name a badge later. The other fields of a badge never change after it
is awarded (newly awarded badges are not shared), except its status-list position, which is
assigned once and written into the cached document too. Callers treat returned documents as
read-only.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from achieveup.badges import privacy, revisions, service
from achieveup.mastery import store
from knowgap.canvas.hosts import default_host
from knowgap.core.errors import Forbidden, Gone, NotFound
from knowgap.core.tenancy import host_or_none, in_scope, scoped

CACHE_SIZE = 4096
_cache: OrderedDict = OrderedDict()          # key -> (visibility revision, value)
_lock = threading.Lock()


def _kept(db, kind: str, key: str, load):
    """``load()``, or what it returned at the current visibility revision (also None)."""
    revision = revisions.current(db)[0]
    if revision[0] is None:                 # nothing was ever shared here: nothing to keep
        return load()
    slot = (id(db.client), db.name, host_or_none(db), kind, key)
    with _lock:
        hit = _cache.get(slot)
        if hit is not None and hit[0] == revision:
            _cache.move_to_end(slot)
            return hit[1]
    value = load()
    with _lock:
        _cache[slot] = (revision, value)
        _cache.move_to_end(slot)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def find(db, public_id: str) -> dict | None:
    """The badge with this public id (shared or not, revoked or not), or None."""
    return _kept(db, "badge", public_id, lambda: db[store.BADGES].find_one(
        {"public_id": public_id}) or privacy.legacy_badge(db, public_id))


def shared_badges_of(db, student_id: str) -> list[dict]:
    """The badges a student shares (not revoked), newest first."""
    return _kept(db, "student", str(student_id),
                 lambda: service.badges_of_student(db, student_id, public_only=True))


def profile_db(db, config):
    """The database a public profile (``student/<id>``) reads: the server's own Canvas's
    (``CANVAS_BASE_URL``). A Canvas user id alone names nobody on another Canvas host, so the
    students of other hosts have no public profile (their badge pages link none)."""
    return scoped(db, default_host(config))


def profile_url(config, student_id: str) -> str:
    return service.public_url(config, f"student/{student_id}")


def profile_url_of(config, doc: dict) -> str | None:
    """The public profile of the badge ``doc``'s student, when their Canvas has profiles."""
    return (profile_url(config, doc["student_id"])
            if doc.get("canvas_host") == default_host(config) else None)


def profile_settings(db, config, student_id: str) -> dict:
    """What the student sees of their own public profile: whether it shows their name."""
    return {"student_id": student_id, "show_name": privacy.shows_name(db, student_id),
            "name": privacy.real_name(db, student_id),
            "profile_url": profile_url(config, student_id)}


def earned_response(db, config, student_id: str) -> dict:
    """The badges a student shared, named only if the student chose to show their name. A
    student who shared nothing gets the very answer an unknown id gets."""
    badges = shared_badges_of(db, student_id)
    name = (privacy.display_name(db, student_id) if badges else None) or ""
    return {"student_id": str(student_id), "student_name": name,
            "total_badges": len(badges),
            "badges": [service.earned_view(config, b) for b in badges]}


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
    """The badge if ``user`` earned it (None when there is no such badge on ``user``'s Canvas,
    the host ``db`` is scoped to; 403 when it is somebody else's)."""
    doc = find(db, public_id)
    if doc is None or not in_scope(db, doc):
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
