"""Accounts without Canvas: sign-up, login, JWT checks, refresh rotation, logout, password,
rate limits, hostile input. Canvas-backed account tests live in test_auth_canvas.py."""
from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from achieveup.auth import passwords
from knowgap.core.extensions import limiter
from tests.conftest import make_config

PASSWORD = "Correct-Horse-9"


def envelope(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert {"error", "message", "statusCode"} <= set(body)
    assert body["statusCode"] == status
    assert body["message"].endswith(".")
    return body


def signup(client, email="ada@example.edu", password=PASSWORD, **extra):
    return client.post("/auth/signup", json={"name": "Ada", "email": email,
                                             "password": password, **extra})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def session(client):
    response = signup(client)
    assert response.status_code == 201
    return response.get_json()


def assert_no_secrets(response, *secrets):
    raw = response.get_data(as_text=True)
    for secret in ("password_hash", "bcrypt", "$2b$", "canvas_token_enc", "ObjectId", *secrets):
        assert secret not in raw, secret


# ---------------------------------------------------------------- sign-up and login


def test_signup_returns_session_and_contract_user(client, db):
    response = signup(client, email="Ada@Example.EDU")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) >= {"token", "user", "refresh_token", "expires_at"}
    user = body["user"]
    assert set(user) == {"id", "name", "email", "role", "hasCanvasToken", "canvasTokenType",
                         "has_student_access"}
    assert user["role"] == "student" and user["hasCanvasToken"] is False
    assert isinstance(user["id"], str) and len(user["id"]) == 24
    assert user["email"] == "Ada@Example.EDU"
    stored = db.AchieveUp_Users.find_one({"email_lower": "ada@example.edu"})
    assert stored["password_hash"].startswith(passwords.SCHEME)
    assert_no_secrets(response, PASSWORD, stored["password_hash"])


def test_signup_duplicate_email_is_409_case_insensitive(client):
    assert signup(client).status_code == 201
    body = envelope(signup(client, email="ADA@example.edu"), 409)
    assert body["error"] == "email_taken"


@pytest.mark.parametrize("password,missing", [
    ("short1A", "at least 8"), ("alllowercase1", "uppercase"), ("ALLUPPERCASE1", "lowercase"),
    ("NoDigitsHere", "digit"), ("A1" + "a" * 1023, "at most 1024"),
])
def test_password_policy(client, password, missing):
    body = envelope(signup(client, password=password), 422)
    assert "uppercase letter, a lowercase letter and a digit" in body["message"]
    assert any(missing in reason for reason in body["details"]["password"])


@pytest.mark.parametrize("payload", [
    {"name": "A", "email": {"$ne": None}, "password": PASSWORD},
    {"name": "A", "email": "$where@x.edu", "password": PASSWORD},
    {"name": {"$gt": ""}, "email": "a@x.edu", "password": PASSWORD},
    {"name": "A", "email": "a@x.edu", "password": {"$ne": None}},
    {"name": "A", "email": "not-an-email", "password": PASSWORD},
    {"name": "A", "email": "a@x.edu", "password": PASSWORD, "isAdmin": True},
    {"name": "A", "email": "a@x.edu"},
    ["not", "an", "object"],
])
def test_signup_rejects_hostile_or_bad_input(client, payload):
    response = client.post("/auth/signup", json=payload)
    assert response.status_code in (400, 422)
    envelope(response, response.status_code)


@pytest.mark.parametrize("email", [{"$ne": None}, {"$gt": ""}, ["a@x.edu"], 5, None])
def test_login_operator_shaped_email_rejected(client, session, email):
    response = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code in (400, 422)


def test_login_operator_shaped_password_rejected(client, session):
    response = client.post("/auth/login", json={"email": "ada@example.edu",
                                                "password": {"$ne": None}})
    assert response.status_code == 422


def test_client_sent_role_is_ignored(client, db):
    for role in ("instructor", "admin"):
        response = signup(client, email=f"{role}@x.edu", role=role)
        assert response.status_code == 201
        assert response.get_json()["user"]["role"] == "student"
    assert db.AchieveUp_Users.count_documents({"role": {"$ne": "student"}}) == 0


def test_canvas_token_type_instructor_without_token_is_student(client):
    response = signup(client, canvasTokenType="instructor")
    assert response.get_json()["user"]["role"] == "student"


