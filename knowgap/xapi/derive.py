"""Events from stored changes: what happened since the statements sent so far.

Pure functions (no I/O) compare the course's current data with the per-student record of what
the statements already say (``knowgap.xapi.store``'s state documents) and return the new events
and the new record. Deriving twice from the same data therefore derives nothing the second time,
and every event's statement id comes from its natural key (``statements.statement_id``), so
even an event derived twice (a crash between writing the outbox and the record) is one
statement in the LRS.

* **Answers** (``answered``): every graded per-question result row (``AchieveUp_Question_Results``:
  course, student, quiz, question, attempt). A row whose outcome changed (Canvas regraded it)
  voids the statement sent for it and gets a new one (revision ``r1``, ``r2`` …; xAPI Data
  2.3.2: a provider that corrects a statement voids it and issues another).
* **Quiz attempts** (``completed``): one per (student, quiz, attempt) with graded answers, its
  score the sum of the answers' points; regrades as above.
* **Skills** (``progressed`` when a skill's level changes, ``mastered`` when BKT's P(L) reaches
  the course's mastery threshold): from the mastery summaries of a recompute. The n-th change of
  a skill's level is its own statement (``…|level|n|<level>``), as is the n-th time it is
  mastered, so a student who loses and regains a level is told both times.
* **Badges** (``earned``; a revoked badge voids its ``earned`` statement): badges awarded or
  revoked inside the derivation window.
"""
from __future__ import annotations

from collections import defaultdict

from knowgap.core.clock import iso, parse
from knowgap.xapi.statements import statement_id

NOT_STARTED = "not_started"


def _at(*values) -> str | None:
    """The first value that is a time, as an xAPI timestamp (ISO 8601, ms, UTC)."""
    for value in values:
        when = parse(value)
        if when is not None:
            return iso(when)
    return None


