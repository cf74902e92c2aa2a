"""Badge state recorded in the course summaries: award diff, revocation, analytics freshness,
export from summaries, legacy backfill and the evidence encoding."""
from __future__ import annotations

import io
import json

import pytest

from achieveup.badges import service as badges
from achieveup.mastery import service as mastery
from achieveup.mastery import store
from knowgap.core.tenancy import where
from tests.conftest import sandbox_db
from tests.test_mastery_sync import COURSE, SKILLS, setup_course, signup, sync


@pytest.fixture
def teacher(client):
    return signup(client, "teacher-token")


def analytics(client, teacher):
    r = client.get(f"/achieveup/instructor/courses/{COURSE}/student-analytics", headers=teacher)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def active_badges(db):
    return {d["_id"]: d for d in db[store.BADGES].find({"course_id": COURSE, "revoked": False})}


def recorded(db):
    """{badge_id: row} of the badges recorded in the summaries."""
    out = {}
    for doc in db[store.MASTERY].find({"course_id": COURSE}):
        for row in mastery.badge_rows(doc):
            out[store.badge_key_id(db, COURSE, doc["student_id"], row[0], row[1])] = row
    return out


def test_summaries_record_exactly_the_badge_collection(client, app, teacher, canvas_world):
    db = setup_course(client, app, teacher, canvas_world)
    assert sync(client, app, teacher)["state"] == "succeeded"
    docs = active_badges(db)
    assert docs and set(recorded(db)) == set(docs)
    for bid, row in recorded(db).items():
        assert row[2] == store.iso(docs[bid]["earned_at"])
        assert row[3] == docs[bid]["percentage"]
    body = analytics(client, teacher)
    shown = sum(1 for s in body["students"] for item in s["skillBreakdown"].values()
                if item.get("badgeLevel"))
    skills_with_badges = {(d["student_id"], d["skill"]) for d in docs.values()}
    assert shown == len(skills_with_badges)
    assert sum(s["badgesEarned"] for s in body["students"]) == len(skills_with_badges)
    # a second sync awards nothing and rewrites nothing about badges
    before = sorted(docs)
    job = sync(client, app, teacher)
    assert job["counts"]["badges_awarded"] == 0
    assert sorted(active_badges(db)) == before and set(recorded(db)) == set(before)


def test_revocation_leaves_summaries_and_is_never_reawarded(client, app, teacher, canvas_world):
    db = setup_course(client, app, teacher, canvas_world)
    sync(client, app, teacher)
    analytics(client, teacher)  # warm the cache
    victim = SKILLS[0]
    n_total = db[store.BADGES].count_documents({})
    assert db[store.BADGES].count_documents({"skill": victim}) > 0
    m = db[store.MATRICES].find_one({"course_id": COURSE})
    db[store.MATRICES].update_one({"_id": m["_id"]}, {"$set": {"skills": SKILLS[1:]}})
    r = client.post("/achieveup/badges/generate", json={"course_id": COURSE}, headers=teacher)
    assert r.status_code == 200 and r.get_json() == []
    assert db[store.BADGES].count_documents({"skill": victim, "revoked": False}) == 0
    assert all(row[0] != victim for row in recorded(db).values())
    for s in analytics(client, teacher)["students"]:
        assert "badgeLevel" not in s["skillBreakdown"].get(victim, {})
    data = client.get(f"/achieveup/export/{COURSE}?format=json", headers=teacher).get_json()
    assert all(b["skill"] != victim for b in data["badges"])
    # the skill comes back: revoked badges stay revoked, nothing is inserted twice
    db[store.MATRICES].update_one({"_id": m["_id"]}, {"$set": {"skills": SKILLS}})
    r = client.post("/achieveup/badges/generate", json={"course_id": COURSE}, headers=teacher)
    assert r.get_json() == []
    assert sync(client, app, teacher)["counts"]["badges_awarded"] == 0
    assert db[store.BADGES].count_documents({}) == n_total
    assert all(row[0] != victim for row in recorded(db).values())


def test_analytics_reflects_a_new_sync_immediately(client, app, teacher, canvas_world):
    db = setup_course(client, app, teacher, canvas_world)
    sync(client, app, teacher)
    first = analytics(client, teacher)
    assert analytics(client, teacher) == first  # served from the cache, same content
    # every question now assesses "Cells" only: the next sync changes every breakdown
    db[store.QUESTION_SKILLS].update_many({"course_id": COURSE}, {"$set": {"skills": ["Cells"]}})
    sync(client, app, teacher)
    second = analytics(client, teacher)
    assert second != first
    for s in second["students"]:
        assert s["skillBreakdown"]["Energy"]["questionsAttempted"] == 0
    assert second["averageScores"]["Energy"] == 0.0


