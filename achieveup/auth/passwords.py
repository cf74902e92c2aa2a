"""Password policy and hashing.

Hashing scheme (stored as ``bcrypt-sha256$<bcrypt hash>``)::

    bcrypt(base64(sha256(password_utf8)), cost=config.bcrypt_rounds)

bcrypt only reads the first 72 bytes of its input (and bcrypt >= 5 refuses longer input with a
ValueError). Pre-hashing with SHA-256 and base64-encoding the digest (44 ASCII bytes, no NUL)
means every byte of any password up to the policy maximum counts, so a 100-byte password and its
72-byte prefix hash differently, and nothing is silently truncated or turned into a 500.

``verify`` also accepts a plain ``$2b$...`` bcrypt hash (accounts imported from the earlier
AchieveUp backend); such hashes are upgraded by the caller when ``needs_rehash`` says so.
"""
from __future__ import annotations

import base64
import hashlib
import re
import threading

import bcrypt

from knowgap.core.errors import ValidationFailed

SCHEME = "bcrypt-sha256$"
MIN_LENGTH = 8
MAX_LENGTH = 1024

POLICY_MESSAGE = (f"Password must be {MIN_LENGTH} to {MAX_LENGTH} characters long and include an "
                  "uppercase letter, a lowercase letter and a digit.")

_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")
_DIGIT = re.compile(r"[0-9]")


def policy_problems(password: str) -> list[str]:
    """Every rule the password breaks, as short sentences (empty list = acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    if not _UPPER.search(password):
        problems.append("Include an uppercase letter.")
    if not _LOWER.search(password):
        problems.append("Include a lowercase letter.")
    if not _DIGIT.search(password):
        problems.append("Include a digit.")
    return problems


def check_policy(password: str, field: str = "password") -> None:
    """Raise 422 ``weak_password`` naming what is missing."""
    problems = policy_problems(password)
    if problems:
        raise ValidationFailed(POLICY_MESSAGE, error="weak_password",
                               details={field: problems})


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, rounds: int) -> str:
    return SCHEME + bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; False for any malformed or missing hash."""
    if not isinstance(password, str) or not stored:
        return False
    try:
        if stored.startswith(SCHEME):
            return bcrypt.checkpw(_prehash(password), stored[len(SCHEME):].encode("ascii"))
        if stored.startswith("$2"):
            raw = password.encode("utf-8")
            if len(raw) > 72:          # a legacy hash can only have seen 72 bytes
                return False
            return bcrypt.checkpw(raw, stored.encode("ascii"))
    except ValueError:
        return False
    return False


def needs_rehash(stored: str | None, rounds: int) -> bool:
    if not stored or not stored.startswith(SCHEME):
        return True
    try:
        cost = int(stored[len(SCHEME):].split("$")[2])
    except (IndexError, ValueError):
        return True
    return cost != rounds


_dummy_lock = threading.Lock()
_dummy_hashes: dict[int, str] = {}


def burn_time(password: str, rounds: int) -> None:
    """Verify against a dummy hash so an unknown e-mail costs as much as a wrong password."""
    with _dummy_lock:
        dummy = _dummy_hashes.get(rounds)
        if dummy is None:
            dummy = _dummy_hashes[rounds] = hash_password("Dummy-password-0", rounds)
    verify(password if isinstance(password, str) else "", dummy)