def test_login_success_and_same_message_for_unknown_and_wrong(client, session):
    ok = client.post("/auth/login", json={"email": " ADA@example.edu ", "password": PASSWORD})
    assert ok.status_code == 200
    assert set(ok.get_json()) >= {"token", "user", "refresh_token", "expires_at"}
    assert_no_secrets(ok, PASSWORD)
    wrong = envelope(client.post("/auth/login", json={"email": "ada@example.edu",
                                                      "password": "Wrong-pass-1"}), 401)
    unknown = envelope(client.post("/auth/login", json={"email": "nobody@example.edu",
                                                        "password": PASSWORD}), 401)
    assert wrong == unknown


def test_unknown_email_still_hashes(client, monkeypatch):
    calls = []
    real = passwords.verify
    monkeypatch.setattr(passwords, "verify", lambda p, h: calls.append(h) or real(p, h))
    client.post("/auth/login", json={"email": "nobody@example.edu", "password": PASSWORD})
    assert calls and calls[0].startswith(passwords.SCHEME)


# ---------------------------------------------------------------- passwords


def test_long_password_uses_every_byte():
    long_pw = "Aa1" + "x" * 100 + "tail"
    prefix = long_pw.encode()[:72].decode()
    stored = passwords.hash_password(long_pw, 4)
    assert passwords.verify(long_pw, stored)
    assert not passwords.verify(prefix, stored)
    assert not passwords.verify(long_pw[:-1], stored)


def test_long_password_signup_and_login(client):
    long_pw = "Aa1" + "é" * 60 + "end"          # > 72 bytes in UTF-8
    assert len(long_pw.encode()) > 72
    assert signup(client, password=long_pw).status_code == 201
    prefix = long_pw.encode()[:72].decode(errors="ignore")
    assert client.post("/auth/login", json={"email": "ada@example.edu",
                                            "password": prefix}).status_code == 401
    assert client.post("/auth/login", json={"email": "ada@example.edu",
                                            "password": long_pw}).status_code == 200


def test_legacy_bcrypt_hash_is_accepted_and_upgraded(client, db, session):
    import bcrypt
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    db.AchieveUp_Users.update_one({}, {"$set": {"password_hash": legacy}})
    assert client.post("/auth/login", json={"email": "ada@example.edu",
                                            "password": PASSWORD}).status_code == 200
    assert db.AchieveUp_Users.find_one()["password_hash"].startswith(passwords.SCHEME)


def test_needs_rehash_on_cost_change():
    stored = passwords.hash_password(PASSWORD, 4)
    assert not passwords.needs_rehash(stored, 4)
    assert passwords.needs_rehash(stored, 5)
    assert not passwords.verify(PASSWORD, "garbage")
    assert not passwords.verify(PASSWORD, None)


