"""``POST /achieveup/badges/verify``: is this badge one of ours, intact and still valid?

Two inputs:

* an Open Badges 3.0 VC-JWT: the issuer must be this issuer, the ``kid`` one of its published
  keys (current or retired), then openbadgeslib's verifier checks the EdDSA signature (the
  algorithm is pinned to the key, never taken from the header), the registered claims
  (``iss``/``jti``/``nbf`` bound to the credential), the contexts and types, and the validity
  window (``exp``/``validUntil``); last, the badge must still exist here and not be revoked;
* an Open Badges 2.0 hosted assertion URL: only URLs of this issuer's assertion route are
  accepted, and they are resolved against the database, never fetched, so the endpoint cannot be
  used to make this server send requests anywhere.

Every refusal is a sentence in ``reasons``; ``badge`` describes the badge whenever the input
could be attributed to one of ours (also when revoked, so the caller sees what was revoked).
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from openbadgeslib.ob3 import OB3VerificationError, OB3Verifier

from achieveup.badges import keys, ob3, service
from achieveup.mastery import store
from knowgap.core.schemas import ID_PATTERN


def _result(config, reasons: list[str], doc: dict | None = None, fmt: str = "") -> dict:
    badge = None
    if doc is not None:
        view = service.earned_view(config, doc)
        badge = {k: view[k] for k in ("badge_id", "badge_name", "skill_name", "badge_level",
                                      "course_id", "course_name", "earned_at")}
        badge.update(format=fmt, issuer=service.issuer_profile(config)["name"],
                     revoked=bool(doc.get("revoked")))
    return {"valid": not reasons, "reasons": reasons, "badge": badge}


def _badge_of(db, url: str, prefix: str) -> dict | None:
    badge_id = url[len(prefix):] if url.startswith(prefix) else ""
    if not ID_PATTERN.match(badge_id):
        return None
    return db[store.BADGES].find_one({"_id": badge_id})


def _state_reasons(doc: dict | None, missing: str) -> list[str]:
    if doc is None:
        return [missing]
    if doc.get("revoked"):
        return [f"The badge was revoked. {service.revocation_reason(doc)}"]
    return []


# ------------------------------------------------------------------ Open Badges 3.0


def _public_key_pem(key) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _signing_key(config, header: dict):
    kid = header.get("kid")
    prefix = ob3.key_url(config, "")
    thumb = kid[len(prefix):] if isinstance(kid, str) and kid.startswith(prefix) else None
    entry = keys.key_set(config).public.get(thumb)
    return entry[1] if entry else None


def _library_reason(exc: OB3VerificationError) -> str:
    text = str(exc)
    if text == "Invalid signature":
        return "The signature does not match: the credential was changed after it was signed."
    if "expired" in text:
        until = re.search(r"validUntil ([^)]+)", text)
        return "The credential has expired" + (f" (valid until {until.group(1)})."
                                               if until else ".")
    return f"The credential is not a valid Open Badges 3.0 credential: {text.rstrip('.')}."


def verify_credential(db, config, token: str) -> dict:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.InvalidTokenError, ValueError) as exc:
        return _result(config, [f"This is not a VC-JWT (a signed JSON Web Token): {exc}."])
    ours = service.issuer_id(config)
    if not isinstance(claims, dict) or claims.get("iss") != ours:
        issuer = claims.get("iss") if isinstance(claims, dict) else None
        return _result(config, [f"The credential names {issuer!r} as its issuer, not this "
                                f"issuer ({ours}); only its own issuer can verify it."])
    if header.get("alg") != keys.ALGORITHM:
        return _result(config, [f"The credential is signed with {header.get('alg')!r}; this "
                                f"issuer signs with {keys.ALGORITHM} only."])
    key = _signing_key(config, header)
    if key is None:
        return _result(config, [f"The credential is signed with a key this issuer does not "
                                f"publish (kid {header.get('kid')!r})."])
    try:
        OB3Verifier(pubkey_pem=_public_key_pem(key)).verify(token)
    except OB3VerificationError as exc:
        return _result(config, [_library_reason(exc)])
    doc = _badge_of(db, str(claims.get("jti")), service.credential_url(config, ""))
    return _result(config, _state_reasons(doc, "This issuer has no record of the badge."),
                   doc, "ob3-vc-jwt")


# ------------------------------------------------------------------ Open Badges 2.0


def verify_assertion_url(db, config, url: str) -> dict:
    prefix = service.shareable_link(config, "")
    ours = urlsplit(prefix)
    try:
        parts = urlsplit(url)
    except ValueError:                 # e.g. "http://[": not a URL at all
        parts = None
    if parts is None or parts.query or parts.fragment or (
            (parts.scheme.lower(), parts.netloc.lower())
            != (ours.scheme.lower(), ours.netloc.lower())):
        return _result(config, [f"Only assertions hosted by this issuer ({prefix}…) can be "
                                f"checked here; this URL is not one, so it was not fetched."])
    doc = _badge_of(db, ours.scheme + "://" + ours.netloc + parts.path, prefix)
    if doc is not None and not doc.get("public") and not doc.get("revoked"):
        doc = None                     # the assertion of an unshared badge is not public
    return _result(config, _state_reasons(doc, "No shared badge is hosted at this URL."),
                   doc, "ob2-hosted")


def verify(db, config, body: dict) -> dict:
    if body.get("credential") is not None:
        return verify_credential(db, config, body["credential"].strip())
    return verify_assertion_url(db, config, body["assertion_url"].strip())
