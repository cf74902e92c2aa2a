"""Course mastery: recompute every student's per-skill summary from ALL stored results.

``recompute_course`` is the one writer of ``AchieveUp_Student_Mastery`` (and of the fitted
``AchieveUp_BKT_Parameters``: BKT per skill, and the course's recency fit). It reads the
course's packed evidence (one document per student, see ``store``), the question->skill map,
the quizzes' scoring policies, the course's mastery settings and fitted parameters
(``achieveup.mastery.model``), fits the parameters again when asked and due
(``achieveup.mastery.fit``), computes the complete new state in memory with
``achieveup.mastery.calc`` (pure), and only then replaces the per-(course, student) summary
documents. Nothing is incremented, so running it twice gives the same documents; a failure
before the write leaves the previous summaries untouched.

Summary document (``_id`` "host|course|student")::

    {canvas_host, course_id, student_id, student_name, progress, skills_mastered,
     total_questions_attempted, average_score, current_score, risk_level, risk_index, computed_at,
     skills: [{skill, score, level, questions_attempted, questions_correct, p_mastery,
               evidence_count, mastered, last_graded_at, model, evidence, explanation}],
     packed: "<the same skills as compact JSON rows>"}

Definitions: ``score`` is the course's number for the skill under its score model (``recency``
by default, ``percentage``, ``bkt`` or a Canvas calculation method); ``model`` names which,
``evidence`` the graded answers it rests on and ``explanation`` how it was reached, in one
sentence (``calc.SkillMastery``); ``progress`` is the mean score over the course's mapped
skills (not started counts 0); ``skills_mastered`` counts skills whose BKT probability reached the course's mastery
threshold (default 0.95); ``average_score`` is the mean score over skills with evidence (None
without any); risk uses ``knowgap.risk.calc.compute_risk`` with the Canvas current score, the
last five graded quiz percentages, ``average_score`` and the engagement index
(``achieveup.insights``).
"""
from __future__ import annotations

import logging
from typing import Any

from achieveup.badges.levels import DEFAULT_MIN_EVIDENCE
from achieveup.mastery import calc, explain, model
from achieveup.mastery import store
from knowgap.core.tenancy import where
from knowgap.risk.calc import compute_risk

log = logging.getLogger("achieveup.mastery")

PACKED_FIELDS = ("skill", "score", "level", "questions_attempted", "questions_correct",
                 "p_mastery", "evidence_count", "mastered", "last_graded_at", "model", "evidence",
                 "explanation")


def settings_of(settings_doc: dict | None, config) -> dict:
    """The course's effective mastery settings (``model.effective``)."""
    return model.effective(settings_doc, getattr(config, "badge_min_evidence",
                                                 DEFAULT_MIN_EVIDENCE))


def min_evidence(settings_doc: dict, config) -> int:
    return settings_of(settings_doc, config)["min_evidence"]


def badge_levels(settings_doc: dict) -> tuple:
    """The course's badge thresholds as a levels tuple (``achieveup.badges.levels``)."""
    return model.levels(settings_of(settings_doc, None))


def course_model(db, config, course_id: str, now=None) -> tuple[calc.BKTParams,
                                                                  calc.MasteryModel]:
    """What the course's numbers are computed with (settings + stored fits)."""
    settings = settings_of(store.course_settings(db, str(course_id)), config)
    return model.build(settings, store.fitted_parameters(db, str(course_id)), now)


def policies(quizzes: list[dict]) -> dict[str, str]:
    out = {}
    for q in quizzes:
        policy = q.get("scoring_policy")
        out[str(q["quiz_id"])] = policy if policy in calc.POLICIES else calc.DEFAULT_POLICY
    return out


def unpack_rows(packed: str) -> list[dict]:
    """Evidence rows ``[quiz_id, question_id, attempt, graded_at, credit, points_possible]``."""
    return [{"quiz_id": r[0], "question_id": r[1], "attempt": r[2], "graded_at": r[3],
             "credit": r[4], "points_possible": r[5] if len(r) > 5 else None}
            for r in store.unpack_evidence(packed)]


