"""Instructor analytics, student progress and graphs, all read from stored mastery.

Definitions used by the contract's fields (see ``achieveup.mastery.service`` for the summary):
``progress`` mean skill score over the course's mapped skills; ``skillsMastered`` skills with
BKT P(L) >= the mastery threshold; ``badgesEarned`` skills with at least one (non-revoked)
badge (as recorded in the summary, see ``achieveup.badges.service``), the same count the UI derives from ``badgeLevel``; ``skillDistribution[skill]`` students
who mastered the skill; ``averageScores[skill]`` mean score of the students with evidence on it.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict

from achieveup.badges.levels import LEVEL_NAMES
from achieveup.mastery import calc, service as mastery
from achieveup.mastery import store
from knowgap.canvas.errors import CanvasError
from knowgap.core.tenancy import host_of, where

log = logging.getLogger("achieveup.analytics")

LEVEL_RANK = {name: i for i, name in enumerate(LEVEL_NAMES)}
PACKED = mastery.PACKED_FIELDS


SUMMARY_FIELDS = {"_id": 0, "student_id": 1, "student_name": 1, "progress": 1,
                  "skills_mastered": 1, "risk_level": 1, "total_questions_attempted": 1,
                  "packed": 1, "badges": 1}


def best_badges(doc: dict) -> dict:
    """{skill: (level, earned_at ISO)} of the highest non-revoked badge recorded in a summary."""
    best: dict = {}
    for row in mastery.badge_rows(doc):
        cur = best.get(row[0])
        if cur is None or LEVEL_RANK.get(row[1], -1) > LEVEL_RANK.get(cur[0], -1):
            best[row[0]] = (row[1], row[2])
    return best


def student_analytics(db, course_id: str) -> dict:
    """Built from the course's summaries alone (one read; badges are recorded in them)."""
    summaries = mastery.summaries_of_course(db, course_id, projection=SUMMARY_FIELDS)
    students, distribution, totals = [], {}, {}
    unpack = store.unpack
    for doc in summaries:
        best = best_badges(doc)
        breakdown, badge_count = {}, 0
        # packed rows: mastery.PACKED_FIELDS (summaries written before ``model`` have nine
        # fields, before ``evidence`` and ``explanation`` ten: score_basis fills them in)
        for row in unpack(doc.get("packed")):
            entry = dict(zip(PACKED, row))
            skill, score, attempted = entry["skill"], entry["score"], entry["questions_attempted"]
            item = {"score": score, "level": entry["level"], "questionsAttempted": attempted,
                    "questionsCorrect": entry["questions_correct"],
                    **mastery.score_basis(entry)}
            badge = best.get(skill)
            if badge:
                item["badgeLevel"] = badge[0]
                item["badgeEarnedAt"] = badge[1]
                badge_count += 1
            breakdown[skill] = item
            if entry["mastered"]:
                distribution[skill] = distribution.get(skill, 0) + 1
            else:
                distribution.setdefault(skill, 0)
            acc = totals.get(skill)
            if acc is None:
                acc = totals[skill] = [0.0, 0]
            if attempted:
                acc[0] += score
                acc[1] += 1
        students.append({"id": doc["student_id"], "name": doc.get("student_name"),
                         "progress": doc.get("progress", 0.0),
                         "skillsMastered": doc.get("skills_mastered", 0),
                         "badgesEarned": badge_count,
                         "riskLevel": doc.get("risk_level") or "low",
                         "totalQuestionsAttempted": doc.get("total_questions_attempted", 0),
                         "skillBreakdown": breakdown})
    averages = {skill: (round(v[0] / v[1], 1) if v[1] else 0.0) for skill, v in totals.items()}
    return {"students": students, "skillDistribution": distribution, "averageScores": averages}


# The serialized student-analytics body per (database, course, version): every writer of a
# course's summaries changes ``version`` (``store.bump_version`` / ``store.course_lock``, which
# changes it both before and after writing), so a body is only ever served for the exact
# summaries it was built from. Bodies are built only when the course has a version document.
_CACHE: "OrderedDict[tuple, bytes]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_MAX_BYTES = 64 * 1024 * 1024


def student_analytics_body(db, course_id: str) -> bytes:
    """The JSON body of student-analytics, cached per course version."""
    course_id = str(course_id)
    version = store.version_of(db, course_id)
    key = (id(db.client), db.name, host_of(db), course_id, version)
    if version is not None:
        with _CACHE_LOCK:
            body = _CACHE.get(key)
            if body is not None:
                _CACHE.move_to_end(key)
                return body
    body = (json.dumps(student_analytics(db, course_id), separators=(",", ":")) + "\n").encode()
    if version is not None and store.version_of(db, course_id) == version:
        with _CACHE_LOCK:
            _CACHE[key] = body
            total = sum(len(b) for b in _CACHE.values())
            while total > CACHE_MAX_BYTES and len(_CACHE) > 1:
                total -= len(_CACHE.popitem(last=False)[1])
    return body


