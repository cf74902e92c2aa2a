"""Course mastery settings over HTTP: ownership, validation, the recompute job, badges kept,
and the fitted BKT parameters a course sync stores."""
from __future__ import annotations

import pytest

from achieveup.mastery import store
from knowgap.jobs.worker import run_pending
from tests.test_mastery_sync import (COURSE, SKILLS, setup_course, signup,  # noqa: F401
                                     sync, synced, teacher)

URL = f"/achieveup/instructor/course/{COURSE}/settings"



def put(client, headers, body, status=202):
    r = client.put(URL, headers=headers, json=body)
    assert r.status_code == status, r.get_json()
    return r.get_json()


def run_job(client, app, headers, job_id):
    run_pending(app)
    job = client.get(f"/achieveup/jobs/{job_id}", headers=headers).get_json()
    assert job["state"] == "succeeded", job
    return job


def badges_of(db):
    return {d["_id"]: (d["skill"], d["level"], d["earned_at"], d["revoked"])
            for d in db[store.BADGES].find({"course_id": COURSE})}


def test_defaults_and_ownership(client, teacher):
    body = client.get(URL, headers=teacher).get_json()
    assert body["course_id"] == COURSE and body["mastery_model"] == "recency"
    assert body["calculation_int"] is None
    assert body["bkt_parameters"] == "fitted" and body["min_evidence"] == 3
    assert body["badge_thresholds"] == {"beginner": 25, "intermediate": 50, "advanced": 75,
                                        "expert": 90}
    assert body["fitted_parameters"] == {"fitted_at": None, "evidence_rows": 0, "course": None,
                                         "skills": []}
    other = signup(client, "other-teacher-token")
    student = signup(client, "student-token-1001")
    for headers in (other, student):
        assert client.get(URL, headers=headers).status_code == 403
        assert client.put(URL, headers=headers, json={"min_evidence": 1}).status_code == 403
    assert client.get(URL).status_code == 401


@pytest.mark.parametrize("body", [
    {"badge_thresholds": {"beginner": 50, "intermediate": 40, "advanced": 75, "expert": 90}},
    {"badge_thresholds": {"beginner": 25, "intermediate": 50, "advanced": 75, "expert": 120}},
    {"badge_thresholds": {"beginner": 25, "intermediate": 50, "advanced": 75}},
    {"fixed_parameters": {"p_init": 0.3, "p_transit": 0.1, "p_slip": 0.5, "p_guess": 0.2}},
    {"mastery_model": "magic"},
    {"mastery_threshold": 1.0},
    {"min_evidence": 0},
    {"decay": {"enabled": True, "half_life_days": 0}},
    {"min_evidence": {"$ne": None}},
    {"colour": "blue"},
])
def test_invalid_settings_are_refused_and_nothing_is_stored(client, app, teacher, body):
    r = client.put(URL, headers=teacher, json=body)
    assert r.status_code == 422, r.get_json()
    err = r.get_json()
    assert set(err) >= {"error", "message", "statusCode"} and err["statusCode"] == 422
    assert app.extensions["knowgap"].db[store.SETTINGS].count_documents({}) == 0


def test_change_recomputes_as_a_job_and_is_idempotent(client, app, teacher, synced):
    db = synced
    before = badges_of(db)
    assert before, "the sync should have awarded badges"
    first = put(client, teacher, {"min_evidence": 2, "decay": {"enabled": False}})
    assert first["settings"]["min_evidence"] == 2 and first["job_id"]
    again = put(client, teacher, {"min_evidence": 2})
    assert again["job_id"] == first["job_id"] and again["message"].startswith("Nothing changed")
    job = run_job(client, app, teacher, first["job_id"])
    assert job["counts"]["students_with_mastery"] == len(canvas_students(client, teacher))
    state = snapshot(db)
    # the same recompute again: same summaries, no second copy of any badge
    third = put(client, teacher, {"min_evidence": 2})
    assert third["job_id"] == first["job_id"]          # that job already applied them
    from achieveup.pipeline import recompute
    recompute(db, app.extensions["knowgap"].config, COURSE, refit=True)
    assert snapshot(db) == state
    assert set(badges_of(db)) >= set(before)
    assert client.get(URL, headers=teacher).get_json()["min_evidence"] == 2