def quiz_percentages(rows: list[dict]) -> list[tuple[Any, float]]:
    """(graded_at, percentage) of each quiz's latest graded attempt (for the risk index)."""
    by_attempt: dict = {}
    for r in rows:
        if r["credit"] is None:
            continue
        key = (r["quiz_id"], r["attempt"])
        earned, possible, when = by_attempt.get(key, (0.0, 0.0, None))
        pp = r.get("points_possible")
        pp = float(pp) if isinstance(pp, (int, float)) and pp > 0 else 1.0
        g = r.get("graded_at")
        by_attempt[key] = (earned + r["credit"] * pp, possible + pp,
                           g if when is None or (g and g > when) else when)
    latest: dict = {}
    for (quiz, attempt), value in by_attempt.items():
        if quiz not in latest or attempt > latest[quiz][0]:
            latest[quiz] = (attempt, value)
    return [(v[2], 100.0 * v[0] / v[1]) for _, v in latest.values() if v[1] > 0]


BADGE_FIELDS = ("skill", "level", "earned_at", "percentage", "evidence_count")


def build_summary(db, course_id: str, student: dict, skills: dict, quiz_pcts: list, now,
                  skill_order: list[str], previous: dict | None = None,
                  engagement: float | None = None) -> dict:
    """One summary document. ``quiz_pcts`` is ``[(graded_at, percentage)]`` per quiz (risk);
    ``previous`` the student's previous summary (its recorded badge state is carried over;
    ``badges`` is None when that summary predates the badge fields, see ``badges.service``);
    ``engagement`` the student's engagement index (one more risk factor)."""
    entries = []
    mapped = []
    blank = None
    for name in skill_order:
        m = skills.get(name)
        if m is None:
            if blank is None:
                blank = calc.SkillMastery(skill="")
            m = blank
        else:
            mapped.append(len(entries))
        last = m.last_graded_at
        entries.append({"skill": name, "score": m.score, "level": m.level,
                        "questions_attempted": m.questions_attempted,
                        "questions_correct": m.questions_correct, "p_mastery": m.p_mastery,
                        "evidence_count": m.evidence_count, "mastered": bool(m.mastered),
                        "last_graded_at": last if last is None or isinstance(last, str)
                        else store.iso(last), "model": m.model, "evidence": m.evidence,
                        "explanation": m.explanation})
    mapped = [entries[i] for i in mapped]
    started = [e for e in mapped if e["questions_attempted"] > 0]
    progress = round(sum(e["score"] for e in mapped) / len(mapped), 1) if mapped else 0.0
    average = round(sum(e["score"] for e in started) / len(started), 1) if started else None
    risk = compute_risk(student.get("current_score"), quiz_pcts, average,
                        engagement=engagement)
    sid = str(student["student_id"])
    previous = previous or {}
    return {
        "_id": store.summary_id(db, course_id, sid),
        **where(db, course_id=course_id, student_id=sid),
        "student_name": student.get("name") or f"Student {sid}",
        "progress": progress,
        "skills_mastered": sum(1 for e in mapped if e["mastered"]),
        "total_questions_attempted": sum(e["questions_attempted"] for e in mapped),
        "average_score": average, "current_score": student.get("current_score"),
        "risk_level": risk.risk_level, "risk_index": risk.risk_index,
        "computed_at": now, "skills": entries,
        "packed": store.pack([[e[f] for f in PACKED_FIELDS] for e in entries]),
        "badges": previous.get("badges", "[]" if not previous else None),
        "revoked_badges": previous.get("revoked_badges") or "[]",
    }


def score_basis(entry: dict) -> dict:
    """``{model, evidence, explanation}`` of a per-skill entry: what produced its score, how
    many graded answers it rests on, and how, in one sentence. Summaries written before these
    fields existed (percentage or BKT scores) get them from the fields they have."""
    name = entry.get("model") or "percentage"
    if entry.get("explanation"):
        return {"model": name, "evidence": entry["evidence"],
                "explanation": entry["explanation"]}
    if name == "percentage":
        evidence = entry["questions_attempted"]
        text = explain.percentage(evidence, entry["questions_correct"], entry["score"]) \
            if evidence else explain.NOT_STARTED
    else:
        evidence = entry["evidence_count"]
        text = explain.bkt(entry["p_mastery"], evidence, name.removeprefix("bkt_")) \
            if evidence else explain.NOT_STARTED
    return {"model": name, "evidence": evidence, "explanation": text}


