"""Open Badges 3.0 credentials: VC-JWTs checked with PyJWT + cryptography (not the project's
own code), the published keys and their rotation, the Bitstring Status List, the student's
download and ``POST /achieveup/badges/verify``."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import gzip
import hashlib
import http.server
import json
import threading

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from achieveup.badges.schemas import OB3CredentialSchema
from achieveup.mastery import store
from config import ConfigError, load_config, new_signing_key
from knowgap import create_app
from knowgap.core.clock import aware
from knowgap.core.extensions import limiter
from tests.badge_support import revoke_skill_of, share_a_badge
from tests.conftest import TEST_SIGNING_KEY, canvas_settings, make_config
from tests.test_mastery_sync import signup

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def local(app, url: str) -> str:
    """An absolute URL of the app as a path for the test client."""
    base = app.extensions["knowgap"].config.public_base_url
    assert url.startswith(base), url
    return url[len(base):]


def published_keys(client, app) -> jwt.PyJWKSet:
    """The issuer's keys, found the way a verifier finds them: issuer profile -> JWKS."""
    issuer = client.get("/achieveup/public/badges/issuer").get_json()
    return jwt.PyJWKSet.from_dict(client.get(local(app, issuer["jwks_uri"])).get_json())


def independent_decode(client, app, token: str) -> dict:
    """PyJWT with the key the token's kid names in the published JWKS; EdDSA only."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in published_keys(client, app).keys if k.key_id == kid)
    return jwt.decode(token, key.key, algorithms=["EdDSA"],
                      options={"require": ["iss", "jti", "nbf"]})


def sign(payload: dict, private_key, kid: str, alg: str = "EdDSA") -> str:
    return jwt.encode(payload, private_key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})


def our_signing_key():
    return Ed25519PrivateKey.from_private_bytes(unb64url(TEST_SIGNING_KEY))


def verify(client, **body):
    r = client.post("/achieveup/badges/verify", json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@pytest.fixture
def shared(client, app, canvas_world):
    ctx = share_a_badge(client, app, canvas_world)
    token = client.get(local(app, ctx["view"]["credential_url"]))
    assert token.status_code == 200, token.get_json()
    assert token.mimetype == "application/vc+jwt"
    return {**ctx, "token": token.get_data(as_text=True)}


# ------------------------------------------------------------------ the credential


def test_credential_verifies_with_an_independent_library(client, app, shared):
    claims = independent_decode(client, app, shared["token"])
    badge, db = shared["badge"], shared["db"]
    assert claims["@context"][:2] == [VC_V2, OB_V3]
    assert claims["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    issuer = client.get("/achieveup/public/badges/issuer").get_json()
    assert claims["iss"] == claims["issuer"]["id"] == issuer["id"]
    assert {k: claims["issuer"][k] for k in ("name", "url", "email")} == {
        k: issuer[k] for k in ("name", "url", "email")}
    assert claims["jti"] == claims["id"] == shared["view"]["credential_url"]
    assert claims["nbf"] == int(aware(badge["earned_at"]).timestamp())
    subject = claims["credentialSubject"]
    assert "id" not in subject                      # the student is known by hashed e-mail only
    # the badge's own salt (the same as its hosted assertion's), never the server's BADGE_SALT
    salt = client.get(local(app, shared["view"]["shareable_link"])).get_json()["recipient"][
        "salt"]
    assert len(salt) == 32 and "test-salt" not in json.dumps(claims)
    expected_hash = "sha256$" + hashlib.sha256(
        (shared["email"].lower() + salt).encode()).hexdigest()
    assert subject["identifier"] == [{"type": "IdentityObject", "hashed": True,
                                      "identityHash": expected_hash,
                                      "identityType": "emailAddress", "salt": salt}]
    assert shared["email"] not in json.dumps(claims)
    achievement = subject["achievement"]
    criteria = achievement["criteria"]["narrative"]
    # the achievement is the Open Badges 2.0 BadgeClass, with the level named up front
    badge_class = client.get(local(app, achievement["id"])).get_json()
    assert criteria == f"{badge['level'].capitalize()} level. " + \
        badge_class["criteria"]["narrative"]
    min_evidence = app.extensions["knowgap"].config.badge_min_evidence
    assert badge["skill"] in criteria and f"{min_evidence} questions of evidence" in criteria
    assert achievement["name"] == shared["view"]["badge_name"]
    assert badge["level"] in achievement["tag"] and achievement["image"]["type"] == "Image"
    narrative = claims["evidence"][0]["narrative"]     # earned under the default model
    assert narrative.startswith(f"Reached a {badge['percentage']}% mastery estimate (")
    assert f"on {badge['evidence_count']} graded questions" in narrative
    stored = db[store.BADGES].find_one({"_id": badge["_id"]})
    status = claims["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
    assert status["statusListIndex"] == str(stored["status_index"])
    assert status["statusListCredential"].endswith(f"/status/{stored['status_list']}")


def test_kid_dereferences_to_the_key_and_json_matches_the_jwt(client, app, shared):
    header = jwt.get_unverified_header(shared["token"])
    assert header["alg"] == "EdDSA" and header["typ"] == "JWT"
    key = client.get(local(app, header["kid"])).get_json()
    jwks = client.get("/achieveup/public/badges/jwks.json").get_json()
    assert jwks["keys"] == [key] and key["kid"] == header["kid"]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
    public = our_signing_key().public_key().public_bytes(serialization.Encoding.Raw,
                                                          serialization.PublicFormat.Raw)
    assert key["x"] == b64url(public)
    as_json = client.get(local(app, shared["view"]["credential_url"]) + "?format=json")
    assert as_json.get_json() == independent_decode(client, app, shared["token"])
    assert OB3CredentialSchema().validate(as_json.get_json()) == {}    # the documented schema
    # a fresh copy of the same credential is the same token (deterministic Ed25519)
    again = client.get(local(app, shared["view"]["credential_url"])).get_data(as_text=True)
    assert again == shared["token"]
    assert client.get("/achieveup/public/badges/keys/unknownkid").status_code == 404


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    else:
        yield path


def _tamper(token: str, path: tuple) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(unb64url(payload))
    parent = claims
    for step in path[:-1]:
        parent = parent[step]
    old = parent[path[-1]]
    parent[path[-1]] = (not old if isinstance(old, bool) else old + 1
                        if isinstance(old, (int, float)) else str(old) + "x")
    return ".".join([header, b64url(json.dumps(claims).encode()), signature])


def test_tampering_with_any_claim_fails(client, app, shared):
    claims = independent_decode(client, app, shared["token"])
    paths = list(_leaves(claims))
    assert len(paths) > 30
    key = next(k for k in published_keys(client, app).keys)
    for path in paths:
        forged = _tamper(shared["token"], path)
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(forged, key.key, algorithms=["EdDSA"])
        result = verify(client, credential=forged)
        assert result["valid"] is False, path
        if path != ("iss",):     # a changed issuer is refused before any signature check
            assert result["reasons"] == ["The signature does not match: the credential was "
                                         "changed after it was signed."], (path, result)
    header, payload, signature = shared["token"].split(".")
    flipped = bytearray(unb64url(signature))
    flipped[0] ^= 1
    assert verify(client, credential=".".join([header, payload, b64url(bytes(flipped))]))[
        "valid"] is False
    other_header = b64url(json.dumps({**jwt.get_unverified_header(shared["token"]),
                                      "typ": "vc+jwt"}).encode())
    assert verify(client, credential=".".join([other_header, payload, signature]))[
        "valid"] is False


# ------------------------------------------------------------------ verify endpoint


def test_verify_accepts_our_credential_and_assertion(client, app, shared):
    result = verify(client, credential=shared["token"])
    assert result["valid"] is True and result["reasons"] == []
    badge = result["badge"]
    assert badge["badge_id"] == shared["badge"]["public_id"] and badge["format"] == "ob3-vc-jwt"
    assert badge["skill_name"] == shared["badge"]["skill"] and badge["revoked"] is False
    hosted = verify(client, assertion_url=shared["view"]["shareable_link"])
    assert hosted["valid"] is True and hosted["badge"]["format"] == "ob2-hosted"


def test_verify_refuses_expired_foreign_and_unknown_key_credentials(client, app, shared):
    claims = independent_decode(client, app, shared["token"])
    kid = jwt.get_unverified_header(shared["token"])["kid"]
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)

    expired = {**claims, "exp": int(past.timestamp()),
               "validUntil": past.isoformat().replace("+00:00", "Z")}
    result = verify(client, credential=sign(expired, our_signing_key(), kid))
    assert result["valid"] is False and "expired" in result["reasons"][0]
    only_vc_dates = {**claims, "validUntil": past.isoformat().replace("+00:00", "Z")}
    result = verify(client, credential=sign(only_vc_dates, our_signing_key(), kid))
    assert result["valid"] is False and "expired" in result["reasons"][0]

    outsider = Ed25519PrivateKey.generate()
    foreign = copy.deepcopy(claims)
    foreign["iss"] = foreign["issuer"]["id"] = "https://badges.other.example/issuer"
    result = verify(client, credential=sign(foreign, outsider,
                                            "https://badges.other.example/keys/1"))
    assert result == {"valid": False, "badge": None, "reasons": [
        "The credential names 'https://badges.other.example/issuer' as its issuer, not this "
        f"issuer ({claims['iss']}); only its own issuer can verify it."]}

    prefix = kid.rsplit("/", 1)[0]
    result = verify(client, credential=sign(claims, outsider, f"{prefix}/someotherkey"))
    assert result["valid"] is False and "does not publish" in result["reasons"][0]
    result = verify(client, credential=sign(claims, outsider, kid))     # our kid, wrong key
    assert result["valid"] is False and "signature does not match" in result["reasons"][0]

    header = b64url(json.dumps({"alg": "none", "kid": kid}).encode())
    unsigned = f"{header}.{shared['token'].split('.')[1]}."
    result = verify(client, credential=unsigned)
    assert result["valid"] is False and "'none'" in result["reasons"][0]
    result = verify(client, credential=sign(claims, b"x" * 32, kid, alg="HS256"))
    assert result["valid"] is False and "'HS256'" in result["reasons"][0]
    assert verify(client, credential="not-a-jwt")["valid"] is False
    deep = b64url(b"[" * 6000 + b"]" * 6000)
    assert verify(client, credential=f"{header}.{deep}.")["reasons"][0].startswith(
        "This is not a VC-JWT")


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_verify_never_fetches_urls_of_other_hosts(client, app, shared):
    server = http.server.HTTPServer(("127.0.0.1", 0), _CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ours = shared["view"]["shareable_link"]
        badge_id = shared["badge"]["public_id"]
        host = f"127.0.0.1:{server.server_port}"
        other = f"http://{host}"
        for url in (f"{other}/achieveup/public/badges/assertions/{badge_id}",
                    ours.replace("://", f"://evil@{host}/", 1),
                    ours.replace("localhost:5001", f"localhost:5001@{host}"),
                    ours.replace("http://", "https://"),
                    ours.replace("localhost:5001", "localhost:5001.evil.example"),
                    ours + "?next=" + other, ours + "#x", "file:///etc/passwd",
                    ours.replace(badge_id, "../issuer"), ours.replace(badge_id, ""),
                    "http://[", "http://[zz]/x", "//localhost:5001/achieveup", " ",
                    "http://localhost:5001/achieveup/public/badges/issuer"):
            result = verify(client, assertion_url=url)
            assert result["valid"] is False and result["badge"] is None, url
        assert _CountingHandler.hits == 0
    finally:
        server.shutdown()
        server.server_close()


def test_verify_assertion_of_unshared_badge_is_refused(client, app, shared):
    r = client.put(f"/achieveup/badges/{shared['badge']['public_id']}/share", json={"public": False},
                   headers=shared["student"])
    assert r.status_code == 200
    result = verify(client, assertion_url=shared["view"]["shareable_link"])
    assert result == {"valid": False, "badge": None,
                      "reasons": ["No shared badge is hosted at this URL."]}


@pytest.mark.parametrize("body", [{}, {"credential": "a.b.c", "assertion_url": "http://x"},
                                  {"credential": {"$ne": None}}, {"assertion_url": 5},
                                  {"credential": "x" * 20001}, {"other": "x"}])
def test_verify_validates_its_body(client, body):
    r = client.post("/achieveup/badges/verify", json=body)
    assert r.status_code == 422
    assert r.get_json()["statusCode"] == 422 and r.get_json()["error"] == "validation_error"


def test_verify_is_rate_limited_from_configuration(sandbox, db):
    app = create_app(make_config(**canvas_settings(sandbox), badge_verify_rate_limit="2/minute"),
                     db=db)
    limiter.reset()
    client = app.test_client()
    statuses = [client.post("/achieveup/badges/verify", json={"credential": "a.b.c"}).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.post("/achieveup/badges/verify", json={"credential": "a.b.c"})
    assert limited.get_json()["error"] == "rate_limited" and int(limited.headers["Retry-After"])
    limiter.reset()


# ------------------------------------------------------------------ keys


def test_key_rotation_keeps_earlier_credentials_verifiable(client, app, shared, sandbox, db):
    old_token = shared["token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    old_x = client.get(local(app, old_kid)).get_json()["x"]
    rotated = create_app(make_config(**canvas_settings(sandbox),
                                     badge_signing_key=new_signing_key(),
                                     badge_retired_public_keys=(old_x,)), db=db)
    rotated_client = rotated.test_client()
    kids = [k["kid"] for k in
            rotated_client.get("/achieveup/public/badges/jwks.json").get_json()["keys"]]
    assert len(kids) == 2 and kids[1] == old_kid
    # the earlier credential: independent check against the new JWKS, and the verify endpoint
    assert independent_decode(rotated_client, rotated, old_token)["jti"] == \
        shared["view"]["credential_url"]
    assert verify(rotated_client, credential=old_token)["valid"] is True
    # new copies are signed with the new key
    new_token = rotated_client.get(local(rotated, shared["view"]["credential_url"])).get_data(
        as_text=True)
    assert jwt.get_unverified_header(new_token)["kid"] == kids[0] != old_kid
    assert independent_decode(rotated_client, rotated, new_token) == \
        independent_decode(client, app, old_token)
    assert verify(rotated_client, credential=new_token)["valid"] is True
    # once the old key is no longer published, its credentials are refused
    dropped = create_app(make_config(**canvas_settings(sandbox),
                                     badge_signing_key=rotated.extensions["knowgap"].config
                                     .badge_signing_key), db=db)
    result = verify(dropped.test_client(), credential=old_token)
    assert result["valid"] is False and "does not publish" in result["reasons"][0]


def test_pem_signing_key_and_rfc8037_thumbprint(sandbox, db):
    from achieveup.badges.keys import thumbprint

    # RFC 8037 appendix A.3
    assert thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo") == \
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    app = create_app(make_config(**canvas_settings(sandbox), badge_signing_key=pem), db=db)
    jwk = app.test_client().get("/achieveup/public/badges/jwks.json").get_json()["keys"][0]
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    assert jwk["x"] == b64url(raw)
    assert jwk["kid"].endswith("/keys/" + thumbprint(jwk["x"]))


def test_signing_key_is_required_in_production_and_checked():
    with pytest.raises(ConfigError) as excinfo:
        load_config(environ={"APP_ENV": "production"})
    assert "BADGE_SIGNING_KEY" in str(excinfo.value)
    assert "BADGE_ISSUER_EMAIL" in str(excinfo.value)
    with pytest.raises(ConfigError, match="BADGE_SIGNING_KEY must be an Ed25519"):
        make_config(badge_signing_key="c2hvcnQ")
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with pytest.raises(ConfigError, match="BADGE_SIGNING_KEY must be an Ed25519"):
        make_config(badge_signing_key=rsa_pem)
    with pytest.raises(ConfigError, match="BADGE_RETIRED_PUBLIC_KEYS"):
        make_config(badge_retired_public_keys=("not-a-key",))


def test_signing_key_is_generated_once_in_development(tmp_path, monkeypatch):
    import config as config_module

    monkeypatch.setattr(config_module, "DEV_SECRETS_FILE", tmp_path / "dev-secrets.json")
    first = load_config(environ={})
    second = load_config(environ={})
    assert "badge_signing_key" in first.generated_secrets
    assert first.badge_signing_key == second.badge_signing_key
    assert json.loads((tmp_path / "dev-secrets.json").read_text())["badge_signing_key"] == \
        first.badge_signing_key
    Ed25519PrivateKey.from_private_bytes(unb64url(first.badge_signing_key))


# ------------------------------------------------------------------ revocation


def _status_bit(client, app, status: dict) -> tuple:
    response = client.get(local(app, status["statusListCredential"]))
    assert response.status_code == 200 and response.mimetype == "application/vc+jwt"
    listing = independent_decode(client, app, response.get_data(as_text=True))
    assert listing["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listing["iss"] == listing["issuer"] and listing["jti"] == listing["id"]
    subject = listing["credentialSubject"]
    assert subject["statusPurpose"] == "revocation"
    encoded = subject["encodedList"]
    assert encoded.startswith("u")                      # multibase base64url
    bits = gzip.decompress(unb64url(encoded[1:]))
    assert len(bits) == 131072 // 8
    index = int(status["statusListIndex"])
    return bool(bits[index // 8] & (0x80 >> (index % 8))), listing, response


def test_revoked_badge_is_in_the_next_status_list(client, app, shared):
    from openbadgeslib.ob3 import OB3VerificationError, OpenBadgeCredential
    from openbadgeslib.ob3.status import check_credential_status

    claims = independent_decode(client, app, shared["token"])
    status = claims["credentialStatus"]
    revoked, listing, response = _status_bit(client, app, status)
    assert revoked is False
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert listing["credentialSubject"]["ttl"] == 300 * 1000

    def fetch(url):
        return client.get(local(app, url)).data

    credential = OpenBadgeCredential.from_jwt_payload(claims)
    pem = published_keys(client, app).keys[0].key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    check_credential_status(credential, download=fetch, verify_list=True, list_pubkey_pem=pem)

    revoke_skill_of(client, shared)
    revoked, listing, _ = _status_bit(client, app, status)
    assert revoked is True                      # the first list served after the revocation
    with pytest.raises(OB3VerificationError, match="revocation"):
        check_credential_status(credential, download=fetch, verify_list=True,
                                list_pubkey_pem=pem)
    result = verify(client, credential=shared["token"])
    assert result["valid"] is False and result["reasons"][0].startswith("The badge was revoked")
    assert result["badge"]["revoked"] is True
    hosted = verify(client, assertion_url=shared["view"]["shareable_link"])
    assert hosted["valid"] is False and hosted["badge"]["revoked"] is True
    gone = client.get(local(app, shared["view"]["credential_url"]))
    assert gone.status_code == 410 and gone.get_json()["error"] == "badge_revoked"
    assert client.get(f"/achieveup/badges/{shared['badge']['public_id']}/credential",
                      headers=shared["student"]).status_code == 410
    assert client.get("/achieveup/public/badges/status/1").status_code == 404
    assert client.get("/achieveup/public/badges/status/x").status_code == 422


def test_each_credential_gets_its_own_status_index(client, app, shared):
    db = shared["db"]
    others = list(db[store.BADGES].find({"student_id": shared["badge"]["student_id"],
                                         "_id": {"$ne": shared["badge"]["_id"]}}).limit(3))
    assert others, "the student should have more than one badge"
    for doc in others:
        r = client.get(f"/achieveup/badges/{doc['public_id']}/credential",
                       headers=shared["student"])
        assert r.status_code == 200
    indexes = [d.get("status_index") for d in db[store.BADGES].find(
        {"status_index": {"$ne": None}})]
    assert len(indexes) == len(others) + 1 == len(set(indexes))
    # issuing again keeps the stored position
    client.get(f"/achieveup/badges/{others[0]['public_id']}/credential",
               headers=shared["student"])
    assert sorted(d["status_index"] for d in db[store.BADGES].find(
        {"status_index": {"$ne": None}})) == sorted(indexes)


# ------------------------------------------------------------------ download


def test_student_downloads_own_credential_only(client, app, shared, canvas_world):
    db, student = shared["db"], shared["student"]
    private = db[store.BADGES].find_one({"student_id": shared["badge"]["student_id"],
                                         "public": False})
    url = f"/achieveup/badges/{private['public_id']}/credential"
    r = client.get(url, headers=student)
    assert r.status_code == 200 and r.mimetype == "application/vc+jwt"
    assert r.headers["Content-Disposition"] == (
        f'attachment; filename="badge-{private["public_id"]}.jwt"')
    claims = independent_decode(client, app, r.get_data(as_text=True))
    assert claims["jti"].endswith(f"/credentials/{private['public_id']}")
    as_json = client.get(url + "?format=json", headers=student)
    assert as_json.headers["Content-Disposition"].endswith('.json"')
    assert as_json.get_json() == claims
    # not shared: not public
    assert client.get(local(app, claims["jti"])).status_code == 404
    other = signup(client, f"student-token-{canvas_world.student_ids(101)[-1]}")
    assert client.get(url, headers=other).status_code == 403
    assert client.get(url, headers=shared["teacher"]).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(url + "?format=pdf", headers=student).status_code == 422
    assert client.get("/achieveup/badges/nosuchbadge/credential",
                      headers=student).status_code == 404


def test_public_listing_links_to_the_credential(client, app, shared):
    sid = shared["badge"]["student_id"]
    listing = client.get(f"/achieveup/public/badges/student/{sid}/earned").get_json()
    assert [b["credential_url"] for b in listing["badges"]] == [shared["view"]["credential_url"]]
    token = client.get(local(app, listing["badges"][0]["credential_url"])).get_data(as_text=True)
    assert independent_decode(client, app, token)["credentialSubject"]["achievement"][
        "name"] == listing["badges"][0]["badge_name"]
