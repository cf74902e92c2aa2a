"""KnowGap at-risk prediction, the course toggle and support videos."""
from __future__ import annotations

from knowgap.canvas.hosts import default_host
from knowgap.identity.canvas_access import CanvasAccess
from knowgap.risk.service import risk_for_student
from tests.knowgap_support import TEACHER, config, post, student_token  # noqa: F401

COURSE = 101


def test_student_gets_own_risk(client, canvas_world):
    sid = canvas_world.student_ids(COURSE)[0]
    r = post(client, "/get-risk", student_token(sid), course_id=COURSE)
    body = r.get_json()
    assert r.status_code == 200, body
    assert body["risk_level"] in ("low", "medium", "high") and body["enabled"] is True
    assert 0 <= body["risk_index"] <= 1
    names = {f["name"] for f in body["factors"]}
    assert {"current_grade", "recent_performance", "trend"} <= names
    assert abs(sum(f["contribution"] for f in body["factors"]) - body["risk_index"]) < 0.01
    other = canvas_world.student_ids(COURSE)[1]
    assert post(client, "/get-risk", student_token(sid), course_id=COURSE,
                student_id=other).status_code == 403
    assert post(client, "/get-risk", TEACHER, course_id=COURSE,
                student_id=other).status_code == 200
    assert post(client, "/get-risk", TEACHER, course_id=COURSE,
                student_id=999999).status_code == 404


def test_toggle_off_hides_risk_from_students_only(client, config, canvas_world):
    sid = canvas_world.student_ids(COURSE)[0]
    headers = {"Authorization": f"Bearer {student_token(sid)}"}
    assert client.get(f"/get-toggle-risk/{COURSE}", headers=headers).get_json() == {
        "course_id": str(COURSE), "toggle_risk": True, "canvas_host": config.canvas_base_url}
    r = post(client, f"/update-toggle-risk/{COURSE}", student_token(sid), toggle_risk=False)
    assert r.status_code == 403
    r = post(client, f"/update-toggle-risk/{COURSE}", TEACHER, toggle_risk=False)
    assert r.status_code == 200 and r.get_json()["toggle_risk"] is False
    assert client.get(f"/get-toggle-risk/{COURSE}", headers=headers).get_json()["toggle_risk"] is False
    body = post(client, "/get-risk", student_token(sid), course_id=COURSE).get_json()
    assert body == {"risk_level": None, "risk_index": None, "factors": [], "enabled": False}
    body = post(client, "/get-risk", TEACHER, course_id=COURSE, student_id=sid).get_json()
    assert body["risk_level"] in ("low", "medium", "high") and body["enabled"] is False
    # a student's extension reads the switch without a token
    assert client.get(f"/get-toggle-risk/{COURSE}").get_json()["toggle_risk"] is False


def test_risk_for_student_with_gateway_data_and_mastery(app, config, canvas_world):
    svc = app.extensions["knowgap"].scoped(default_host(config))
    sid = canvas_world.student_ids(COURSE)[0]
    data = {"current_score": 50.0, "recent_results": [("2024-09-01", 40), ("2024-09-08", 50)]}
    without = risk_for_student(svc, data, COURSE, sid)
    from achieveup.mastery import store as mastery_store

    packed = mastery_store.pack([["a", 100.0, "expert", 4, 4.0, 0.97, 4, True, None],
                                 ["b", 90.0, "expert", 3, 2.7, 0.9, 3, False, None]])
    svc.db[mastery_store.MASTERY].insert_one(
        {"_id": mastery_store.summary_id(svc.db, COURSE, sid), "canvas_host": svc.db.canvas_host,
         "course_id": str(COURSE), "student_id": str(sid), "packed": packed})
    with_mastery = risk_for_student(svc, data, COURSE, sid)
    assert "skill_mastery" in {f["name"] for f in with_mastery["factors"]}
    assert with_mastery["risk_index"] < without["risk_index"]
    live = risk_for_student(svc, CanvasAccess(config.canvas_base_url, TEACHER, config),
                            COURSE, sid)
    assert live["risk_level"] in ("low", "medium", "high")


def test_support_video_per_level(client):
    for key in ("risk", "risk_level"):
        r = client.post("/get-support-video", json={key: "medium"})
        body = r.get_json()
        assert r.status_code == 200 and body["risk_level"] == "medium"
        assert set(body["video"]) == {"title", "link", "channel", "thumbnail"}
    assert client.post("/get-support-video", json={"risk": "extreme"}).status_code == 422
    assert client.post("/get-support-video", json={}).status_code == 422
