"""Authenticated encryption for Canvas tokens at rest (AES-256-GCM).

A stored token is ``v1:<nonce>:<ciphertext>`` in url-safe base64. GCM's tag means a tampered
or foreign ciphertext fails loudly instead of decrypting to garbage; the associated data binds
a ciphertext to its owner, so one user's encrypted token cannot be pasted into another record.
"""
from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from knowgap.core.errors import AppError

PREFIX = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenCipher:
    def __init__(self, key_b64: str):
        key = base64.urlsafe_b64decode(key_b64.encode())
        if len(key) != 32:
            raise ValueError("token encryption key must be 32 bytes")
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str, owner: str = "") -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), owner.encode())
        return f"{PREFIX}:{_b64(nonce)}:{_b64(sealed)}"

    def decrypt(self, stored: str, owner: str = "") -> str:
        try:
            prefix, nonce, sealed = stored.split(":")
            if prefix != PREFIX:
                raise ValueError(prefix)
            return self._aead.decrypt(_unb64(nonce), _unb64(sealed), owner.encode()).decode()
        except (ValueError, InvalidTag) as exc:
            raise AppError("A stored Canvas token could not be read. Please enter it again.",
                           error="canvas_token_unreadable", status=409) from exc


def token_fingerprint(token: str) -> str:
    """A stable, non-reversible name for a token (cache keys, logs never see the token)."""
    return hashlib.sha256(token.encode()).hexdigest()
