"""The figures of the export workbook's Summary sheet, from the export document. Pure, no I/O.

* ``levels_by_skill``: students per mastery level for every skill (the stacked bars), skills in
  matrix order, levels from "not_started" up (``achieveup.mastery.calc``), then any other.
* ``progress_bands``: students per 10-point band of course progress (the histogram); the last
  band includes 100.
* ``questions_to_check``: the item analysis' flagged questions (``check``), each with the
  discrimination its flag used (point-biserial, else the upper-lower index; see
  ``achieveup.insights.stats``) and a short label that names it on the scatter.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from achieveup.badges.levels import LEVEL_NAMES

NOT_STARTED = "not_started"
MASTERY_LEVELS = (NOT_STARTED, *LEVEL_NAMES)
BAND = 10
LABEL_TITLE_CHARS = 24


class Summary(NamedTuple):
    students: int
    skills: list[str]
    levels: list[str]
    level_counts: list[list[int]]        # one row per skill, one column per level
    bands: list[tuple[str, int]]         # (label, students)
    mean_progress: float | None
    badges_by_level: list[tuple[str, int]]
    questions_mapped: int
    quizzes_analysed: int
    questions_analysed: int
    to_check: list[dict]                 # {label, quiz_title, difficulty, discrimination, why}


def ordered_levels(seen) -> list[str]:
    """The known levels in their order, then any other level seen (sorted), never None."""
    extra = sorted({lv for lv in seen if lv is not None and lv not in MASTERY_LEVELS})
    return [*MASTERY_LEVELS, *extra]


def skills_of(data: dict) -> list[str]:
    """Every skill once: the matrices' in their order, then skills only the mastery rows name."""
    skills = dict.fromkeys(s for m in data["matrices"] for s in m["skills"])
    skills.update(dict.fromkeys(r["skill"] for r in data["mastery"]))
    return list(skills)


def levels_by_skill(data: dict) -> tuple[list[str], list[str], list[list[int]]]:
    """(skills, levels, counts[skill][level]); a row without a level counts nowhere."""
    skills = skills_of(data)
    levels = ordered_levels(r.get("level") for r in data["mastery"])
    at = {s: i for i, s in enumerate(skills)}
    col = {lv: j for j, lv in enumerate(levels)}
    counts = [[0] * len(levels) for _ in skills]
    for r in data["mastery"]:
        level = r.get("level")
        if level is not None:
            counts[at[r["skill"]]][col[level]] += 1
    return skills, levels, counts


def finite(value) -> float | None:
    """``value`` as a float when it is a finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def progress_bands(progress) -> list[tuple[str, int]]:
    """Students per band 0-10, 10-20, ... 90-100 % (values outside 0-100 go to the end
    bands; missing ones nowhere)."""
    counts = [0] * (100 // BAND)
    for value in progress:
        value = finite(value)
        if value is not None:
            counts[min(len(counts) - 1, max(0, int(value // BAND)))] += 1
    return [(f"{lo}–{lo + BAND}%", n) for lo, n in zip(range(0, 100, BAND), counts)]


def question_label(item: dict) -> str:
    """"Q4 · Quiz 3: Week 3 revi…": the question's position (or id) and its quiz, short
    enough to sit next to a point of the scatter."""
    title = str(item.get("quiz_title") or f"Quiz {item['quiz_id']}")
    if len(title) > LABEL_TITLE_CHARS:
        title = title[:LABEL_TITLE_CHARS - 1].rstrip() + "…"
    position = item.get("position")
    number = f"Q{position}" if position is not None else f"question {item['question_id']}"
    return f"{number} · {title}"


def discrimination(item: dict) -> float | None:
    """The discrimination a flag is based on: the point-biserial, else the upper-lower index."""
    pb = finite(item.get("point_biserial"))
    return pb if pb is not None else finite(item.get("upper_lower"))


def questions_to_check(items: list[dict]) -> list[dict]:
    return [{"label": question_label(i), "quiz_title": i.get("quiz_title"),
             "difficulty": finite(i.get("difficulty")), "discrimination": discrimination(i),
             "why": i.get("flags") or ""}
            for i in items if i.get("check")]


def summarize(data: dict, progress: list) -> Summary:
    skills, levels, counts = levels_by_skill(data)
    known = [v for v in map(finite, progress) if v is not None]
    badge_levels = ordered_levels(b.get("level") for b in data["badges"])[1:]
    per_level = {lv: 0 for lv in badge_levels}
    for b in data["badges"]:
        if b.get("level") in per_level:
            per_level[b["level"]] += 1
    items = data.get("items") or []
    return Summary(
        students=len(progress), skills=skills, levels=levels, level_counts=counts,
        bands=progress_bands(known),
        mean_progress=round(sum(known) / len(known), 1) if known else None,
        badges_by_level=list(per_level.items()),
        questions_mapped=len(data["question_skills"]),
        quizzes_analysed=len({i["quiz_id"] for i in items}),
        questions_analysed=len(items), to_check=questions_to_check(items))