def test_export_from_summaries_has_every_badge_and_valid_xlsx(client, app, teacher,
                                                              canvas_world):
    from openpyxl import load_workbook

    db = setup_course(client, app, teacher, canvas_world)
    db[store.MATRICES].insert_one(where(db, course_id=COURSE, matrix_name="+Evil<&>",
                                        name_lower="+evil<&>", skills=["\tTab", "ok\x01"],
                                        instructor_id="x"))
    sync(client, app, teacher)
    data = client.get(f"/achieveup/export/{COURSE}?format=json", headers=teacher).get_json()
    docs = active_badges(db)
    assert {b["badge_id"] for b in data["badges"]} == set(docs)
    for b in data["badges"]:
        d = docs[b["badge_id"]]
        assert (b["student_id"], b["skill"], b["level"], b["percentage"], b["evidence_count"],
                b["earned_at"]) == (d["student_id"], d["skill"], d["level"], d["percentage"],
                                    d["evidence_count"], store.iso(d["earned_at"]))
    r = client.get(f"/achieveup/export/{COURSE}?format=xlsx", headers=teacher)
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["Summary", "matrices", "question_skills", "mastery", "badges", "items"]
    rows = list(wb["badges"].iter_rows(values_only=True))
    assert rows[0] == ("badge_id", "student_id", "skill", "level", "percentage",
                       "evidence_count", "earned_at")
    assert len(rows) - 1 == len(data["badges"])
    assert {row[0] for row in rows[1:]} == set(docs)
    mastery_rows = list(wb["mastery"].iter_rows(values_only=True))
    assert len(mastery_rows) - 1 == len(data["mastery"])
    first = dict(zip(mastery_rows[0], mastery_rows[1]))
    assert first["score"] == data["mastery"][0]["score"]
    values = [c for row in wb["matrices"].iter_rows(values_only=True) for c in row]
    assert "'+Evil<&>" in values and "'\tTab" in values and "ok" in values


def test_legacy_summaries_are_backfilled_and_adopt_existing_badges(client, app, teacher,
                                                                   canvas_world):
    db = setup_course(client, app, teacher, canvas_world)
    sync(client, app, teacher)
    expected = recorded(db)
    # summaries written before badges were recorded in them
    db[store.MASTERY].update_many({}, {"$unset": {"badges": "", "revoked_badges": ""}})
    with app.app_context():
        assert badges.award_for_course(db, app.extensions["knowgap"].config, COURSE) == []
    assert recorded(db) == expected
    # a badge awarded by a concurrent writer (in the collection, not yet in the summary)
    doc = db[store.MASTERY].find_one({"course_id": COURSE, "badges": {"$ne": "[]"}})
    rows = mastery.badge_rows(doc)
    db[store.MASTERY].update_one({"_id": doc["_id"]}, {"$set": {"badges": store.pack(rows[1:])}})
    assert sync(client, app, teacher)["counts"]["badges_awarded"] == 0
    assert recorded(db) == expected
    assert db[store.BADGES].count_documents({}) == len(expected)


def test_course_lock_serializes_writers(app):
    import threading
    import time

    db = sandbox_db(app)
    events = []

    def writer(n):
        with store.course_lock(db, "55"):
            events.append(("in", n))
            time.sleep(0.05)
            events.append(("out", n))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    versions = {store.bump_version(db, "55")}
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(0, 6, 2):
        assert events[i][0] == "in" and events[i + 1] == ("out", events[i][1])
    versions.add(store.version_of(db, "55"))
    assert len(versions) == 2
    with store.course_lock(db, "55"):
        with store.course_lock(db, "55"):  # re-entrant in one thread
            pass


def test_evidence_encoding_round_trip():
    rows = [["9", "1", 1, "2024-09-01T00:00:00Z", 1.0, 2.0],
            ["9", "2", 2, None, None, None],
            ["10", "1", 1, "2024-09-01T00:00:00Z", 0.5, 1.0]]
    packed = store.pack_evidence(rows)
    assert store.unpack_evidence(packed) == rows
    assert store.unpack_evidence(store.pack(rows)) == rows  # the older format still reads
    assert store.unpack_evidence(None) == [] and json.loads(packed)["v"] == 2
