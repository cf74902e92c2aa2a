"""Skill badges: award from mastery summaries, list, and Open Badges 2.0 JSON.

A badge is one document per (Canvas host, course, student, skill, level) in
``AchieveUp_Badges``; its ``_id`` is derived from that key, so the database itself makes a
second award impossible. The API and every public URL name a badge by its ``public_id``
instead (``badge_id`` in responses; see ``achieveup.badges.privacy``). Awarding only inserts
documents that do not exist yet and never touches existing ones: each badge keeps the
evidence that earned it (percentage, questions of evidence, time), whatever later
recomputations say ("$setOnInsert" semantics). Levels come from
``achieveup.badges.levels`` and need at least ``min_evidence`` graded questions on the skill
(course setting ``AchieveUp_Course_Settings.min_evidence`` or ``config.badge_min_evidence``).

A badge whose skill disappears from every matrix of its course is revoked (``revoked: true``)
as soon as the matrix changes: it leaves every list, its credential's status-list bit is set,
and a shared one's public assertion answers 410 Gone. Students opt in to sharing per badge
(``public: true``); only shared badges exist on the public endpoints
(``achieveup.badges.public``).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import urlencode, urlparse

from achieveup.badges import privacy, revisions
from achieveup.badges.levels import LEVEL_NAMES, badge_levels_for
from achieveup.mastery import explain, service as mastery
from achieveup.mastery import store
from knowgap.canvas.hosts import default_host
from knowgap.core.errors import Gone, NotFound
from knowgap.core.tenancy import scoped, where

OB_CONTEXT = "https://w3id.org/openbadges/v2"
ISSUER_NAME = "AchieveUp"


def slugify(skill: str) -> str:
    text = unicodedata.normalize("NFKD", skill).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "skill"
    return f"{slug}-{hashlib.sha256(skill.encode()).hexdigest()[:6]}"


def badge_name(skill: str, level: str) -> str:
    return f"{skill} — {level.capitalize()}"


# ------------------------------------------------------------------ awarding
#
# The badge collection is the source of truth; each course summary (``AchieveUp_Student_
# Mastery``) also records its student's badges, so awarding and every read of a course never
# scan the badge collection: ``badges`` holds the non-revoked awards as packed rows
# ``[skill, level, earned_at ISO, percentage, evidence_count]`` and ``revoked_badges`` the
# ``[skill, level]`` keys that were revoked (they are never awarded again: the badge id is
# derived from the key). Awarding inserts only the levels a summary justifies that it does not
# record yet; an insert that hits an existing id (a concurrent award, or a write interrupted
# before its summary was stored) adopts the stored badge instead. Writers of one course run
# under ``store.course_lock``.

LEVEL_RANK = {name: i for i, name in enumerate(LEVEL_NAMES)}


def _row_key(row) -> tuple:
    return (row[0], LEVEL_RANK.get(row[1], 9))


def badge_row(doc: dict) -> list:
    return [doc["skill"], doc["level"], store.iso(doc.get("earned_at")), doc.get("percentage"),
            doc.get("evidence_count")]


_SLUGS: dict = {}


def _slug(skill: str) -> str:
    slug = _SLUGS.get(skill)
    if slug is None:
        if len(_SLUGS) > 10000:
            _SLUGS.clear()
        slug = _SLUGS[skill] = slugify(skill)
    return slug


def new_badge(db, course_id: str, summary: dict, entry: dict, level: str, now,
              course_name: str | None) -> dict:
    """The badge document (kept small: the embedded engine's insert cost grows per field)."""
    bid = store.badge_key_id(db, course_id, summary["student_id"], entry["skill"], level)
    doc = {"_id": bid, "public_id": privacy.new_public_id(), **where(db, course_id=course_id),
           "course_name": course_name,
           "student_id": summary["student_id"], "skill": entry["skill"],
           "skill_slug": _slug(entry["skill"]), "level": level,
           "percentage": entry["score"], "evidence_count": entry["questions_attempted"],
           "earned_at": now, "public": False, "revoked": False}
    if (entry.get("model") or "percentage") != "percentage":
        doc["model"] = entry["model"]             # the score is a BKT mastery estimate
    return doc


def course_name_of(db, course_id: str) -> str | None:
    return store.sync_state(db, str(course_id), {"course_name": 1}).get("course_name")


def _backfill(db, course_id: str, summaries: list[dict]) -> set:
    """Summaries written before badges were recorded in them: read the course's badges once.
    Returns the student ids whose summaries were filled in."""
    legacy = [d for d in summaries if d.get("badges") is None]
    if not legacy:
        return set()
    active: dict = {}
    revoked: dict = {}
    for b in store.fetch_all(db[store.BADGES], where(db, course_id=course_id),
                             {"_id": 0, "student_id": 1, "skill": 1, "level": 1, "earned_at": 1,
                              "percentage": 1, "evidence_count": 1, "revoked": 1}):
        if b.get("revoked"):
            revoked.setdefault(b["student_id"], []).append([b["skill"], b["level"]])
        else:
            active.setdefault(b["student_id"], []).append(badge_row(b))
    for d in legacy:
        d["badges"] = store.pack(sorted(active.get(d["student_id"], []), key=_row_key))
        old = store.unpack(d.get("revoked_badges"))
        d["revoked_badges"] = store.pack(sorted(
            {tuple(r) for r in old + revoked.get(d["student_id"], [])}, key=_row_key))
    return {d["student_id"] for d in legacy}


def _apply(db, config, course_id: str, summaries: list[dict], *, now,
           course_name: str | None) -> tuple[list[dict], int]:
    """Award/adopt/revoke in ``summaries`` (in place); returns (new badges, changed summaries).
    Caller holds the course lock and stores the summaries."""
    skills = set(store.matrix_skills(db, course_id))
    settings = store.course_settings(db, course_id)
    min_ev = mastery.min_evidence(settings, config)
    levels = mastery.badge_levels(settings)
    changed: set = _backfill(db, course_id, summaries)
    state = {}
    stale: set = set()
    for doc in summaries:
        active = mastery.badge_rows(doc)
        stale.update(r[0] for r in active if r[0] not in skills)
        state[doc["student_id"]] = (active, store.unpack(doc.get("revoked_badges")))
    if stale:
        revoke_in_collection(db, course_id, skills, now=now)
        for doc in summaries:
            active, revoked = state[doc["student_id"]]
            gone = [r for r in active if r[0] not in skills]
            if gone:
                state[doc["student_id"]] = ([r for r in active if r[0] in skills],
                                            revoked + [[r[0], r[1]] for r in gone])
                changed.add(doc["student_id"])
    candidates = []
    name = None
    now_iso = store.iso(now)
    for doc in summaries:
        active, revoked = state[doc["student_id"]]
        have = {(r[0], r[1]) for r in active}
        have.update((r[0], r[1]) for r in revoked)
        entries = doc.get("skills") or mastery.packed_skills(doc)
        for entry in entries:
            if entry["questions_attempted"] < min_ev or entry["skill"] not in skills:
                continue
            for level in badge_levels_for(entry["score"], entry["questions_attempted"], min_ev,
                                          levels):
                if (entry["skill"], level) in have:
                    continue
                if name is None:
                    name = [course_name or course_name_of(db, course_id)]
                candidates.append(new_badge(db, course_id, doc, entry, level, now, name[0]))
    new: list[dict] = []
    if candidates:
        _, dups = store.insert_new(db[store.BADGES], candidates)
        dups = set(dups)
        new = [b for b in candidates if b["_id"] not in dups] if dups else candidates
        adopted = store.fetch_all(db[store.BADGES], where(db, _id={"$in": sorted(dups)})) \
            if dups else []
        for b in new:
            state[b["student_id"]][0].append([b["skill"], b["level"], now_iso,
                                              b["percentage"], b["evidence_count"]])
            changed.add(b["student_id"])
        for b in adopted:
            active, revoked = state[b["student_id"]]
            if b.get("revoked"):
                revoked.append([b["skill"], b["level"]])
            else:
                active.append(badge_row(b))
            changed.add(b["student_id"])
    for doc in summaries:
        if doc["student_id"] in changed:
            active, revoked = state[doc["student_id"]]
            doc["badges"] = store.pack(sorted(active, key=_row_key))
            doc["revoked_badges"] = store.pack(sorted(
                {(r[0], r[1]) for r in revoked}, key=_row_key))
    return new, len(changed)


def apply_awards(db, config, course_id: str, summaries: list[dict], *, now=None,
                 course_name: str | None = None) -> list[dict]:
    """Award the badges the (freshly computed, not yet stored) ``summaries`` justify and record
    them in the summaries; revoke badges of skills no matrix has any more. Returns the new
    badge documents. The caller stores the summaries (``mastery.write_summaries``)."""
    new, _ = _apply(db, config, str(course_id), summaries, now=now or store.utcnow(),
                    course_name=course_name)
    return new


def award_for_course(db, config, course_id: str, summaries: list[dict] | None = None, *,
                     now=None, course_name: str | None = None) -> list[dict]:
    """Award every badge the stored summaries justify that does not exist yet; returns the new
    ones. Also revokes badges of skills that no matrix of the course has any more."""
    course_id = str(course_id)
    now = now or store.utcnow()
    with store.course_lock(db, course_id):
        if summaries is None:
            summaries = mastery.summaries_of_course(db, course_id)
        new, changed = _apply(db, config, course_id, summaries, now=now,
                              course_name=course_name)
        if changed:
            mastery.write_summaries(db, course_id, summaries)
    return new


def revoke_in_collection(db, course_id: str, skills: set[str], *, now=None,
                         reason: str = "The skill was removed from the course.") -> int:
    result = db[store.BADGES].update_many(
        where(db, course_id=str(course_id), revoked=False, skill={"$nin": sorted(skills)}),
        {"$set": {"revoked": True, "revoked_at": now or store.utcnow(),
                  "revocation_reason": reason}})
    if result.modified_count:
        revisions.bump(db, revocation=True)
    return result.modified_count


def revoke_missing_skills(db, course_id: str, skills: set[str], *, now=None,
                          reason: str = "The skill was removed from the course.",
                          wait_seconds: float = 120.0) -> int:
    """Revoke the course's badges whose skill is not in ``skills`` (collection and summaries).

    The collection is written first, without waiting: from then on the badges are revoked
    everywhere (lists, public URLs, the status list). The summaries are then rewritten under
    the course lock, which also revokes any badge of those skills that a recompute running
    meanwhile awarded from the matrix it had read. If the lock is not free within
    ``wait_seconds`` the error propagates; the badges stay revoked and the next recompute
    brings the summaries in line (it revokes what no matrix has)."""
    course_id = str(course_id)
    now = now or store.utcnow()
    count = revoke_in_collection(db, course_id, skills, now=now, reason=reason)
    with store.course_lock(db, course_id, wait_seconds=wait_seconds):
        count += revoke_in_collection(db, course_id, skills, now=now, reason=reason)
        summaries = mastery.summaries_of_course(db, course_id)
        changed = bool(_backfill(db, course_id, summaries))
        for doc in summaries:
            active = mastery.badge_rows(doc)
            gone = [[r[0], r[1]] for r in active if r[0] not in skills]
            if gone:
                doc["badges"] = store.pack([r for r in active if r[0] in skills])
                doc["revoked_badges"] = store.pack(sorted(
                    {tuple(r) for r in store.unpack(doc.get("revoked_badges")) + gone},
                    key=_row_key))
                changed = True
        if changed:
            mastery.write_summaries(db, course_id, summaries)
    return count


# ------------------------------------------------------------------ reading

def shareable_link(config, public_id: str) -> str:
    """The hosted Open Badges 2.0 assertion; in a browser, the badge's page."""
    return public_url(config, f"assertions/{public_id}")


def credential_url(config, public_id: str) -> str:
    """The Open Badges 3.0 credential's ``id``: where a shared badge's credential is public."""
    return public_url(config, f"credentials/{public_id}")


def course_label(doc: dict) -> str:
    return doc.get("course_name") or f"Course {doc['course_id']}"


def earned_view(config, doc: dict) -> dict:
    pid = doc["public_id"]
    return {"badge_id": pid, "badge_name": badge_name(doc["skill"], doc["level"]),
            "skill_name": doc["skill"], "badge_level": doc["level"],
            "progress_percentage": doc.get("percentage"),
            "earned_at": store.iso(doc.get("earned_at")), "course_id": doc["course_id"],
            "course_name": course_label(doc),
            "shareable_link": shareable_link(config, pid),
            "credential_url": credential_url(config, pid),
            "is_public": bool(doc.get("public"))}


def badges_of_student(db, student_id: str, *, course_ids=None, public_only=False) -> list[dict]:
    query: dict = where(db, student_id=str(student_id), revoked=False)
    if course_ids is not None:
        query["course_id"] = {"$in": sorted(course_ids)}
    if public_only:
        query["public"] = True
    docs = store.fetch_all(db[store.BADGES], query)
    for doc in docs:
        privacy.ensure_public_id(db, doc)
    order = {name: i for i, name in enumerate(LEVEL_NAMES)}
    docs.sort(key=lambda d: (store.iso(d.get("earned_at")) or "", d["course_id"], d["skill"],
                             order.get(d["level"], 9)), reverse=True)
    return docs


def earned_response(db, config, student_id: str, badges: list[dict]) -> dict:
    """A student's badges as the student and their instructors see them (with their name)."""
    name = privacy.real_name(db, student_id) or f"Student {student_id}"
    return {"student_id": str(student_id), "student_name": name,
            "total_badges": len(badges), "badges": [earned_view(config, b) for b in badges]}


# ------------------------------------------------------------------ Open Badges 2.0

def _base(config) -> str:
    return config.public_base_url.rstrip("/") + "/achieveup/public/badges"


def class_url(config, doc: dict) -> str:
    """The BadgeClass of the badge ``doc``. Course ids are per Canvas host: a class of another
    host than the server's own (``CANVAS_BASE_URL``) names its host in ``?canvas_host=``."""
    url = f"{_base(config)}/classes/{doc['course_id']}/{doc['skill_slug']}/{doc['level']}"
    if doc["canvas_host"] != default_host(config):
        url += "?" + urlencode({"canvas_host": doc["canvas_host"]})
    return url


def badge_db(db, doc: dict):
    """``db`` scoped to the Canvas host of the badge ``doc``: public URLs find a badge by its
    public id alone; what they read about it next is that host's."""
    return scoped(db, doc["canvas_host"])


def recipient_email(db, doc: dict) -> str:
    db = badge_db(db, doc)
    user = db[store.USERS].find_one(where(db, canvas_user_id=doc["student_id"]), {"email": 1})
    if user and user.get("email"):
        return user["email"]
    student = db[store.STUDENTS].find_one(
        where(db, course_id=doc["course_id"], student_id=doc["student_id"]), {"email": 1})
    if student and student.get("email"):
        return student["email"]
    return f"canvas-user-{doc['student_id']}@users.noreply.achieveup"


def hashed_identity(email: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()


def revocation_reason(doc: dict) -> str:
    return doc.get("revocation_reason") or "It is no longer valid."


class RevokedAssertion(Gone):
    """410 Gone whose body is the envelope and also what Open Badges 2.0 asks of a revoked
    hosted assertion: its id with ``revoked: true`` and the reason, and none of the claims."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"This badge was revoked. {reason}", error="badge_revoked")
        self.url, self.reason = url, reason

    def to_dict(self) -> dict:
        return {"@context": OB_CONTEXT, "type": "Assertion", "id": self.url, "revoked": True,
                "revocationReason": self.reason, **super().to_dict()}


def assertion_document(db, config, doc: dict) -> dict:
    """The Open Badges 2.0 hosted Assertion of the badge ``doc``; the recipient is hashed with
    the badge's own salt (``achieveup.badges.privacy``)."""
    salt = privacy.recipient_salt(config, doc)
    return {
        "@context": OB_CONTEXT, "type": "Assertion",
        "id": shareable_link(config, doc["public_id"]),
        "recipient": {"type": "email", "hashed": True, "salt": salt,
                      "identity": hashed_identity(recipient_email(db, doc), salt)},
        "badge": class_url(config, doc),
        "verification": {"type": "HostedBadge"},
        "issuedOn": store.iso(doc.get("earned_at")),
        "evidence": [{"type": "Evidence", "name": EVIDENCE_NAME,
                      "narrative": evidence_narrative(doc)}],
    }


EVIDENCE_NAME = "Canvas quiz results"


def evidence_narrative(doc: dict) -> str:
    where = (f"assessing '{doc['skill']}' in "
             f"{doc.get('course_name') or 'course ' + doc['course_id']}.")
    if doc.get("model"):
        return (f"Reached a {doc.get('percentage')}% mastery estimate "
                f"({explain.model_title(doc['model'])}) on {doc.get('evidence_count')} graded "
                f"questions " + where)
    return f"Scored {doc.get('percentage')}% on {doc.get('evidence_count')} graded questions " \
        + where


def badge_class(db, config, course_id: str, skill_slug: str, level: str,
                canvas_host: str | None = None) -> dict:
    """The BadgeClass of a shared badge of ``course_id`` of ``canvas_host`` (default: the
    server's own Canvas)."""
    db = scoped(db, canvas_host or default_host(config))
    doc = db[store.BADGES].find_one(where(db, course_id=str(course_id), skill_slug=skill_slug,
                                          level=level, public=True, revoked=False))
    if doc is None or level not in LEVEL_NAMES:
        raise NotFound("No such shared badge class.", error="badge_class_not_found")
    return class_document(db, config, doc)


def class_document(db, config, doc: dict) -> dict:
    """The BadgeClass of the badge ``doc`` (the Open Badges 3.0 achievement reuses it)."""
    course_id, level = doc["course_id"], doc["level"]
    settings = store.course_settings(badge_db(db, doc), str(course_id))
    threshold = dict(mastery.badge_levels(settings))[level]
    course = doc.get("course_name") or f"course {course_id}"
    return {
        "@context": OB_CONTEXT, "type": "BadgeClass",
        "id": class_url(config, doc),
        "name": badge_name(doc["skill"], level),
        "description": f"{level.capitalize()} level in '{doc['skill']}' ({course}).",
        "image": f"{_base(config)}/images/{level}.svg",
        "criteria": {"narrative": (f"At least {threshold:g}% on the graded quiz questions "
                                   f"assessing '{doc['skill']}' in {course}, with at least "
                                   f"{mastery.min_evidence(settings, config)} questions of "
                                   "evidence.")},
        "issuer": f"{_base(config)}/issuer",
        "tags": [doc["skill"], level],
    }


def issuer_id(config) -> str:
    return f"{_base(config)}/issuer"


def issuer_email(config) -> str:
    """BADGE_ISSUER_EMAIL (required in production); in development a mailbox at our host."""
    return config.badge_issuer_email or f"badges@{urlparse(config.public_base_url).hostname}"


def issuer_profile(config) -> dict:
    """name, url and email of the issuing organisation, shared by Open Badges 2.0 and 3.0."""
    return {"id": issuer_id(config), "name": config.badge_issuer_name or ISSUER_NAME,
            "url": config.badge_issuer_url or config.public_base_url,
            "email": issuer_email(config)}


def issuer(config) -> dict:
    """The Issuer profile; ``jwks_uri`` names the keys that sign the Open Badges 3.0
    credentials (unmapped in the OB 2.0 context, so OB 2.0 verifiers ignore it)."""
    return {"@context": OB_CONTEXT, "type": "Issuer", **issuer_profile(config),
            "jwks_uri": public_url(config, "jwks.json")}


def public_url(config, path: str) -> str:
    """Absolute URL of a public badge document, e.g. ``public_url(config, "jwks.json")``."""
    return f"{_base(config)}/{path}"