# ---------------------------------------------------------------- access tokens


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_me_verify_token_status(client, session):
    headers = bearer(session["token"])
    for path in ("/auth/me", "/auth/verify"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200
        assert response.get_json() == {"user": session["user"]}
    status = client.get("/auth/token-status", headers=headers).get_json()
    assert status["valid"] is True and status["user"] == session["user"]
    assert status["expires_at"] == session["expires_at"] and status["token_type"] == "Bearer"


def test_access_token_claims(session, config):
    claims = jwt.decode(session["token"], config.jwt_secret_key, algorithms=["HS256"])
    assert {"exp", "iat", "sub", "jti", "type"} <= set(claims)
    assert claims["type"] == "access" and claims["sub"] == session["user"]["id"]
    assert claims["exp"] - claims["iat"] == pytest.approx(config.jwt_access_minutes * 60, abs=1)
    assert jwt.get_unverified_header(session["token"])["alg"] == "HS256"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Token abc"])
def test_missing_or_malformed_authorization(client, header):
    headers = {} if header is None else {"Authorization": header}
    envelope(client.get("/auth/me", headers=headers), 401)


def test_tampered_token_rejected(client, session):
    head, payload, sig = session["token"].split(".")
    claims = claims_of(session["token"])
    forged = f"{head}.{b64({**claims, 'sub': '0' * 24})}.{sig}"
    envelope(client.get("/auth/me", headers=bearer(forged)), 401)
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    envelope(client.get("/auth/me", headers=bearer(f"{head}.{payload}.{flipped}")), 401)
    envelope(client.get("/auth/me", headers=bearer("not.a.jwt")), 401)


def test_alg_none_rejected(client, session):
    claims = claims_of(session["token"])
    for alg in ("none", "None", "NONE"):
        token = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."
        envelope(client.get("/auth/me", headers=bearer(token)), 401)


def test_wrong_key_and_other_algorithms_rejected(client, session, config):
    claims = claims_of(session["token"])
    other = jwt.encode(claims, "x" * 64, algorithm="HS256")
    envelope(client.get("/auth/me", headers=bearer(other)), 401)
    hs512 = jwt.encode(claims, config.jwt_secret_key, algorithm="HS512")
    envelope(client.get("/auth/me", headers=bearer(hs512)), 401)


def test_hs_rs_confusion_rejected(client, session, config):
    """An RS256-labelled token, and one HMAC-signed with a 'public key', both fail."""
    import hashlib
    import hmac
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    claims = claims_of(session["token"])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rs = jwt.encode(claims, key, algorithm="RS256")
    envelope(client.get("/auth/me", headers=bearer(rs)), 401)
    # HS256 signed with a PEM public key, labelled RS256 (classic confusion attack).
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(claims)}"
    sig = base64.urlsafe_b64encode(hmac.new(pem, signing_input.encode(),
                                            hashlib.sha256).digest()).decode().rstrip("=")
    envelope(client.get("/auth/me", headers=bearer(f"{signing_input}.{sig}")), 401)
    # Same trick with the server's own secret but an RS256 header.
    sig2 = base64.urlsafe_b64encode(hmac.new(config.jwt_secret_key.encode(),
                                             signing_input.encode(),
                                             hashlib.sha256).digest()).decode().rstrip("=")
    envelope(client.get("/auth/me", headers=bearer(f"{signing_input}.{sig2}")), 401)


def test_expired_token_rejected(client, session, config):
    claims = claims_of(session["token"])
    past = time.time() - 3600
    expired = jwt.encode({**claims, "iat": past - 60, "exp": int(past)},
                         config.jwt_secret_key, algorithm="HS256")
    body = envelope(client.get("/auth/me", headers=bearer(expired)), 401)
    assert body["error"] == "token_expired"


@pytest.mark.parametrize("drop", ["exp", "iat", "sub", "jti"])
def test_required_claims(client, session, config, drop):
    claims = claims_of(session["token"])
    claims.pop(drop)
    token = jwt.encode(claims, config.jwt_secret_key, algorithm="HS256")
    envelope(client.get("/auth/me", headers=bearer(token)), 401)


def test_non_access_type_rejected(client, session, config):
    claims = {**claims_of(session["token"]), "type": "refresh"}
    token = jwt.encode(claims, config.jwt_secret_key, algorithm="HS256")
    envelope(client.get("/auth/me", headers=bearer(token)), 401)


def test_token_of_deleted_user_rejected(client, db, session):
    db.AchieveUp_Users.delete_many({})
    envelope(client.get("/auth/me", headers=bearer(session["token"])), 401)


# ---------------------------------------------------------------- refresh and logout


def test_refresh_rotates(client, session):
    first = client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert first.status_code == 200
    body = first.get_json()
    assert body["refresh_token"] != session["refresh_token"]
    assert body["token"] != session["token"]
    assert client.get("/auth/me", headers=bearer(body["token"])).status_code == 200
    second = client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert second.status_code == 200


def test_refresh_tokens_stored_hashed(client, db, session):
    docs = list(db.AchieveUp_Refresh_Tokens.find())
    assert len(docs) == 1
    raw = json.dumps(docs, default=str)
    assert session["refresh_token"] not in raw
    assert docs[0]["family_id"]


def test_refresh_reuse_revokes_family(client, session):
    rotated = client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    newest = rotated.get_json()["refresh_token"]
    body = envelope(client.post("/auth/refresh",
                                json={"refresh_token": session["refresh_token"]}), 401)
    assert body["error"] == "refresh_token_reused"
    # the legitimate newest token of the family is dead too
    envelope(client.post("/auth/refresh", json={"refresh_token": newest}), 401)


