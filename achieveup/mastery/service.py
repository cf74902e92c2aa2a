"""Course mastery, the mastery stage of a course update: every student's per-skill summary from
ALL stored results.

``compute_course_state`` computes the new ``AchieveUp_Student_Mastery`` documents (and the
fitted ``AchieveUp_BKT_Parameters``: BKT per skill, and the course's recency fit) without
writing them: the course pipeline (``achieveup.pipeline``) runs the badge, engagement and risk
stages on them and then stores everything. It reads the course's answers
(``store.course_answers``: every student's graded answers), the question->skill map, the
quizzes' scoring policies, the course's mastery settings and fitted parameters
(``achieveup.mastery.model``), fits the parameters again when asked and due
(``achieveup.mastery.fit``), computes the complete new state in memory with
``achieveup.mastery.calc`` (pure); the pipeline only then replaces the per-(course, student)
summary documents (``achieveup.mastery.summaries``). Nothing is incremented, so running it
twice gives the same documents; a failure before the write leaves the previous summaries
untouched.

Summary document (``_id`` "host|course|student")::

    {canvas_host, course_id, student_id, student_name, progress, skills_mastered,
     total_questions_attempted, average_score, current_score, risk_level, risk_index, computed_at,
     skills: [{skill, score, level, questions_attempted, questions_correct, p_mastery,
               evidence_count, mastered, last_graded_at (a date), model, evidence,
               explanation}],
     badges: [{skill, level, earned_at, percentage, evidence_count}],
     revoked_badges: [{skill, level}]}

``badges`` and ``revoked_badges`` record the student's badges of the course
(``achieveup.badges.service``); a summary without ``badges`` predates them.

Definitions: ``score`` is the course's number for the skill under its score model (``recency``
by default, ``percentage``, ``bkt`` or a Canvas calculation method); ``model`` names which,
``evidence`` the graded answers it rests on and ``explanation`` how it was reached, in one
sentence (``calc.SkillMastery``); ``progress`` is the mean score over the course's mapped
skills (not started counts 0); ``skills_mastered`` counts skills whose BKT probability reached the course's mastery
threshold (default 0.95); ``average_score`` is the mean score over skills with evidence (None
without any); ``risk_level`` and ``risk_index`` are left empty here and set by the pipeline's
risk stage (``knowgap.risk.calc.compute_risk`` with the Canvas current score, the last five
graded quiz percentages of :attr:`CourseMastery.quiz_percentages`, ``average_score`` and the
engagement index of ``achieveup.insights``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from achieveup.mastery import calc, model
from achieveup.mastery import store
from knowgap.core.tenancy import where

log = logging.getLogger("achieveup.mastery")


def course_model(db, config, course_id: str, now=None) -> tuple[calc.BKTParams,
                                                                  calc.MasteryModel]:
    """What the course's numbers are computed with (settings + stored fits)."""
    settings = model.settings_of(store.course_settings(db, str(course_id)), config)
    return model.build(settings, store.fitted_parameters(db, str(course_id)), now)


def policies(quizzes: list[dict]) -> dict[str, str]:
    out = {}
    for q in quizzes:
        policy = q.get("scoring_policy")
        out[str(q["quiz_id"])] = policy if policy in calc.POLICIES else calc.DEFAULT_POLICY
    return out


def build_summary(db, course_id: str, student: dict, skills: dict, now,
                  skill_order: list[str], previous: dict | None = None) -> dict:
    """One summary document, its risk fields empty (the risk stage sets them). ``previous`` is
    the student's previous summary (its recorded badge state is carried over; ``badges`` is
    None when that summary predates the badge fields, see ``badges.service``)."""
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
                        "last_graded_at": store.parse_time(last), "model": m.model,
                        "evidence": m.evidence,
                        "explanation": m.explanation})
    mapped = [entries[i] for i in mapped]
    started = [e for e in mapped if e["questions_attempted"] > 0]
    progress = round(sum(e["score"] for e in mapped) / len(mapped), 1) if mapped else 0.0
    average = round(sum(e["score"] for e in started) / len(started), 1) if started else None
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
        "risk_level": None, "risk_index": None,
        "computed_at": now, "skills": entries,
        "badges": previous.get("badges", [] if not previous else None),
        "revoked_badges": previous.get("revoked_badges") or [],
    }


