"""Accounts with Canvas tokens, against the Canvas sandbox: derived roles, token storage,
validation reasons, and escalation attempts."""
from __future__ import annotations

import pytest

from tests.conftest import make_config

PASSWORD = "Correct-Horse-9"


RESPONSES: list = []


@pytest.fixture
def api(client):
    """The test client, recording every response so no secret can leak unnoticed."""

    class Recorder:
        def __getattr__(self, method):
            def call(*args, **kwargs):
                response = getattr(client, method)(*args, **kwargs)
                RESPONSES.append(response.get_data(as_text=True))
                return response
            return call

    return Recorder()


def signup(api, token=None, email="t@example.edu", **extra):
    body = {"name": "T", "email": email, "password": PASSWORD, **extra}
    if token is not None:
        body["canvasApiToken"] = token
    return api.post("/auth/signup", json=body)


def bearer(session):
    return {"Authorization": f"Bearer {session['token']}"}


@pytest.mark.parametrize("token,role,canvas_id,student_access", [
    ("teacher-token", "instructor", "1", False),
    ("ta-token", "instructor", "3", False),
    ("designer-token", "instructor", "5", False),
    ("dual-role-token", "instructor", "4", True),
    ("other-teacher-token", "instructor", "2", False),
    ("student-token-1001", "student", "1001", False),
])
def test_signup_derives_role_from_canvas(api, db, token, role, canvas_id, student_access):
    response = signup(api, token)
    assert response.status_code == 201, response.get_json()
    user = response.get_json()["user"]
    assert user["role"] == role
    assert user["canvasTokenType"] == role
    assert user["hasCanvasToken"] is True
    assert user["canvas_student_id"] == canvas_id
    assert user["has_student_access"] is student_access
    assert user["canvas_token_created_at"].endswith("Z")
    assert user["canvas_token_last_validated"].endswith("Z")
    assert token not in response.get_data(as_text=True)
    stored = db.AchieveUp_Users.find_one({"email_lower": "t@example.edu"})
    assert token not in str(stored)
    assert stored["canvas_token_enc"].startswith("v1:")


def test_stored_token_is_encrypted_for_its_owner(app, api, db):
    signup(api, "teacher-token")
    stored = db.AchieveUp_Users.find_one()
    cipher = app.extensions["knowgap"].cipher
    assert cipher.decrypt(stored["canvas_token_enc"], owner=str(stored["_id"])) == "teacher-token"
    from knowgap.core.errors import AppError
    with pytest.raises(AppError):
        cipher.decrypt(stored["canvas_token_enc"], owner="someone-else")


def test_escalation_instructor_type_with_student_token(api):
    response = signup(api, "student-token-1001", canvasTokenType="instructor", role="instructor")
    assert response.status_code == 201
    user = response.get_json()["user"]
    assert user["role"] == "student" and user["canvasTokenType"] == "student"


def test_signup_invalid_token_gives_reason_and_creates_nothing(api, db):
    response = signup(api, "bogus-token-123")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "canvas_token_invalid"
    assert "invalid or expired" in body["message"]
    assert "bogus-token-123" not in response.get_data(as_text=True)
    assert db.AchieveUp_Users.count_documents({}) == 0


def test_signup_canvas_unreachable(db):
    from knowgap import create_app
    from knowgap.core.extensions import limiter

    app = create_app(make_config(canvas_base_url="http://127.0.0.1:9",
                                 canvas_allowed_hosts=("127.0.0.1:9",), canvas_max_retries=0,
                                 canvas_timeout_seconds=3.0), db=db)
    limiter.reset()
    response = app.test_client().post("/auth/signup", json={
        "name": "T", "email": "t@x.edu", "password": PASSWORD, "canvasApiToken": "teacher-token"})
    assert response.status_code in (502, 504)
    assert response.get_json()["error"] in ("canvas_unavailable", "canvas_bad_response")
    assert response.get_json()["message"].endswith(".")
    assert db.AchieveUp_Users.count_documents({}) == 0
    validate = app.test_client().post("/auth/validate-canvas-token",
                                      json={"canvasApiToken": "teacher-token"})
    assert validate.status_code == 200
    assert validate.get_json()["valid"] is False
    assert validate.get_json()["reason"] == "unreachable"


