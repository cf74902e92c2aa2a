"""Two counters that change whenever badges change what the public may see of them.

``visibility`` changes when a badge is shared, unshared or revoked; ``revocation`` when a
badge is revoked. They live in the ``revisions`` document of ``AchieveUp_Badge_Status``. Each
writer bumps them right after writing its change, and every process that keeps a badge (the
public lookups, ``achieveup.badges.public``) or a status list's revoked positions
(``achieveup.badges.status_list``) compares the counter before using what it kept, so no
process shows a badge as shared after it was unshared or as valid after it was revoked.

The document also holds a random ``epoch``, written when it is created, so counters of two
databases (a database dropped and created again, or two in one test process) never compare
equal by accident.
"""
from __future__ import annotations

import uuid

COUNTERS = "AchieveUp_Badge_Status"
REVISIONS = "revisions"


def current(db) -> tuple[tuple, tuple]:
    """(visibility, revocation): tokens to compare with the ones seen before."""
    doc = db[COUNTERS].find_one({"_id": REVISIONS}) or {}
    epoch = doc.get("epoch")
    return (epoch, doc.get("visibility", 0)), (epoch, doc.get("revocation", 0))


def bump(db, *, revocation: bool) -> None:
    """Record that badges changed their public state (call after writing the change)."""
    inc = {"visibility": 1, "revocation": 1} if revocation else {"visibility": 1}
    db[COUNTERS].update_one({"_id": REVISIONS},
                            {"$inc": inc, "$setOnInsert": {"epoch": uuid.uuid4().hex}},
                            upsert=True)