@dataclass
class CourseMastery:
    """What the mastery stage computed for a course; nothing of it is stored yet."""

    #: one summary document per student (see the module docstring), risk fields empty
    summaries: list[dict]
    #: the new fitted BKT parameter documents, or None when no refit ran
    fitted: list[dict] | None
    #: the course's new recency fit document, or None when the course is not scored by recency
    recency: dict | None
    #: ``{student_id: [(graded_at, percentage)]}``: each quiz's latest graded attempt (risk)
    quiz_percentages: dict[str, list]


def compute_course(db, config, course_id: str, now=None) -> list[dict]:
    """The complete new summary documents for the course (no writes, risk fields empty); see
    :func:`compute_course_state`."""
    return compute_course_state(db, config, course_id, now).summaries


def compute_course_state(db, config, course_id: str, now=None, *, refit: bool = False
                         ) -> CourseMastery:
    """The course's new mastery (:class:`CourseMastery`), no writes.

    Each document also carries the badge state recorded in the student's previous summary
    (``badges``, ``revoked_badges``); the badge stage (``achieveup.badges.service``) then adds
    the newly earned levels and the pipeline stores everything in one go.

    With ``refit`` the BKT parameters are fitted again first when ``model.refit_due`` says
    so (enough new evidence, a new skill, a changed forgetting option), and the summaries use
    the new fit; the caller stores the returned parameter documents. A course scored by
    ``recency`` has that model fitted on all its answers every time (it is cheap, and the class's
    question statistics move with every sync).
    """
    course_id = str(course_id)
    now = now or store.utcnow()
    settings = model.settings_of(store.course_settings(db, course_id), config)
    qskills = store.question_skill_map(db, course_id)
    quizzes = store.quizzes_of(db, course_id)
    policy = policies(quizzes)
    students = {str(s["student_id"]): s for s in store.students_of(db, course_id)}
    evidence = store.course_answers(db, course_id)
    previous = {d["student_id"]: d for d in store.fetch_all(
        db[store.MASTERY], where(db, course_id=course_id),
        {"_id": 0, "student_id": 1, "badges": 1, "revoked_badges": 1})}
    for sid in evidence:
        students.setdefault(sid, {"student_id": sid, "name": None})
    prepared = calc.prepare_course_skills(qskills)
    skill_order = list(dict.fromkeys(
        [s for skills in qskills.values() for s in skills] + store.matrix_skills(db, course_id)))
    order = sorted(students, key=_sort_key)
    fit_docs = store.fitted_parameters(db, course_id)
    new_fit = None
    grouped: dict = {}
    rows = sum(len(e) for e in evidence.values())
    if refit and model.refit_due(settings, fit_docs, rows, prepared._skills):
        new_fit, grouped = _fit_course(db, course_id, settings, prepared, evidence, rows, now,
                                       previous=fit_docs)
        fit_docs = new_fit
    recency_fit = recency_doc = None
    if settings["mastery_model"] == "recency":
        for sid in order:
            if sid not in grouped:
                grouped[sid] = calc.group_rows(evidence.get(sid, ()))
        recency_fit = calc.fit_recency(grouped.values(), prepared)
        recency_doc = store.scoped_docs(
            db, [model.recency_document(course_id, recency_fit, now)])[0]
    params, mastery_model = model.build(settings, fit_docs, now, recency_fit)
    docs = []
    quiz_pcts = {}
    for sid in order:
        groups = grouped.pop(sid, None)
        if groups is None:
            groups = calc.group_rows(evidence.get(sid, ()))
        state = calc.compute_grouped(groups, prepared, params, policy, mastery_model)
        quiz_pcts[sid] = calc.latest_quiz_percentages(groups)
        docs.append(build_summary(db, course_id, students[sid], state, now, skill_order,
                                  previous.get(sid)))
    return CourseMastery(docs, new_fit, recency_doc, quiz_pcts)


def _fit_course(db, course_id: str, settings: dict, prepared, evidence: dict, rows: int,
                now, previous: list[dict]) -> tuple[list[dict], dict]:
    """Fit the course's BKT parameters on every student's answer sequences (EM starts from
    the ``previous`` fit); returns the parameter documents and the grouped evidence (reused by
    the recompute)."""
    grouped = {}
    sequences: dict = {skill: [] for skill in prepared._skills}
    for sid, answers in evidence.items():
        groups = grouped[sid] = calc.group_rows(answers)
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


