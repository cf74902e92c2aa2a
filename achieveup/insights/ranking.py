"""Leaderboard ranking within one course. Pure.

Students are ranked by the number of badges they hold in the course (every level of every
skill counts), then by mastery (``progress``: mean score over the course's skills), then by
skills mastered. Equal students share a rank and the next rank skips ("1, 2, 2, 4"). Ranks are
taken over every student with evidence, listed or not, so a student's rank is the same whether
or not classmates opted in; who is *shown* is decided by the caller.
"""
from __future__ import annotations

from typing import Iterable, Mapping


def _key(row: Mapping) -> tuple:
    return (-(row.get("badges") or 0), -float(row.get("mastery") or 0.0),
            -(row.get("skills_mastered") or 0))


def rank(rows: Iterable[Mapping]) -> list[dict]:
    """``rows``: ``{student_id, badges, mastery, skills_mastered, ...}``; returns copies with
    ``rank`` (1 = best), best first, ties in student-id order."""
    ordered = sorted((dict(r) for r in rows), key=lambda r: (_key(r), str(r["student_id"])))
    previous, current = None, 0
    for position, row in enumerate(ordered, start=1):
        key = _key(row)
        if key != previous:
            current, previous = position, key
        row["rank"] = current
    return ordered