def test_refresh_reuse_ends_the_sessions_access_tokens_at_once(client, session):
    """Issue 17 item 8: after a reused refresh token is detected, the session's access tokens
    (the first and the rotated one) stop working on their next request, not at expiry."""
    rotated = client.post("/auth/refresh",
                          json={"refresh_token": session["refresh_token"]}).get_json()
    for token in (session["token"], rotated["token"]):
        assert client.get("/auth/me", headers=bearer(token)).status_code == 200
    envelope(client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]}),
             401)
    for token in (session["token"], rotated["token"]):
        body = envelope(client.get("/auth/me", headers=bearer(token)), 401)
        assert body["error"] == "refresh_token_reused"
        assert body["message"] == ("This session was ended because its refresh token was "
                                   "used twice. Please sign in again.")


def test_refresh_reuse_leaves_other_sessions_alone(client, session):
    other = client.post("/auth/login", json={"email": "ada@example.edu",
                                             "password": PASSWORD}).get_json()
    client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert client.post("/auth/refresh",
                       json={"refresh_token": other["refresh_token"]}).status_code == 200


@pytest.mark.parametrize("payload", [{"refresh_token": "nope"}, {"refresh_token": ""}, {},
                                     {"refresh_token": {"$ne": None}}])
def test_refresh_bad_input(client, session, payload):
    response = client.post("/auth/refresh", json=payload)
    assert response.status_code in (401, 422)


def test_expired_refresh_token(client, db, session):
    db.AchieveUp_Refresh_Tokens.update_many({}, {"$set": {
        "expires_at": datetime.now(timezone.utc) - timedelta(seconds=1)}})
    body = envelope(client.post("/auth/refresh",
                                json={"refresh_token": session["refresh_token"]}), 401)
    # (the in-process engine's TTL index may already have deleted it: unknown is fine too)
    assert body["error"] in ("refresh_token_expired", "refresh_token_invalid")


def test_logout_revokes_access_and_family(client, session):
    response = client.post("/auth/logout", headers=bearer(session["token"]),
                           json={"refresh_token": session["refresh_token"]})
    assert response.status_code == 200
    assert envelope(client.get("/auth/me", headers=bearer(session["token"])),
                    401)["error"] == "token_revoked"
    envelope(client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]}),
             401)


def test_logout_with_access_token_only_ends_its_family(client, session):
    rotated = client.post("/auth/refresh",
                          json={"refresh_token": session["refresh_token"]}).get_json()
    client.post("/auth/logout", headers=bearer(session["token"]))
    envelope(client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}),
             401)
    # every access token of the session ends, not only the one that signed out
    assert envelope(client.get("/auth/me", headers=bearer(rotated["token"])),
                    401)["error"] == "token_revoked"


def test_logout_with_refresh_token_only(client, session):
    assert client.post("/auth/logout",
                       json={"refresh_token": session["refresh_token"]}).status_code == 200
    envelope(client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]}),
             401)


def test_logout_without_anything_is_harmless(client):
    assert client.post("/auth/logout").status_code == 200
    assert client.post("/auth/logout", json={"refresh_token": "unknown"}).status_code == 200


# ---------------------------------------------------------------- profile and password


def test_profile_updates_name_and_email(client, session):
    response = client.put("/auth/profile", headers=bearer(session["token"]),
                          json={"name": "Ada L.", "email": "ada.l@example.edu"})
    assert response.status_code == 200
    user = response.get_json()["user"]
    assert user["name"] == "Ada L." and user["email"] == "ada.l@example.edu"
    assert client.post("/auth/login", json={"email": "ADA.L@example.edu",
                                            "password": PASSWORD}).status_code == 200


def test_profile_email_conflict(client, session):
    signup(client, email="grace@example.edu")
    body = envelope(client.put("/auth/profile", headers=bearer(session["token"]),
                               json={"email": "Grace@example.edu"}), 409)
    assert body["error"] == "email_taken"


def test_profile_cannot_set_role(client, session, db):
    response = client.put("/auth/profile", headers=bearer(session["token"]),
                          json={"role": "admin", "name": "X"})
    assert response.status_code == 200
    assert response.get_json()["user"]["role"] == "student"
    assert db.AchieveUp_Users.find_one()["role"] == "student"
    for payload in ({"hasCanvasToken": True}, {"canvasTokenType": "teacher"},
                    {"name": {"$set": {"role": "admin"}}}, {"email": {"$ne": None}}):
        response = client.put("/auth/profile", headers=bearer(session["token"]), json=payload)
        assert response.status_code == 422, payload


