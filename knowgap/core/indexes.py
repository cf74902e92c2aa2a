"""Every index of every collection, declared in one place and created at start-up.

Unique indexes are part of the data model: they are what makes a badge award, a refresh
token, or a skill matrix name impossible to duplicate under concurrent requests.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ASC = 1
DESC = -1


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: list
    options: dict = field(default_factory=dict)


def unique(collection: str, *names: str, **options) -> IndexSpec:
    return IndexSpec(collection, [(n, ASC) for n in names], {"unique": True, **options})


def plain(collection: str, *names: str, **options) -> IndexSpec:
    return IndexSpec(collection, [(n, ASC) for n in names], options)


INDEXES: list[IndexSpec] = [
    # shared infrastructure
    plain("jobs", "state", "lease_until"),
    plain("jobs", "kind", "key", "state"),
    plain("jobs", "created_at"),
    # AchieveUp: accounts
    unique("AchieveUp_Users", "email_lower"),
    plain("AchieveUp_Users", "canvas_user_id"),
    unique("AchieveUp_Refresh_Tokens", "jti"),
    plain("AchieveUp_Refresh_Tokens", "family_id"),
    plain("AchieveUp_Refresh_Tokens", "user_id"),
    # AchieveUp: Canvas cache
    unique("AchieveUp_Canvas_Cache", "scope", "key"),
]