def test_signup_canvas_host_not_allowed(db):
    from knowgap import create_app

    app = create_app(make_config(canvas_base_url="https://canvas.evil.example",
                                 canvas_allowed_hosts=("canvas.instructure.com",)), db=db)
    response = app.test_client().post("/auth/signup", json={
        "name": "T", "email": "t@x.edu", "password": PASSWORD, "canvasApiToken": "teacher-token"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "canvas_host_not_allowed"
    validate = app.test_client().post("/auth/validate-canvas-token",
                                      json={"canvasApiToken": "teacher-token"}).get_json()
    assert validate["valid"] is False and validate["reason"] == "host"


# ---------------------------------------------------------------- validate-canvas-token


def test_validate_canvas_token(api):
    ok = api.post("/auth/validate-canvas-token",
                  json={"canvasApiToken": "teacher-token", "canvasTokenType": "instructor"})
    assert ok.status_code == 200
    body = ok.get_json()
    assert body["valid"] is True and body["message"].endswith(".")
    assert body["user_info"]["id"] == "1" and body["user_info"]["role"] == "instructor"
    assert "teacher-token" not in ok.get_data(as_text=True)

    bad = api.post("/auth/validate-canvas-token", json={"canvasApiToken": "bogus",
                                                        "canvasTokenType": "student"})
    assert bad.status_code == 200
    assert bad.get_json()["valid"] is False and "invalid" in bad.get_json()["message"]
    assert "user_info" not in bad.get_json()

    student_as_teacher = api.post("/auth/validate-canvas-token", json={
        "canvasApiToken": "student-token-1001", "canvasTokenType": "instructor"}).get_json()
    assert student_as_teacher["valid"] is False
    assert student_as_teacher["reason"] == "not_instructor"

    student = api.post("/auth/validate-canvas-token", json={
        "canvasApiToken": "student-token-1001", "canvasTokenType": "student"}).get_json()
    assert student["valid"] is True and student["user_info"]["role"] == "student"

    empty = api.post("/auth/validate-canvas-token", json={"canvasApiToken": ""}).get_json()
    assert empty["valid"] is False


@pytest.mark.parametrize("payload", [{}, {"canvasApiToken": {"$ne": None}},
                                     {"canvasApiToken": "x", "canvasTokenType": "admin"},
                                     {"canvasApiToken": "x", "extra": 1}])
def test_validate_canvas_token_bad_input(api, payload):
    assert api.post("/auth/validate-canvas-token", json=payload).status_code == 422


# ---------------------------------------------------------------- profile


def test_profile_add_change_and_clear_token(api, db):
    session = signup(api).get_json()
    assert session["user"]["role"] == "student" and session["user"]["hasCanvasToken"] is False

    added = api.put("/auth/profile", headers=bearer(session),
                    json={"canvasApiToken": "teacher-token", "canvasTokenType": "instructor"})
    assert added.status_code == 200
    user = added.get_json()["user"]
    assert user["role"] == "instructor" and user["hasCanvasToken"] is True
    assert user["canvas_student_id"] == "1"
    assert "teacher-token" not in added.get_data(as_text=True)

    # an invalid replacement is refused and the stored token stays
    bad = api.put("/auth/profile", headers=bearer(session), json={"canvasApiToken": "nope"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "canvas_token_invalid"
    me = api.get("/auth/me", headers=bearer(session)).get_json()["user"]
    assert me["hasCanvasToken"] is True and me["role"] == "instructor"

    cleared = api.put("/auth/profile", headers=bearer(session), json={"canvasApiToken": ""})
    assert cleared.status_code == 200
    user = cleared.get_json()["user"]
    assert user["hasCanvasToken"] is False and user["role"] == "student"
    assert "canvas_student_id" not in user and "canvas_token_created_at" not in user
    assert "canvas_token_enc" not in db.AchieveUp_Users.find_one()


def test_profile_token_type_alone_cannot_escalate(api):
    session = signup(api, "student-token-1001").get_json()
    response = api.put("/auth/profile", headers=bearer(session),
                       json={"canvasTokenType": "instructor", "role": "instructor"})
    assert response.status_code == 200
    assert response.get_json()["user"]["role"] == "student"
    response = api.put("/auth/profile", headers=bearer(session),
                       json={"canvasApiToken": "student-token-1001",
                             "canvasTokenType": "instructor"})
    assert response.get_json()["user"]["role"] == "student"


def test_profile_token_change_demotes_and_promotes(api):
    session = signup(api, "teacher-token").get_json()
    demoted = api.put("/auth/profile", headers=bearer(session),
                      json={"canvasApiToken": "student-token-1002"}).get_json()["user"]
    assert demoted["role"] == "student" and demoted["canvas_student_id"] == "1002"
    promoted = api.put("/auth/profile", headers=bearer(session),
                       json={"canvasApiToken": "dual-role-token"}).get_json()["user"]
    assert promoted["role"] == "instructor" and promoted["has_student_access"] is True


def test_admin_keeps_admin_role_with_canvas_token(app, api, db):
    signup(api, email="ops@x.edu")
    db.AchieveUp_Users.update_one({}, {"$set": {"role": "admin"}})
    session = api.post("/auth/login", json={"email": "ops@x.edu", "password": PASSWORD}).get_json()
    user = api.put("/auth/profile", headers=bearer(session),
                   json={"canvasApiToken": "student-token-1001"}).get_json()["user"]
    assert user["role"] == "admin"
    user = api.put("/auth/profile", headers=bearer(session),
                   json={"canvasApiToken": ""}).get_json()["user"]
    assert user["role"] == "admin"


def test_profile_host_not_allowed_for_stored_base_url(api, db):
    session = signup(api).get_json()
    db.AchieveUp_Users.update_one({}, {"$set": {"canvas_base_url": "https://evil.example"}})
    response = api.put("/auth/profile", headers=bearer(session),
                       json={"canvasApiToken": "teacher-token"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "canvas_host_not_allowed"


def test_no_response_contained_a_secret():
    """Runs last in this module: every recorded body is free of tokens and hashes."""
    assert RESPONSES, "no responses recorded"
    secrets = ("teacher-token", "ta-token", "designer-token", "dual-role-token",
               "other-teacher-token", "student-token-", "password_hash", "canvas_token_enc",
               "$2b$", "bcrypt-sha256", PASSWORD, "ObjectId")
    for raw in RESPONSES:
        for secret in secrets:
            assert secret not in raw, (secret, raw[:200])