def test_profile_requires_login(client):
    envelope(client.put("/auth/profile", json={"name": "X"}), 401)


def test_password_change_keeps_this_session_and_ends_the_others(client, session):
    """API_CONTRACT: ``PUT /auth/password`` -> ``{message}``; the calling session stays valid
    (the web app keeps its token), every other session ends at once."""
    headers = bearer(session["token"])
    other = client.post("/auth/login", json={"email": "ada@example.edu",
                                             "password": PASSWORD}).get_json()
    response = client.put("/auth/password", headers=headers,
                          json={"currentPassword": PASSWORD, "newPassword": "New-Passw0rd"})
    assert response.status_code == 200
    assert response.get_json() == {
        "message": "Your password was changed. Other sessions have been signed out."}
    assert_no_secrets(response, "New-Passw0rd", PASSWORD)
    # the session that made the change keeps working, and keeps refreshing
    assert client.get("/auth/me", headers=headers).status_code == 200
    rotated = client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert rotated.status_code == 200
    assert client.get("/auth/me", headers=bearer(rotated.get_json()["token"])).status_code == 200
    # the other session's access token ends now (not at expiry), and its refresh token too
    body = envelope(client.get("/auth/me", headers=bearer(other["token"])), 401)
    assert body["error"] == "token_revoked" and "password was changed" in body["message"]
    body = envelope(client.post("/auth/refresh",
                                json={"refresh_token": other["refresh_token"]}), 401)
    assert "password was changed" in body["message"]
    # the new password logs in, the old does not
    assert client.post("/auth/login", json={"email": "ada@example.edu",
                                            "password": "New-Passw0rd"}).status_code == 200
    envelope(client.post("/auth/login", json={"email": "ada@example.edu",
                                              "password": PASSWORD}), 401)


def test_password_change_ends_tokens_without_a_session(client, session, config):
    """A token with no ``fid`` (none is issued, but one could exist) cannot be scoped to a
    session: it ends with every password change, through ``tokens_valid_after``."""
    claims = claims_of(session["token"])
    claims.pop("fid")
    loose = jwt.encode(claims, config.jwt_secret_key, algorithm="HS256")
    assert client.get("/auth/me", headers=bearer(loose)).status_code == 200
    assert client.put("/auth/password", headers=bearer(session["token"]), json={
        "currentPassword": PASSWORD, "newPassword": "New-Passw0rd"}).status_code == 200
    envelope(client.get("/auth/me", headers=bearer(loose)), 401)
    assert client.get("/auth/me", headers=bearer(session["token"])).status_code == 200


def test_password_change_failures(client, session):
    headers = bearer(session["token"])
    body = envelope(client.put("/auth/password", headers=headers,
                               json={"currentPassword": "Wrong-pass-1",
                                     "newPassword": "New-Passw0rd"}), 400)
    assert body["error"] == "invalid_current_password"
    body = envelope(client.put("/auth/password", headers=headers,
                               json={"currentPassword": PASSWORD, "newPassword": "weak"}), 422)
    assert "newPassword" in body["details"]
    envelope(client.put("/auth/password", headers=headers,
                        json={"currentPassword": PASSWORD, "newPassword": PASSWORD}), 422)
    envelope(client.put("/auth/password",
                        json={"currentPassword": PASSWORD, "newPassword": "New-Passw0rd"}), 401)
    # nothing changed: the session still works
    assert client.get("/auth/me", headers=headers).status_code == 200


# ---------------------------------------------------------------- rate limits


@pytest.fixture
def limited_client(db):
    from knowgap import create_app

    app = create_app(make_config(auth_rate_limit="3/minute"), db=db)
    app.config["TESTING"] = True
    limiter.reset()
    yield app.test_client()
    limiter.reset()