def canvas_students(client, teacher):
    return client.get(f"/achieveup/instructor/courses/{COURSE}/student-analytics",
                      headers=teacher).get_json()["students"]


def snapshot(db):
    summaries = sorted((d["_id"], d["skills"], d["badges"]) for d in db[store.MASTERY].find())
    return summaries, badges_of(db)


def test_thresholds_drive_levels_and_awards_and_never_revoke(client, app, teacher, synced):
    db = synced
    before = badges_of(db)
    strict = {"beginner": 96, "intermediate": 97, "advanced": 98, "expert": 99}
    run_job(client, app, teacher, put(client, teacher, {"badge_thresholds": strict})["job_id"])
    after = badges_of(db)
    assert {k: v for k, v in after.items() if k in before} == before   # kept, same earned_at
    students = canvas_students(client, teacher)
    for s in students:
        for item in s["skillBreakdown"].values():
            if item["level"] != "not_started":
                expected = [n for n, t in strict.items() if item["score"] >= t]
                assert item["level"] == (expected[-1] if expected else "beginner")
    # lower thresholds: more badges, each level once
    easy = {"beginner": 1, "intermediate": 2, "advanced": 3, "expert": 4}
    run_job(client, app, teacher, put(client, teacher, {"badge_thresholds": easy})["job_id"])
    final = badges_of(db)
    assert set(final) >= set(after) and len(final) > len(after)
    keys = [(d["student_id"], d["skill"], d["level"]) for d in db[store.BADGES].find()]
    assert len(keys) == len(set(keys))
    scored = [i for s in canvas_students(client, teacher) for i in s["skillBreakdown"].values()
              if i["questionsAttempted"] >= 3 and i["score"] >= 4]
    assert scored and all(i.get("badgeLevel") == "expert" for i in scored)


def test_bkt_model_is_reported_in_analytics_and_progress(client, app, teacher, synced):
    db = synced
    fitted = client.get(URL, headers=teacher).get_json()["fitted_parameters"]
    assert fitted["fitted_at"] and fitted["evidence_rows"] > 0
    assert {s["skill"] for s in fitted["skills"]} == set(SKILLS)
    assert all(s["source"] == "fitted" and s["p_slip"] < 0.5 and s["p_guess"] < 0.5
               for s in fitted["skills"])
    run_job(client, app, teacher, put(client, teacher, {"mastery_model": "bkt"})["job_id"])
    students = canvas_students(client, teacher)
    items = [i for s in students for i in s["skillBreakdown"].values()]
    assert {i["model"] for i in items} == {"bkt_fitted"}
    summary = db[store.MASTERY].find_one({"course_id": COURSE, "student_id": students[0]["id"]})
    entries = {e["skill"]: e for e in summary["skills"]}
    for skill, item in students[0]["skillBreakdown"].items():
        assert item["evidence"] == entries[skill]["evidence_count"]
        assert item["score"] == round(100 * entries[skill]["p_mastery"], 1)
    sid = students[0]["id"]
    progress = client.get(f"/achieveup/progress/{sid}/{COURSE}", headers=teacher).get_json()
    assert set(progress["skill_progress"]) == set(SKILLS)
    for skill, p in progress["skill_progress"].items():
        assert p["model"] == "bkt_fitted" and p["evidence"] == entries[skill]["evidence_count"]
    # fixed parameters: the label says so
    fixed = {"p_init": 0.2, "p_transit": 0.2, "p_slip": 0.1, "p_guess": 0.2}
    run_job(client, app, teacher, put(client, teacher, {"bkt_parameters": "fixed",
                                                        "fixed_parameters": fixed})["job_id"])
    items = [i for s in canvas_students(client, teacher) for i in s["skillBreakdown"].values()]
    assert {i["model"] for i in items} == {"bkt_fixed"}


