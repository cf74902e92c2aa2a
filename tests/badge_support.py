"""A synced course 101 with one badge its student shared, for the badge credential tests."""
from __future__ import annotations

from achieveup.mastery import store
from tests.test_mastery_sync import COURSE, SKILLS, setup_course, signup, sync


def share_a_badge(client, app, world) -> dict:
    """Sync course 101 as its teacher, sign the first badge's student up and share the badge.
    Returns the teacher's and student's headers, the badge document and the student's e-mail."""
    teacher = signup(client, "teacher-token")
    db = setup_course(client, app, teacher, world)
    sync(client, app, teacher)
    badge = db[store.BADGES].find_one({"course_id": COURSE})
    student = signup(client, f"student-token-{badge['student_id']}")
    email = db[store.USERS].find_one({"canvas_user_id": badge["student_id"]})["email"]
    shared = client.put(f"/achieveup/badges/{badge['public_id']}/share", json={"public": True},
                        headers=student)
    assert shared.status_code == 200, shared.get_json()
    return {"db": db, "teacher": teacher, "student": student, "badge": badge, "email": email,
            "view": shared.get_json()}


def revoke_skill_of(client, ctx: dict) -> None:
    """Remove the badge's skill from the course matrix and re-evaluate: the badge is revoked."""
    db, badge = ctx["db"], ctx["badge"]
    matrix = db[store.MATRICES].find_one({"course_id": COURSE})
    db[store.MATRICES].update_one({"_id": matrix["_id"]}, {"$set": {
        "skills": [s for s in SKILLS if s != badge["skill"]]}})
    r = client.post("/achieveup/badges/generate", json={"course_id": COURSE},
                    headers=ctx["teacher"])
    assert r.status_code == 200, r.get_json()
    assert db[store.BADGES].find_one({"_id": badge["_id"]})["revoked"] is True