def packed_skills(doc: dict) -> list[dict]:
    if doc.get("packed"):
        return [dict(zip(PACKED_FIELDS, row)) for row in store.unpack(doc["packed"])]
    return list(doc.get("skills") or [])


def badge_rows(doc: dict) -> list[list]:
    """The summary's recorded (non-revoked) badges: ``[[skill, level, earned_at ISO,
    percentage, evidence_count]]``."""
    return store.unpack(doc.get("badges"))


def compute_course(db, config, course_id: str, now=None) -> list[dict]:
    """The complete new summary documents for the course (no writes); see
    :func:`compute_course_state`."""
    return compute_course_state(db, config, course_id, now)[0]


def compute_course_state(db, config, course_id: str, now=None, *, refit: bool = False
                         ) -> tuple[list[dict], list[dict] | None, dict | None]:
    """``(summary documents, new fitted BKT parameter documents or None, the course's new
    recency fit document or None)``, no writes.

    Each document also carries the badge state recorded in the student's previous summary
    (``badges``, ``revoked_badges``); ``achieveup.badges.service.apply_awards`` then adds the
    newly earned levels before :func:`write_summaries` stores everything in one go. The
    in-memory documents keep the per-skill dicts in ``skills`` for the caller's convenience;
    only ``packed`` is stored.

    With ``refit`` the BKT parameters are fitted again first when ``model.refit_due`` says
    so (enough new evidence, a new skill, a changed forgetting option), and the summaries use
    the new fit; the caller stores the returned parameter documents. A course scored by
    ``recency`` has that model fitted on all its answers every time (it is cheap, and the class's
    question statistics move with every sync).
    """
    from achieveup.insights import service as insights

    course_id = str(course_id)
    now = now or store.utcnow()
    settings = settings_of(store.course_settings(db, course_id), config)
    qskills = store.question_skill_map(db, course_id)
    quizzes = store.quizzes_of(db, course_id)
    policy = policies(quizzes)
    students = {str(s["student_id"]): s for s in store.students_of(db, course_id)}
    evidence_docs = store.fetch_all(db[store.EVIDENCE], where(db, course_id=course_id),
                                    {"_id": 0, "student_id": 1, "packed": 1, "count": 1})
    evidence = {str(e["student_id"]): e.get("packed") for e in evidence_docs}
    previous = {d["student_id"]: d for d in store.fetch_all(
        db[store.MASTERY], where(db, course_id=course_id),
        {"_id": 0, "student_id": 1, "badges": 1, "revoked_badges": 1})}
    for sid in evidence:
        students.setdefault(sid, {"student_id": sid, "name": None})
    engagement = insights.engagement_indices(db, course_id)
    prepared = calc.prepare_course_skills(qskills)
    skill_order = list(dict.fromkeys(
        [s for skills in qskills.values() for s in skills] + store.matrix_skills(db, course_id)))
    order = sorted(students, key=_sort_key)
    fit_docs = store.fitted_parameters(db, course_id)
    new_fit = None
    grouped: dict = {}
    rows = sum(int(e.get("count") or 0) for e in evidence_docs)
    if refit and model.refit_due(settings, fit_docs, rows, prepared._skills):
        new_fit, grouped = _fit_course(db, course_id, settings, prepared, evidence, rows, now,
                                       previous=fit_docs)
        fit_docs = new_fit
    recency_fit = recency_doc = None
    if settings["mastery_model"] == "recency":
        for sid in order:
            if sid not in grouped:
                grouped[sid] = calc.group_rows(store.unpack_evidence(evidence.get(sid)))
        recency_fit = calc.fit_recency(grouped.values(), prepared)
        recency_doc = store.scoped_docs(
            db, [model.recency_document(course_id, recency_fit, now)])[0]
    params, mastery_model = model.build(settings, fit_docs, now, recency_fit)
    docs = []
    for sid in order:
        groups = grouped.pop(sid, None)
        if groups is None:
            groups = calc.group_rows(store.unpack_evidence(evidence.get(sid)))
        state = calc.compute_grouped(groups, prepared, params, policy, mastery_model)
        docs.append(build_summary(db, course_id, students[sid], state,
                                  calc.latest_quiz_percentages(groups), now, skill_order,
                                  previous.get(sid), engagement.get(sid)))
    return docs, new_fit, recency_doc