def enrolled_students(db, gateway, course_ids) -> int:
    """Distinct students enrolled in ``course_ids`` (one student in two courses counts once).

    Read from the Canvas rosters through the caller's gateway (cached like every Canvas read,
    the courses not cached fetched together in one run), so the count is right before any
    sync. A course Canvas gives no roster for (down with nothing cached, or refused) counts
    the students of its last sync instead, so an outage never fails the dashboard.
    """
    students: set[str] = set()
    unanswered = []
    for cid, ids in gateway.student_ids_of(sorted(course_ids)).items():
        if isinstance(ids, CanvasError):
            log.warning("dashboard: no Canvas roster for course %s (%s); counting its last "
                        "sync", cid, ids.error)
            unanswered.append(cid)
        else:
            students |= ids
    if unanswered:
        students.update(d["student_id"] for d in store.fetch_all(
            db[store.STUDENTS], where(db, course_id={"$in": unanswered}),
            {"_id": 0, "student_id": 1}))
    return len(students)


def dashboard(db, user_id: str, course_ids: set[str], gateway) -> dict:
    ids = sorted(course_ids)
    progress = [d.get("progress") or 0.0 for d in store.fetch_all(
        db[store.MASTERY], where(db, course_id={"$in": ids}), {"_id": 0, "progress": 1})]
    matrices = db[store.MATRICES].count_documents(where(db, instructor_id=user_id,
                                                        course_id={"$in": ids}))
    activity = []
    for s in store.fetch_all(db[store.SYNC_STATE], where(db, course_id={"$in": ids})):
        counts = s.get("last_counts") or {}
        activity.append({"type": "sync", "course_id": s["course_id"],
                         "course_name": s.get("course_name"),
                         "timestamp": store.iso(s.get("last_synced_at")),
                         "description": (f"Synced {counts.get('students', 0)} students; "
                                         f"{counts.get('badges_awarded', 0)} new badges.")})
    activity.sort(key=lambda a: a["timestamp"] or "", reverse=True)
    return {"students": enrolled_students(db, gateway, ids),
            "averageProgress": round(sum(progress) / len(progress), 1) if progress else 0.0,
            "totalCourses": len(ids), "totalSkillMatrices": matrices,
            "recentActivity": activity[:10]}


def progress(db, student_id: str, course_id: str) -> dict:
    doc = mastery.summary_of(db, course_id, student_id)
    skills = mastery.packed_skills(doc) if doc else []
    return {"student_id": str(student_id), "course_id": str(course_id),
            "skill_progress": {e["skill"]: {"score": e["score"], "level": e["level"],
                                            "total_questions": e["questions_attempted"],
                                            "correct_answers": e["questions_correct"],
                                            **mastery.score_basis(e)}
                               for e in skills},
            "last_updated": store.iso(doc.get("computed_at")) if doc else None}


def _student_rows(db, course_id: str, student_id: str) -> list[dict]:
    doc = db[store.EVIDENCE].find_one({"_id": store.summary_id(db, course_id, student_id)})
    return mastery.unpack_rows(doc.get("packed")) if doc else []


def individual_graphs(db, student_id: str, course_ids: list[str]) -> dict:
    time_points: dict = {}
    performance, radar, trends = [], [], []
    distribution = {"not_started": 0, **{name: 0 for name in LEVEL_NAMES}}
    attempted = mastered = 0
    last = None
    for cid in course_ids:
        doc = mastery.summary_of(db, cid, student_id)
        if doc is None:
            continue
        rows = _student_rows(db, cid, student_id)
        params, course_model = mastery.course_model(db, None, cid)
        series = calc.mastery_time_series(rows, store.question_skill_map(db, cid), params,
                                          mastery.policies(store.quizzes_of(db, cid)),
                                          course_model)
        for skill, points in series.items():
            for p in points:
                time_points.setdefault(p["date"], {})[skill] = p["score"]
            if len(points) >= 2:
                change = round(points[-1]["score"] - points[0]["score"], 1)
            else:
                change = 0.0
            if points:
                trends.append({"skill": skill, "course_id": cid, "change": change,
                               "direction": "improving" if change > 2 else
                               "declining" if change < -2 else "stable",
                               "points": len(points)})
        for e in mastery.packed_skills(doc):
            performance.append({"skill": e["skill"], "course_id": cid, "score": e["score"],
                                "level": e["level"], "pMastery": e["p_mastery"],
                                "questionsAttempted": e["questions_attempted"],
                                "questionsCorrect": e["questions_correct"]})
            radar.append({"skill": e["skill"], "score": e["score"], "fullMark": 100})
            distribution[e["level"]] = distribution.get(e["level"], 0) + 1
            attempted += e["questions_attempted"]
            mastered += bool(e["mastered"])
            if e.get("last_graded_at") and (last is None or e["last_graded_at"] > last):
                last = e["last_graded_at"]
    # carry each skill's latest value forward so every point shows every skill seen so far
    timeline, current = [], {}
    for date in sorted(time_points):
        current.update(time_points[date])
        avg = round(sum(current.values()) / len(current), 1) if current else 0.0
        timeline.append({"date": date, "average": avg, "skills": dict(current)})
    scores = [p["score"] for p in performance if p["questionsAttempted"]]
    return {"timeSeriesData": timeline, "performance": performance,
            "distribution": distribution, "trends": trends, "radar": radar,
            "summary": {"totalSkills": len(performance), "skillsMastered": mastered,
                        "averageScore": round(sum(scores) / len(scores), 1) if scores else 0.0,
                        "totalQuestionsAttempted": attempted, "lastActivity": last,
                        "courses": list(course_ids)}}


def student_course_ids(db, student_id: str) -> list[str]:
    return sorted({d["course_id"] for d in store.fetch_all(
        db[store.MASTERY], where(db, student_id=str(student_id)), {"_id": 0, "course_id": 1})})
