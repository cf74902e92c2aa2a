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
An assertion URL of a badge that is not shared is answered as an unknown one, revoked or not.

:func:`panel` is the verification a badge page shows: the badge's credential is built and
signed, then checked step by step as an outside verifier would (openbadgeslib), each step
reported in words: the issuer key, the signature, the status list and the validity window.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from openbadgeslib.ob3 import OB3VerificationError, OB3Verifier

from achieveup.badges import keys, ob3, public, service, status_list
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
    public_id = url[len(prefix):] if url.startswith(prefix) else ""
    if not ID_PATTERN.match(public_id):
        return None
    return public.find(db, public_id)


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
    if doc is not None and not doc.get("public"):
        doc = None                     # the assertion of an unshared badge is not public
    return _result(config, _state_reasons(doc, "No shared badge is hosted at this URL."),
                   doc, "ob2-hosted")


def verify(db, config, body: dict) -> dict:
    if body.get("credential") is not None:
        return verify_credential(db, config, body["credential"].strip())
    return verify_assertion_url(db, config, body["assertion_url"].strip())


# ------------------------------------------------------------------ the badge page's panel


def _own_status_list(db, config):
    """The status-list "download" of the panel's verifier: this issuer's own lists, built and
    signed here as ``/status/<n>`` serves them; any other URL fails the check."""
    def fetch(url: str) -> bytes:
        number = status_list.list_number_of(config, url)
        if number is None:
            raise ValueError(f"{url} is not one of this issuer's status lists")
        return ob3.status_list_token(db, config, number).encode()
    return fetch


def _check(name: str, ok: bool, text: str) -> dict:
    return {"name": name, "ok": ok, "text": text}


def panel(db, config, doc: dict) -> dict:
    """Verify the badge's credential now: ``{verified, checks: [{name, ok, text}],
    checked_at}``."""
    now = store.utcnow()
    token = ob3.issue(db, config, doc)
    issuer = service.issuer_profile(config)["name"]
    header = jwt.get_unverified_header(token)
    key = _signing_key(config, header)
    thumb = header["kid"].rsplit("/", 1)[-1]
    current = keys.key_set(config).current == thumb
    checks = [_check(
        "Issuer key", key is not None,
        f"Signed with {issuer}'s {'current' if current else 'retired'} Ed25519 key "
        f"{thumb[:12]}…, which {issuer} publishes in its key set." if key is not None else
        f"The signing key is not in {issuer}'s published key set.")]
    credential = None
    if key is not None:
        verifier = OB3Verifier(pubkey_pem=_public_key_pem(key))
        try:
            credential = verifier.verify(token)
            checks.append(_check("Signature", True,
                                 "The signature matches: nothing in the credential was changed "
                                 "after it was signed."))
        except OB3VerificationError as exc:
            window = "expired" in str(exc) or "not yet valid" in str(exc)
            checks.append(_check("Expiry" if window else "Signature", False,
                                 _library_reason(exc)))
        if credential is not None:
            try:
                verifier.check_status(credential, verify_list=True,
                                      download=_own_status_list(db, config))
                checks.append(_check(
                    "Revocation", True,
                    f"Not revoked: position {doc['status_index']} of the issuer's signed "
                    f"status list {doc['status_list']} is clear."))
            except OB3VerificationError as exc:
                said = ("Revoked according to the issuer's status list" if "is set at index"
                        in str(exc) else "The issuer's status list could not be checked")
                checks.append(_check("Revocation", False, f"{said} ({exc})."))
            until = credential.expiration_date
            checks.append(_check(
                "Expiry", True,
                f"Valid until {until:%d %B %Y}." if until else "It does not expire."))
    return {"verified": len(checks) == 4 and all(c["ok"] for c in checks), "checks": checks,
            "checked_at": now}
