"""Open Badges 3.0: each badge as an ``OpenBadgeCredential`` signed as a VC-JWT (EdDSA).

The credential is built from the badge document with openbadgeslib's data model (VC data model
2.0 and OB v3p0 contexts, the 1EdTech credential schema, native VC-JWT claims: the payload *is*
the credential, with ``iss``, ``jti`` and ``nbf``). It reuses what the Open Badges 2.0
documents say: the achievement is the BadgeClass (criteria naming the level, the skill, the
level's threshold and the evidence needed), the evidence narrative is the assertion's (the
student's score and number of graded questions), and the student is identified by the same
salted SHA-256 of their e-mail (the badge's own salt, see ``achieveup.badges.privacy``).

The JOSE header names the signing key by ``kid``: the URL of that key's JWK
(``…/keys/<thumbprint>``), also listed in the JWKS (``…/jwks.json``) that the issuer profile
references. Signing is deterministic (Ed25519, a fixed payload), so a credential is rebuilt
whenever it is asked for instead of being stored; after a key rotation new copies carry the new
``kid`` and old copies still verify against the retired key in the JWKS.
"""
from __future__ import annotations

import jwt
from openbadgeslib.ob3 import Achievement, Evidence, IdentityObject, Issuer, OpenBadgeCredential

from achieveup.badges import keys, privacy, public, service, status_list
from achieveup.mastery import store
from knowgap.core.clock import aware
from knowgap.core.errors import NotFound

MEDIA_TYPE = "application/vc+jwt"


# ------------------------------------------------------------------ keys


def key_url(config, thumb: str) -> str:
    return service.public_url(config, f"keys/{thumb}")


def jwk(config, thumb: str) -> dict:
    x, _ = keys.key_set(config).public[thumb]
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": key_url(config, thumb),
            "alg": keys.ALGORITHM, "use": "sig"}


def jwks(config) -> dict:
    """The current key first, then the retired ones (still valid for earlier credentials)."""
    return {"keys": [jwk(config, thumb) for thumb in keys.key_set(config).public]}


def published_jwk(config, thumb: str) -> dict:
    if thumb not in keys.key_set(config).public:
        raise NotFound("This issuer publishes no such key.", error="key_not_found")
    return jwk(config, thumb)


def sign(config, payload: dict) -> str:
    key_set = keys.key_set(config)
    return jwt.encode(payload, key_set.private_key, algorithm=keys.ALGORITHM,
                      headers={"kid": key_url(config, key_set.current), "typ": "JWT"})


# ------------------------------------------------------------------ credentials


def credential(db, config, doc: dict) -> dict:
    """The OpenBadgeCredential of the badge ``doc`` as JWT claims (assigns its status-list
    position on first use)."""
    status_list.ensure_position(db, doc)
    cls = service.class_document(db, config, doc)
    profile = service.issuer_profile(config)
    salt = privacy.recipient_salt(config, doc)
    identity = IdentityObject(
        identity_hash=service.hashed_identity(service.recipient_email(db, doc), salt),
        identity_type="emailAddress", hashed=True, salt=salt)
    return OpenBadgeCredential(
        id=service.credential_url(config, doc["public_id"]),
        issuer=Issuer(id=profile["id"], name=profile["name"], url=profile["url"],
                      email=profile["email"]),
        recipient_id=None,
        identifiers=[identity],
        achievement=Achievement(id=cls["id"], name=cls["name"], description=cls["description"],
                                criteria_narrative=(f"{doc['level'].capitalize()} level. "
                                                    + cls["criteria"]["narrative"]),
                                image_url=cls["image"], tags=cls["tags"],
                                achievement_type="Badge"),
        issuance_date=aware(doc["earned_at"]),
        evidence=[Evidence(name=service.EVIDENCE_NAME,
                           narrative=service.evidence_narrative(doc))],
        credential_status=[status_list.entry(config, doc)],
    ).to_jwt_payload()


def issue(db, config, doc: dict) -> str:
    """The signed VC-JWT of the badge ``doc``."""
    return sign(config, credential(db, config, doc))


def status_list_token(db, config, list_number: int, *, now=None) -> str:
    """The signed BitstringStatusListCredential of list ``list_number``."""
    now = now or store.utcnow()
    vc = status_list.list_credential(db, config, list_number, now=now)
    return sign(config, {**vc, "iss": vc["issuer"], "jti": vc["id"],
                         "nbf": int(now.timestamp())})


def shared_badge(db, public_id: str) -> dict:
    """A badge its student shared (404 otherwise, also when revoked; 410 once a shared one is
    revoked)."""
    return public.issuable(public.shared(db, public_id))


def own_badge(db, public_id: str, user: dict) -> dict:
    """One of the caller's own badges, shared or not (403 for anybody else's)."""
    return public.issuable(public.owned(db, public_id, user), "No such badge.")
