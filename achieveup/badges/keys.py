"""The issuer's Ed25519 keys: the current signing key and the retired public keys.

Open Badges 3.0 credentials are signed as VC-JWTs with ``BADGE_SIGNING_KEY``. Every key is
named by its RFC 7638 JWK thumbprint, so rotating the key changes the ``kid`` by itself.
Credentials signed before a rotation stay verifiable as long as the old public key is listed in
``BADGE_RETIRED_PUBLIC_KEYS`` (the JWK ``x`` values, i.e. url-safe base64 of the 32 raw bytes):
the JWKS publishes the current key and every retired one.

Pure key handling (no I/O); parsed keys are cached per configuration value.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

ALGORITHM = "EdDSA"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_private_key() -> str:
    """A fresh key as url-safe base64 of its 32 raw bytes (the BADGE_SIGNING_KEY form)."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())
    return b64url(raw)


def parse_private_key(text: str) -> Ed25519PrivateKey:
    """A PKCS#8 PEM (``openssl genpkey -algorithm ed25519``) or 32 bytes in url-safe base64."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return key
    raw = _unb64url(text)
    if len(raw) != 32:
        raise ValueError("an Ed25519 private key has 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def parse_public_key(x: str) -> Ed25519PublicKey:
    raw = _unb64url(x.strip())
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_x(key: Ed25519PublicKey) -> str:
    """The JWK ``x`` member: url-safe base64 of the raw public key."""
    return b64url(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 JWK (required members in lexicographic order)."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"),
                           sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class KeySet:
    private_key: Ed25519PrivateKey
    current: str                          # thumbprint of the signing key
    public: dict                          # thumbprint -> (x, Ed25519PublicKey), current first


@functools.lru_cache(maxsize=16)
def _key_set(signing_key: str, retired: tuple[str, ...]) -> KeySet:
    private = parse_private_key(signing_key)
    keys = [private.public_key()] + [parse_public_key(x) for x in retired]
    public: dict = {}
    for key in keys:
        x = public_x(key)
        public.setdefault(thumbprint(x), (x, key))
    return KeySet(private, next(iter(public)), public)


def key_set(config) -> KeySet:
    return _key_set(config.badge_signing_key, tuple(config.badge_retired_public_keys))


def key_problems(signing_key: str, retired) -> list[str]:
    """Configuration errors in the badge keys, for ``config.validate``."""
    problems = []
    try:
        parse_private_key(signing_key)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        problems.append("BADGE_SIGNING_KEY must be an Ed25519 private key (PKCS#8 PEM, or its "
                        "32 bytes in url-safe base64)")
    for x in retired:
        try:
            parse_public_key(x)
        except (ValueError, TypeError):
            problems.append("BADGE_RETIRED_PUBLIC_KEYS must list Ed25519 public keys (the JWK "
                            "'x' values, url-safe base64 of 32 bytes)")
            break
    return problems