def test_login_rate_limited_per_ip(limited_client):
    for i in range(3):
        response = limited_client.post("/auth/login", json={"email": f"u{i}@x.edu",
                                                            "password": PASSWORD})
        assert response.status_code == 401
    response = limited_client.post("/auth/login", json={"email": "u9@x.edu",
                                                        "password": PASSWORD})
    body = envelope(response, 429)
    assert body["error"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_login_rate_limited_per_email_across_ips(limited_client):
    for i in range(3):
        response = limited_client.post("/auth/login", json={"email": "victim@x.edu",
                                                            "password": PASSWORD},
                                       environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
        assert response.status_code == 401
    response = limited_client.post("/auth/login", json={"email": "VICTIM@x.edu",
                                                        "password": PASSWORD},
                                   environ_base={"REMOTE_ADDR": "10.0.0.99"})
    envelope(response, 429)
    assert "Retry-After" in response.headers


def test_profile_email_taken_answers_get_the_signup_limit(limited_client):
    """Issue 17 item 8: ``PUT /auth/profile`` answering ``email_taken`` reveals a registered
    address like sign-up does, so those answers count against the sign-up limit; other profile
    changes do not."""
    token = signup(limited_client, email="probe@x.edu").get_json()["token"]
    taken = signup(limited_client, email="taken@x.edu")
    assert taken.status_code == 201
    headers = bearer(token)
    for _ in range(5):       # answers that reveal nothing are not counted
        assert limited_client.put("/auth/profile", headers=headers,
                                  json={"name": "Probe"}).status_code == 200
    for i in range(3):
        envelope(limited_client.put("/auth/profile", headers=headers,
                                    json={"email": "taken@x.edu"},
                                    environ_base={"REMOTE_ADDR": f"10.1.0.{i}"}), 409)
    # per e-mail, whichever address the probe comes from
    response = limited_client.put("/auth/profile", headers=headers, json={"email": "TAKEN@x.edu"},
                                  environ_base={"REMOTE_ADDR": "10.1.0.99"})
    assert envelope(response, 429)["error"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_profile_email_taken_limited_per_ip(limited_client):
    token = signup(limited_client, email="probe@x.edu").get_json()["token"]
    for i in range(3):
        limited_client.post("/auth/signup", json={"name": "T", "email": f"t{i}@x.edu",
                                                  "password": PASSWORD},
                            environ_base={"REMOTE_ADDR": "10.2.0.1"})
    headers = bearer(token)
    for i in range(3):
        envelope(limited_client.put("/auth/profile", headers=headers,
                                    json={"email": f"t{i}@x.edu"}), 409)
    envelope(limited_client.put("/auth/profile", headers=headers, json={"name": "X"}), 429)


def test_signup_rate_limited(limited_client):
    for i in range(3):
        signup(limited_client, email=f"s{i}@x.edu")
    response = signup(limited_client, email="s9@x.edu")
    envelope(response, 429)
    assert "Retry-After" in response.headers


# ---------------------------------------------------------------- admin CLI


def test_create_admin_cli(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "--email", "ops@x.edu", "--name", "Ops"],
                           input="Admin-Passw0rd\nAdmin-Passw0rd\n")
    assert result.exit_code == 0, result.output
    assert "Admin-Passw0rd" not in result.output
    assert db.AchieveUp_Users.find_one({"email_lower": "ops@x.edu"})["role"] == "admin"
    client = app.test_client()
    login = client.post("/auth/login", json={"email": "ops@x.edu", "password": "Admin-Passw0rd"})
    assert login.status_code == 200 and login.get_json()["user"]["role"] == "admin"
    # duplicate and weak password are refused with a message
    again = runner.invoke(args=["create-admin", "--email", "OPS@x.edu", "--password",
                                "Admin-Passw0rd"])
    assert again.exit_code != 0 and "already exists" in again.output
    weak = runner.invoke(args=["create-admin", "--email", "w@x.edu", "--password", "weak"])
    assert weak.exit_code != 0 and "Password must be" in weak.output


def test_create_admin_promote(app, client, db):
    signup(client, email="lead@x.edu")
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", "lead@x.edu",
                                                "--promote"])
    assert result.exit_code == 0, result.output
    assert db.AchieveUp_Users.find_one({"email_lower": "lead@x.edu"})["role"] == "admin"
    # the password did not change
    assert client.post("/auth/login", json={"email": "lead@x.edu",
                                            "password": PASSWORD}).status_code == 200