def _num(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# ------------------------------------------------------------------ answers and quiz attempts

def answer_fingerprint(row: dict) -> str:
    return "|".join(repr(row.get(k)) for k in ("credit", "points", "points_possible",
                                               "correct"))


def _revision_id(base: tuple, revision: int) -> str:
    return statement_id(*base) if revision == 0 else statement_id(*base, f"r{revision}")


def _revised(events: list, prev: dict | None, fingerprint: str, base: tuple, make,
             at: str) -> dict | None:
    """Append the events of one answer or attempt whose fingerprint is ``fingerprint`` given
    what was sent before (``prev``); returns its new record or None when nothing changed.
    ``base``: its natural key (host, course, student, …)."""
    if prev is not None and prev["fingerprint"] == fingerprint:
        return None
    revision = 0 if prev is None else prev["revision"] + 1
    if prev is not None:
        old = _revision_id(base, prev["revision"])
        events.append({"kind": "voided", "id": statement_id("void", old), "target": old,
                       "regrade": True, "student_id": base[2], "course_id": base[1],
                       "at": at})
    events.append(make(_revision_id(base, revision), revision))
    return {"fingerprint": fingerprint, "revision": revision}


def answer_events(host: str, course_id: str, rows: list[dict], states: dict[str, dict],
                  questions: dict[str, dict], quizzes: dict[str, dict]
                  ) -> tuple[list[dict], dict[str, dict]]:
    """(events, ``{student_id: new answer state}`` for the students whose state changed).

    ``rows``: every stored result row of the students to look at (all their rows: a quiz
    attempt's score needs all its answers); ``states``: their answer state documents;
    ``questions``/``quizzes``: ``{id: stored document}`` for names, types and engines.
    """
    by_student: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_student[str(r["student_id"])].append(r)
    events: list[dict] = []
    changed: dict[str, dict] = {}
    for sid in sorted(by_student, key=_student_order):
        state = states.get(sid) or {}
        answers = {(a["quiz_id"], a["question_id"], a["attempt"]): a
                   for a in state.get("answers") or []}
        attempts = {(a["quiz_id"], a["attempt"]): a for a in state.get("attempts") or []}
        dirty = False
        groups: dict[tuple, list[dict]] = defaultdict(list)
        student_rows = sorted(by_student[sid], key=lambda r: (
            str(r.get("graded_at") or ""), str(r["quiz_id"]), int(r["attempt"]),
            str(r["question_id"])))
        for r in student_rows:
            if _num(r.get("credit")) is None:
                continue                          # not graded yet: nothing happened to send
            quiz, question, attempt = str(r["quiz_id"]), str(r["question_id"]), int(r["attempt"])
            groups[(quiz, attempt)].append(r)
            at = _at(r.get("graded_at"), r.get("stored_at"))
            q = questions.get(question) or {}

            def answered(sid_, rev, r=r, quiz=quiz, question=question, attempt=attempt, at=at,
                         q=q):
                return {"kind": "answered", "id": sid_, "student_id": sid,
                        "course_id": course_id, "at": at, "quiz_id": quiz,
                        "question_id": question, "attempt": attempt,
                        "credit": r.get("credit"), "points": r.get("points"),
                        "points_possible": r.get("points_possible"),
                        "answer_ids": list(r.get("answer_ids") or []),
                        "source": r.get("source"), "question_type": q.get("question_type"),
                        "question_name": q.get("question_name"),
                        "quiz_title": (quizzes.get(quiz) or {}).get("title"),
                        "revision": rev or None}

            record = _revised(events, answers.get((quiz, question, attempt)),
                              answer_fingerprint(r), (host, course_id, sid, quiz, question,
                                                      attempt), answered, at)
            if record is not None:
                answers[(quiz, question, attempt)] = {"quiz_id": quiz, "question_id": question,
                                                      "attempt": attempt, **record}
                dirty = True
        for (quiz, attempt), items in groups.items():
            earned = possible = 0.0
            for r in items:
                pp = _num(r.get("points_possible"))
                pp = float(pp) if pp is not None and pp > 0 else 1.0
                pts = _num(r.get("points"))
                earned += float(pts) if pts is not None else float(r["credit"]) * pp
                possible += pp
            at = max(_at(r.get("graded_at"), r.get("stored_at")) or "" for r in items)
            fingerprint = f"{round(earned, 6)!r}|{round(possible, 6)!r}|{len(items)}"
            source = items[0].get("source")

            def completed(sid_, rev, quiz=quiz, attempt=attempt, earned=earned,
                          possible=possible, at=at, source=source):
                return {"kind": "completed", "id": sid_, "student_id": sid,
                        "course_id": course_id, "at": at, "quiz_id": quiz,
                        "attempt": attempt, "points": round(earned, 4),
                        "points_possible": round(possible, 4), "source": source,
                        "quiz_title": (quizzes.get(quiz) or {}).get("title"),
                        "revision": rev or None}

            record = _revised(events, attempts.get((quiz, attempt)), fingerprint,
                              (host, course_id, sid, quiz, "attempt", attempt), completed, at)
            if record is not None:
                attempts[(quiz, attempt)] = {"quiz_id": quiz, "attempt": attempt, **record}
                dirty = True
        if dirty:
            changed[sid] = {"answers": sorted(answers.values(), key=lambda a: (
                a["quiz_id"], a["question_id"], a["attempt"])),
                "attempts": sorted(attempts.values(), key=lambda a: (a["quiz_id"],
                                                                      a["attempt"]))}
    return events, changed


def _student_order(sid: str):
    return (0, int(sid), sid) if sid.isdigit() else (1, 0, sid)


# ------------------------------------------------------------------ skills

def skill_events(host: str, course_id: str, summaries: list[dict], states: dict[str, dict],
                 now) -> tuple[list[dict], dict[str, dict]]:
    """(events, ``{student_id: new skill state}``) from a recompute's summaries, each with
    ``student_id`` and ``skills: [{skill, score, level, mastered, p_mastery, model,
    evidence}]`` (the summaries' plain per-skill entries)."""
    at = iso(now)
    events: list[dict] = []
    changed: dict[str, dict] = {}
    for summary in summaries:
        sid = str(summary["student_id"])
        state = {s["skill"]: s for s in (states.get(sid) or {}).get("skills") or []}
        dirty = False
        for entry in summary.get("skills") or []:
            skill = entry.get("skill")
            if not skill:
                continue
            prev = state.get(skill) or {"skill": skill, "level": NOT_STARTED,
                                        "mastered": False, "level_changes": 0, "masteries": 0}
            level = entry.get("level") or NOT_STARTED
            mastered = bool(entry.get("mastered"))
            common = {"student_id": sid, "course_id": course_id, "at": at,
                      "skill": skill, "score": _num(entry.get("score")), "level": level,
                      "p_mastery": _num(entry.get("p_mastery")), "model": entry.get("model"),
                      "evidence": _num(entry.get("evidence", entry.get("evidence_count")))}
            new = dict(prev)
            if level != prev["level"]:
                n = prev["level_changes"] + 1
                events.append({"kind": "progressed", "id": statement_id(
                    host, course_id, sid, "skill", skill, "level", n, level),
                    "previous_level": prev["level"], **common})
                new.update(level=level, level_changes=n)
            if mastered and not prev["mastered"]:
                n = prev["masteries"] + 1
                events.append({"kind": "mastered", "id": statement_id(
                    host, course_id, sid, "skill", skill, "mastered", n), **common})
                new.update(masteries=n)
            new["mastered"] = mastered
            if new != prev or skill not in state:
                state[skill] = new
                dirty = True
        if dirty:
            changed[sid] = {"skills": sorted(state.values(), key=lambda s: s["skill"])}
    return events, changed


# ------------------------------------------------------------------ badges

def badge_earned_id(host: str, course_id: str, badge: dict) -> str:
    return statement_id(host, course_id, badge["student_id"], "badge", badge["skill"],
                        badge["level"])


def badge_events(host: str, course_id: str, badges: list[dict], since,
                 through) -> list[dict]:
    """``earned`` for badges awarded in (since, through], a voiding statement for badges
    revoked in it (``since`` None: from the beginning)."""
    def inside(value) -> bool:
        when = parse(value)
        return when is not None and (since is None or when > since) and when <= through

    events = []
    for b in sorted(badges, key=lambda b: (str(b.get("earned_at")), str(b["student_id"]),
                                           b["skill"], b["level"])):
        sid = str(b["student_id"])
        earned = badge_earned_id(host, course_id, b)
        if inside(b.get("earned_at")):
            events.append({"kind": "earned", "id": earned, "student_id": sid,
                           "course_id": course_id,
                           "at": _at(b.get("earned_at")), "skill": b["skill"],
                           "level": b["level"], "score": _num(b.get("percentage")),
                           "evidence": _num(b.get("evidence_count")),
                           "model": b.get("model") or "percentage"})
        if b.get("revoked") and inside(b.get("revoked_at")):
            events.append({"kind": "voided", "id": statement_id("void", earned),
                           "target": earned, "student_id": sid, "course_id": course_id,
                           "at": _at(b.get("revoked_at")),
                           "reason": b.get("revocation_reason") or "The badge was revoked."})
    return events