def _fit_course(db, course_id: str, settings: dict, prepared, evidence: dict, rows: int,
                now, previous: list[dict]) -> tuple[list[dict], dict]:
    """Fit the course's BKT parameters on every student's answer sequences (EM starts from
    the ``previous`` fit); returns the parameter documents and the grouped evidence (reused by
    the recompute)."""
    grouped = {}
    sequences: dict = {skill: [] for skill in prepared._skills}
    for sid, packed in evidence.items():
        groups = grouped[sid] = calc.group_rows(store.unpack_evidence(packed))
        calc.skill_sequences(groups, prepared, into=sequences)
    course_fit, skill_fits = model.fit(settings, sequences, previous)
    docs = store.scoped_docs(db, model.fit_documents(
        course_id, course_fit, skill_fits, forgetting=bool(settings["forgetting"]), rows=rows,
        now=now))
    log.info("fitted BKT parameters of course %s: %d of %d skills on their own evidence",
             course_id, sum(1 for f in skill_fits.values() if f.source == "fitted"),
             len(skill_fits))
    return docs, grouped


def _sort_key(sid: str):
    return (0, int(sid), sid) if sid.isdigit() else (1, 0, sid)


def stored_form(doc: dict) -> dict:
    """What is stored: everything but the in-memory ``skills`` list (``packed`` holds it)."""
    return {k: v for k, v in doc.items() if k != "skills"}


def write_summaries(db, course_id: str, docs: list[dict]) -> int:
    """Replace the course's summaries with ``docs`` (and drop students no longer present)."""
    store.replace_course_docs(db, store.MASTERY, str(course_id),
                              [stored_form(d) for d in docs])
    store.bump_version(db, course_id)
    return len(docs)


def recompute_course(db, config, course_id: str, now=None, *,
                     course_name: str | None = None, refit: bool = False,
                     counts: dict | None = None) -> tuple[list[dict], list[dict]]:
    """Mastery + badges for the whole course under the course's write lock:
    ``(summaries, newly awarded badges)``. ``refit``: fit the BKT parameters again first when
    it is due (see :func:`compute_course_state`). ``counts``, when given, receives
    ``bkt_refit`` (1 when parameters were fitted) and ``bkt_skills_fitted``."""
    from achieveup.badges import service as badges

    now = now or store.utcnow()
    with store.course_lock(db, course_id):
        docs, fitted, recency_doc = compute_course_state(db, config, course_id, now,
                                                         refit=refit)
        awarded = badges.apply_awards(db, config, course_id, docs, now=now,
                                      course_name=course_name)
        if fitted is not None:     # replaces every fit document of the course, recency's too
            store.replace_course_docs(db, store.BKT_PARAMETERS, str(course_id),
                                      fitted + [recency_doc] if recency_doc else fitted)
        elif recency_doc is not None:
            store.replace_many(db[store.BKT_PARAMETERS], [recency_doc])
        write_summaries(db, course_id, docs)
    if counts is not None:
        counts["bkt_refit"] = int(fitted is not None)
        counts["bkt_skills_fitted"] = sum(1 for d in fitted or []
                                          if d["scope"] == "skill" and d["source"] == "fitted")
    return docs, awarded


def summaries_of_course(db, course_id: str, *, projection: dict | None = None) -> list[dict]:
    """Stored summaries of the course; read their per-skill entries with
    :func:`packed_skills`."""
    return store.fetch_all(db[store.MASTERY], where(db, course_id=str(course_id)), projection)


def summary_of(db, course_id: str, student_id: str) -> dict | None:
    return store.find_one(db[store.MASTERY], {"_id": store.summary_id(db, course_id, student_id)})