def test_sync_stores_the_fit_and_refits_only_on_new_evidence(client, app, teacher, synced):
    db = synced
    docs = list(db[store.BKT_PARAMETERS].find({"course_id": COURSE}))
    course_doc = next(d for d in docs if d["scope"] == "course")
    skills = [d for d in docs if d["scope"] == "skill"]
    assert {d["skill"] for d in skills} == set(SKILLS)
    for d in skills:
        assert set(d["params"]) == {"p_init", "p_transit", "p_slip", "p_guess", "p_forget"}
        assert d["evidence"]["observations"] > 0 and d["fitted_at"] is not None
    rows = course_doc["evidence"]["rows"]
    assert rows == sum(e["count"] for e in db[store.EVIDENCE].find({"course_id": COURSE}))
    job = sync(client, app, teacher)
    assert job["counts"]["bkt_refit"] == 0                        # nothing new arrived
    again = db[store.BKT_PARAMETERS].find_one({"_id": course_doc["_id"]})
    assert again["fitted_at"] == course_doc["fitted_at"]
    # a fit that saw much less evidence than the course now has is redone by the next sync
    db[store.BKT_PARAMETERS].update_one({"_id": course_doc["_id"]},
                                        {"$set": {"evidence.rows": rows // 2}})
    job = sync(client, app, teacher)
    assert job["counts"]["bkt_refit"] == 1 and job["counts"]["bkt_skills_fitted"] == 3
    course_doc = db[store.BKT_PARAMETERS].find_one({"_id": course_doc["_id"]})
    assert course_doc["evidence"]["rows"] == rows and course_doc["fitted_at"] > again["fitted_at"]
    # switching forgetting on makes the recompute job fit again, with a forgetting parameter
    job = run_job(client, app, teacher, put(client, teacher, {"forgetting": True})["job_id"])
    assert job["counts"]["bkt_refit"] == 1
    refit = db[store.BKT_PARAMETERS].find_one({"_id": course_doc["_id"]})
    assert refit["forgetting"] is True and refit["fitted_at"] > course_doc["fitted_at"]


def test_settings_keep_the_leaderboard_switch_and_bkt_badges_say_what_they_measure(
        client, app, teacher, synced):
    db = synced
    r = client.put(f"/achieveup/instructor/courses/{COURSE}/leaderboard", headers=teacher,
                   json={"enabled": False})
    assert r.status_code == 200 and r.get_json()["enabled"] is False
    before = badges_of(db)
    job = put(client, teacher, {"mastery_model": "bkt", "badge_thresholds": {
        "beginner": 5, "intermediate": 10, "advanced": 15, "expert": 20}})
    run_job(client, app, teacher, job["job_id"])
    assert db[store.SETTINGS].count_documents({"course_id": COURSE}) == 1
    assert db[store.SETTINGS].find_one({"course_id": COURSE})["leaderboard_enabled"] is False
    after = badges_of(db)
    assert set(before) < set(after)                   # lower thresholds: new levels, none lost
    new = db[store.BADGES].find_one({"_id": {"$in": sorted(set(after) - set(before))},
                                     "course_id": COURSE})
    assert new["model"] == "bkt_fitted"
    from achieveup.badges.service import evidence_narrative
    assert "mastery estimate" in evidence_narrative(new)
    old = db[store.BADGES].find_one({"_id": next(iter(before))})     # earned under the default
    assert old["model"] == "recency" and "weighted toward recent ones" in \
        evidence_narrative(old)
    gradebook = {k: v for k, v in old.items() if k != "model"}     # a percentage badge
    assert evidence_narrative(gradebook).startswith("Scored ")
