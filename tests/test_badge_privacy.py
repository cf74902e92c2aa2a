"""Issue 17, findings 4 to 6: what the public badge endpoints reveal, and revocation when a
skill leaves the matrix.

4. ``/public/badges/student/{id}/earned`` named any student by a sequential id, shared badges
   or not: a student who shared nothing must be indistinguishable from one who does not exist.
5. Badge ids were ``sha256(course|student|skill|level)`` (guessable), an unshared revoked badge
   answered 410 (an unshared live one 404), and every assertion published the one server-wide
   ``BADGE_SALT``.
6. Removing a skill from the matrix left its badges verifying ``valid: true`` until the next
   sync.

Plus what happens to badges issued before public ids existed (``achieveup.badges.privacy``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest

from achieveup.badges import privacy
from achieveup.mastery import store
from achieveup.skills import service as skills_service
from knowgap.core.tenancy import key
from tests.badge_support import share_a_badge
from tests.test_mastery_sync import COURSE, SKILLS
from tests.test_ob3_credentials import _status_bit, independent_decode, local, verify


@pytest.fixture
def shared(client, app, canvas_world):
    return share_a_badge(client, app, canvas_world)


def _public_earned(client, student_id) -> dict:
    r = client.get(f"/achieveup/public/badges/student/{student_id}/earned")
    assert r.status_code == 200
    return r.get_json()


# ------------------------------------------------------------------ finding 4


def test_public_list_names_nobody_who_did_not_choose_it(client, app, shared):
    db = shared["db"]
    sharing = shared["badge"]["student_id"]
    holders = sorted(set(db[store.BADGES].distinct("student_id")) - {sharing})
    assert holders, "the sandbox course should give several students badges"
    unknown = "987654"
    answers = {sid: _public_earned(client, sid) for sid in (holders[0], unknown)}
    for sid, body in answers.items():
        assert body == {"student_id": sid, "student_name": "", "total_badges": 0,
                        "badges": []}, sid
    # the student who shared a badge but did not choose to show their name
    body = _public_earned(client, sharing)
    assert body["total_badges"] == 1 and body["student_name"] == ""
    client.put("/achieveup/badge-profile", json={"show_name": True}, headers=shared["student"])
    name = client.get("/achieveup/badge-profile", headers=shared["student"]).get_json()["name"]
    assert name and _public_earned(client, sharing)["student_name"] == name
    # the student's own (signed-in) list still carries their name
    own = client.get(f"/achieveup/badges/student/{sharing}/earned",
                     headers=shared["student"]).get_json()
    assert own["student_name"] == name


def test_badge_profile_preference_is_validated(client, shared):
    for body in ({}, {"show_name": "yes"}, {"show_name": None}, {"show_name": {"$ne": 0}},
                 {"show_name": True, "name": "x"}):
        r = client.put("/achieveup/badge-profile", json=body, headers=shared["student"])
        assert r.status_code == 422, body
    assert client.get("/achieveup/badge-profile").status_code == 401


# ------------------------------------------------------------------ finding 5


def test_public_ids_are_random_and_not_the_natural_key(client, app, shared):
    db = shared["db"]
    docs = list(db[store.BADGES].find({}, {"public_id": 1, "course_id": 1, "student_id": 1,
                                           "skill": 1, "level": 1}))
    ids = [d["public_id"] for d in docs]
    assert len(set(ids)) == len(ids) > 1
    for d in docs:
        natural = hashlib.sha256("|".join((d["course_id"], d["student_id"], d["skill"],
                                           d["level"])).encode()).hexdigest()
        assert len(d["public_id"]) == 22 and d["public_id"] not in natural
        assert d["public_id"] != d["_id"]
    # the API and every URL use the public id; the natural key opens nothing
    view = shared["view"]
    assert view["badge_id"] == shared["badge"]["public_id"]
    assert view["shareable_link"].endswith("/" + view["badge_id"])
    natural = shared["badge"]["_id"]
    for path in (f"/achieveup/public/badges/assertions/{natural}",
                 f"/achieveup/public/badges/credentials/{natural}"):
        assert client.get(path).status_code == 404, path
    assert client.put(f"/achieveup/badges/{natural}/share", json={"public": True},
                      headers=shared["student"]).status_code == 404


def _not_found_bodies(client, urls: dict) -> dict:
    return {name: (r.status_code, r.data) for name, r in
            ((name, client.get(url)) for name, url in urls.items())}


def test_unshared_badges_answer_like_missing_ones_revoked_or_not(client, app, shared):
    db, badge = shared["db"], shared["badge"]
    unshared = db[store.BADGES].find_one({"student_id": badge["student_id"], "public": False,
                                          "skill": {"$ne": badge["skill"]}})
    assert unshared is not None
    base = "/achieveup/public/badges"

    def urls(public_id):
        return {"assertion": f"{base}/assertions/{public_id}",
                "credential": f"{base}/credentials/{public_id}",
                "credential json": f"{base}/credentials/{public_id}?format=json",
                "baked ob2": f"{base}/assertions/{public_id}/image.png",
                "baked ob3": f"{base}/credentials/{public_id}/image.png"}

    missing = _not_found_bodies(client, urls("AAAAAAAAAAAAAAAAAAAAAA"))
    assert {status for status, _ in missing.values()} == {404}
    assert _not_found_bodies(client, urls(unshared["public_id"])) == missing
    hosted = verify(client, assertion_url=f"http://localhost:5001{base}/assertions/"
                                          f"{unshared['public_id']}")
    assert hosted == {"valid": False, "badge": None,
                      "reasons": ["No shared badge is hosted at this URL."]}
    # revoke the unshared badge's skill: still exactly like a missing badge (was 410)
    matrix = db[store.MATRICES].find_one({"course_id": COURSE})
    r = client.put(f"/achieveup/matrix/{matrix['_id']}", headers=shared["teacher"], json={
        "skills": [s for s in SKILLS if s != unshared["skill"]]})
    assert r.status_code == 200, r.get_json()
    assert db[store.BADGES].find_one({"_id": unshared["_id"]})["revoked"] is True
    assert _not_found_bodies(client, urls(unshared["public_id"])) == missing
    assert verify(client, assertion_url=f"http://localhost:5001{base}/assertions/"
                                        f"{unshared['public_id']}") == hosted
    # a shared badge that gets revoked tells verifiers so (Open Badges 2.0 revocation)
    assert client.get(local(app, shared["view"]["shareable_link"])).status_code == 200
    client.put(f"/achieveup/matrix/{matrix['_id']}", headers=shared["teacher"], json={
        "skills": [s for s in SKILLS if s not in (unshared["skill"], badge["skill"])]})
    gone = client.get(local(app, shared["view"]["shareable_link"]))
    assert gone.status_code == 410 and gone.get_json()["revoked"] is True


def test_each_assertion_has_its_own_salt(client, app, shared):
    db, config = shared["db"], app.extensions["knowgap"].config
    others = list(db[store.BADGES].find({"student_id": shared["badge"]["student_id"],
                                         "public": False}).limit(2))
    for doc in others:
        r = client.put(f"/achieveup/badges/{doc['public_id']}/share", json={"public": True},
                       headers=shared["student"])
        assert r.status_code == 200
    assertions = [client.get(f"/achieveup/public/badges/assertions/{pid}").get_json()
                  for pid in [shared["badge"]["public_id"]] + [d["public_id"] for d in others]]
    salts = [a["recipient"]["salt"] for a in assertions]
    identities = [a["recipient"]["identity"] for a in assertions]
    assert len(set(salts)) == len(salts) == 3 and len(set(identities)) == 3
    for a, salt in zip(assertions, salts):
        assert a["recipient"]["identity"] == "sha256$" + hashlib.sha256(
            (shared["email"].lower() + salt).encode()).hexdigest()
        assert salt != config.badge_salt
        public_id = a["id"].rsplit("/", 1)[-1]
        assert salt == hmac.new(config.badge_salt.encode(),
                                b"recipient-salt|" + public_id.encode(),
                                hashlib.sha256).hexdigest()[:32]
    # the server's BADGE_SALT is in no public document
    for a in assertions:
        credential = client.get(a["id"].replace("/assertions/", "/credentials/")
                                .replace("http://localhost:5001", "") + "?format=json")
        for body in (json.dumps(a), credential.get_data(as_text=True)):
            assert config.badge_salt not in body


# ------------------------------------------------------------------ finding 6


def test_removing_a_skill_from_the_matrix_revokes_at_once(client, app, shared):
    db, badge, teacher = shared["db"], shared["badge"], shared["teacher"]
    token = client.get(local(app, shared["view"]["credential_url"])).get_data(as_text=True)
    status = independent_decode(client, app, token)["credentialStatus"]
    assert _status_bit(client, app, status)[0] is False
    assert verify(client, credential=token)["valid"] is True
    matrix = db[store.MATRICES].find_one({"course_id": COURSE})
    jobs_before = db["jobs"].count_documents({})
    r = client.put(f"/achieveup/matrix/{matrix['_id']}", headers=teacher,
                   json={"skills": [s for s in SKILLS if s != badge["skill"]]})
    assert r.status_code == 200, r.get_json()
    assert db["jobs"].count_documents({}) == jobs_before          # no sync, no recompute
    # every badge of the skill is revoked, and the very next status list says so
    of_skill = list(db[store.BADGES].find({"course_id": COURSE, "skill": badge["skill"]}))
    assert of_skill and all(d["revoked"] for d in of_skill)
    assert _status_bit(client, app, status)[0] is True
    result = verify(client, credential=token)
    assert result["valid"] is False and result["reasons"][0].startswith("The badge was revoked")
    assert client.get(local(app, shared["view"]["shareable_link"])).status_code == 410
    # the student's lists and the course summaries agree
    own = client.get(f"/achieveup/badges/{badge['student_id']}", headers=shared["student"])
    assert badge["skill"] not in {b["skill_name"] for b in own.get_json()}
    summary = db[store.MASTERY].find_one({"_id": store.summary_id(db, COURSE, badge["student_id"])})
    assert [badge["skill"], badge["level"]] in store.unpack(summary["revoked_badges"])
    assert badge["skill"] not in {row[0] for row in store.unpack(summary["badges"])}


def test_deleting_a_matrix_revokes_its_skills_badges(client, app, shared):
    db, teacher = shared["db"], shared["teacher"]
    matrix = db[store.MATRICES].find_one({"course_id": COURSE})
    other = client.post("/achieveup/matrix/create", headers=teacher, json={
        "course_id": COURSE, "matrix_name": "Kept", "skills": [SKILLS[0]]})
    assert other.status_code == 201
    r = client.delete(f"/achieveup/matrix/delete/{matrix['_id']}", headers=teacher)
    assert r.status_code == 200
    live = {d["skill"] for d in db[store.BADGES].find({"course_id": COURSE, "revoked": False})}
    revoked = {d["skill"] for d in db[store.BADGES].find({"course_id": COURSE, "revoked": True})}
    assert live == {SKILLS[0]} and revoked == set(SKILLS[1:])


def test_revocation_does_not_wait_for_a_busy_course(client, app, shared, monkeypatch):
    """A recompute holds the course lock: the badges are revoked at once all the same, the
    request answers within the short wait, and the next recompute updates the summaries."""
    db, badge, teacher = shared["db"], shared["badge"], shared["teacher"]
    monkeypatch.setattr(skills_service, "REVOKE_WAIT_SECONDS", 0.3)
    now = store.utcnow()
    db[store.VERSIONS].update_one({"_id": key(db, COURSE)}, {"$set": {
        "lock_owner": "a running recompute", "lock_until": now + dt.timedelta(minutes=5)}},
        upsert=True)
    matrix = db[store.MATRICES].find_one({"course_id": COURSE})
    started = time.monotonic()
    r = client.put(f"/achieveup/matrix/{matrix['_id']}", headers=teacher,
                   json={"skills": [s for s in SKILLS if s != badge["skill"]]})
    assert r.status_code == 200 and time.monotonic() - started < 5
    assert db[store.BADGES].find_one({"_id": badge["_id"]})["revoked"] is True
    assert client.get(local(app, shared["view"]["shareable_link"])).status_code == 410
    db[store.VERSIONS].update_one({"_id": key(db, COURSE)}, {"$set": {"lock_owner": None,
                                                             "lock_until": None}})
    client.post("/achieveup/badges/generate", json={"course_id": COURSE}, headers=teacher)
    summary = db[store.MASTERY].find_one({"_id": store.summary_id(db, COURSE, badge["student_id"])})
    assert [badge["skill"], badge["level"]] in store.unpack(summary["revoked_badges"])


# ------------------------------------------------------------------ badges issued before


def _make_legacy(db, doc: dict, **fields) -> dict:
    """The badge as today's code stored it: no public id (its old id was its ``_id``)."""
    db[store.BADGES].update_one({"_id": doc["_id"]}, {"$unset": {"public_id": ""},
                                                      "$set": fields})
    return db[store.BADGES].find_one({"_id": doc["_id"]})


def test_links_given_out_before_public_ids_keep_working(client, app, shared):
    db, badge = shared["db"], shared["badge"]
    legacy = _make_legacy(db, badge)
    old_link = shared["view"]["shareable_link"].replace(badge["public_id"], badge["_id"])
    assertion = client.get(local(app, old_link))
    assert assertion.status_code == 200 and assertion.get_json()["id"] == old_link
    assert db[store.BADGES].find_one({"_id": legacy["_id"]})["public_id"] == badge["_id"]
    # a credential issued back then (its id names the old id) still verifies
    token = client.get(local(app, old_link.replace("/assertions/", "/credentials/")))
    claims = independent_decode(client, app, token.get_data(as_text=True))
    assert claims["id"].endswith("/credentials/" + badge["_id"])
    assert verify(client, credential=token.get_data(as_text=True))["valid"] is True
    assert verify(client, assertion_url=old_link)["valid"] is True


def test_unpublished_badges_of_before_get_a_new_id(client, app, shared):
    db, badge = shared["db"], shared["badge"]
    unshared = db[store.BADGES].find_one({"student_id": badge["student_id"], "public": False})
    never = _make_legacy(db, unshared)
    downloaded = _make_legacy(db, db[store.BADGES].find_one(
        {"student_id": badge["student_id"], "public": False, "_id": {"$ne": unshared["_id"]}}),
        status_list=0, status_index=99)             # its credential was built once
    base = "/achieveup/public/badges"
    # the old id of a badge never published opens nothing, even once it is shared
    assert client.get(f"{base}/assertions/{never['_id']}").status_code == 404
    listed = client.get(f"/achieveup/badges/{badge['student_id']}", headers=shared["student"])
    ids = {b["skill_name"] + b["badge_level"]: b["badge_id"] for b in listed.get_json()}
    new_id = ids[never["skill"] + never["level"]]
    assert new_id != never["_id"] and len(new_id) == 22
    client.put(f"/achieveup/badges/{new_id}/share", json={"public": True},
               headers=shared["student"])
    assert client.get(f"{base}/assertions/{never['_id']}").status_code == 404
    assert client.get(f"{base}/assertions/{new_id}").status_code == 200
    # one whose credential was handed out keeps its id, so that credential still verifies
    assert ids[downloaded["skill"] + downloaded["level"]] == downloaded["_id"]


def test_assign_public_ids_is_idempotent(client, app, shared):
    db, badge = shared["db"], shared["badge"]
    unshared = list(db[store.BADGES].find({"public": False}).limit(2))
    for doc in [badge] + unshared:
        _make_legacy(db, doc)
    assert privacy.assign_public_ids(db) == 3
    assert privacy.assign_public_ids(db) == 0
    assert db[store.BADGES].count_documents({"public_id": None}) == 0
    assert db[store.BADGES].find_one({"_id": badge["_id"]})["public_id"] == badge["_id"]
    for doc in unshared:
        assert db[store.BADGES].find_one({"_id": doc["_id"]})["public_id"] != doc["_id"]
