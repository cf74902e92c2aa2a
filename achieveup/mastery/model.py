"""A course's mastery model: its settings (``AchieveUp_Course_Settings``) and fitted BKT
parameters (``AchieveUp_BKT_Parameters``) turned into what ``calc`` computes with.

Pure (documents in, values out, no I/O). The settings document is written by
``achieveup.settings``; every field is optional and falls back to :data:`DEFAULTS`: a course
nobody configured gets ``recency`` scores (``achieveup.mastery.recency``, the model that ranked
students best by what they know now in ``bench/mastery_truth.py``), the standard badge
thresholds, BKT (for ``mastered``) with parameters fitted on the course once it has enough
evidence, no decay. A course that chose ``percentage`` (or any model) keeps it.

Fitted parameters are stored per (course, skill) as plain documents a MongoDB user can query::

    {_id: "course|skill", course_id, skill, scope: "skill", source: "fitted"|"course"|"default",
     params: {p_init, p_transit, p_slip, p_guess, p_forget},
     evidence: {observations, students}, fit: {log_likelihood, iterations, converged} | null,
     forgetting, fitted_at}

plus one ``scope: "course"`` document (``_id`` "course|*course*", ``skill`` null) holding the
pooled course-wide fit (``params`` null when the course had too little evidence) and the fit's
bookkeeping: ``evidence.rows`` (evidence rows when it ran, for :func:`refit_due`) and
``skills`` (the mapped skills it covered); and, for a course scored by ``recency``, one
``scope: "recency"`` document (``_id`` "course|*recency*") with that model's fit, rewritten by
every recompute (``recency.to_document``: half_life_days, clock_days, held_out, answers,
levels [{skill, level}], questions [{question_id, p}]).
"""
from __future__ import annotations

import copy
import logging
from typing import Optional

from achieveup.badges.levels import (BADGE_LEVELS, DEFAULT_MIN_EVIDENCE, levels_from_thresholds,
                                     thresholds_of)
from achieveup.mastery import fit as fitting
from achieveup.mastery import outcomes, recency
from achieveup.mastery.calc import DEFAULT_PARAMS, SCORE_MODELS, BKTParams, MasteryModel

log = logging.getLogger("achieveup.mastery")

PARAMETER_MODES = ("fitted", "fixed")
PARAM_NAMES = ("p_init", "p_transit", "p_slip", "p_guess", "p_forget")

#: Effective settings of a course nobody configured (``min_evidence`` None = the server's
#: ``BADGE_MIN_EVIDENCE``).
DEFAULTS: dict = {
    "mastery_model": "recency",
    "calculation_int": None,
    "bkt_parameters": "fitted",
    "fixed_parameters": {name: getattr(DEFAULT_PARAMS, name) for name in PARAM_NAMES},
    "forgetting": False,
    "mastery_threshold": DEFAULT_PARAMS.mastery_threshold,
    "min_evidence": None,
    "badge_thresholds": thresholds_of(BADGE_LEVELS),
    "decay": {"enabled": False, "half_life_days": 60},
}
SETTING_FIELDS = tuple(DEFAULTS)

#: A refit runs once this many evidence rows arrived since the last fit (and at least
#: ``REFIT_GROWTH`` of what that fit saw): small trickles of answers do not move the estimates.
REFIT_MIN_NEW_ROWS = 200
REFIT_GROWTH = 0.10
COURSE_KEY = fitting.COURSE
RECENCY_KEY = "*recency*"


def effective(doc: Optional[dict], default_min_evidence: int) -> dict:
    """The course's settings with every missing or unusable field taken from :data:`DEFAULTS`
    (a stored value that no longer validates is logged and ignored, never trusted)."""
    doc = doc or {}
    out = copy.deepcopy(DEFAULTS)
    out["min_evidence"] = default_min_evidence
    for key in SETTING_FIELDS:
        if key in doc and doc[key] is not None:
            value = doc[key]
            out[key] = {**out[key], **value} if isinstance(out[key], dict) and \
                isinstance(value, dict) else value
    problems = _problems(out)
    if problems:
        log.warning("ignoring invalid mastery settings of course %s: %s",
                    doc.get("course_id"), "; ".join(problems))
        for key in problems:
            out[key] = copy.deepcopy(DEFAULTS[key]) if key != "min_evidence" \
                else default_min_evidence
        if "mastery_model" in problems:
            out["calculation_int"] = None
    if out["calculation_int"] is None:
        out["calculation_int"] = outcomes.default_int(out["mastery_model"])
    return out


def settings_of(settings_doc: dict | None, config) -> dict:
    """The course's effective mastery settings: :func:`effective` with the server's
    ``badge_min_evidence`` (``config`` None: the built-in default)."""
    return effective(settings_doc, getattr(config, "badge_min_evidence", DEFAULT_MIN_EVIDENCE))


def min_evidence(settings_doc: dict, config) -> int:
    return settings_of(settings_doc, config)["min_evidence"]


def badge_levels(settings_doc: dict) -> tuple:
    """The course's badge thresholds as a levels tuple (``achieveup.badges.levels``)."""
    return levels(settings_of(settings_doc, None))


def _problems(settings: dict) -> dict:
    problems: dict = {}
    if settings["mastery_model"] not in SCORE_MODELS:
        problems["mastery_model"] = "unknown model"
    elif problem := outcomes.int_problem(settings["mastery_model"], settings["calculation_int"]):
        problems["calculation_int"] = problem
    if settings["bkt_parameters"] not in PARAMETER_MODES:
        problems["bkt_parameters"] = "unknown parameter mode"
    checks = {
        "fixed_parameters": lambda: fixed_params(settings),
        "badge_thresholds": lambda: levels_from_thresholds(settings["badge_thresholds"]),
    }
    for key, check in checks.items():
        try:
            check()
        except (TypeError, ValueError) as exc:
            problems[key] = str(exc)
    if not _is_number(settings["mastery_threshold"]) or \
            not 0.5 <= settings["mastery_threshold"] < 1.0:
        problems["mastery_threshold"] = "must be within [0.5, 1)"
    value = settings["min_evidence"]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        problems["min_evidence"] = "must be a positive integer"
    decay = settings["decay"]
    if not isinstance(decay.get("enabled"), bool) or not _is_number(decay.get("half_life_days")) \
            or decay["half_life_days"] <= 0:
        problems["decay"] = "needs enabled (true/false) and a positive half_life_days"
    if not isinstance(settings["forgetting"], bool):
        problems["forgetting"] = "must be true or false"
    return problems


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fixed_params(settings: dict) -> BKTParams:
    """The instructor's fixed parameters (or the textbook defaults) with the course's mastery
    threshold: used under ``bkt_parameters: "fixed"`` and as the last-resort fallback."""
    raw = settings.get("fixed_parameters") or {}
    values = {name: raw[name] for name in PARAM_NAMES if name in raw}
    if any(not _is_number(v) for v in values.values()):
        raise ValueError("parameters must be numbers")
    threshold = settings.get("mastery_threshold", DEFAULT_PARAMS.mastery_threshold)
    return BKTParams(**values, mastery_threshold=threshold)


def levels(settings: dict) -> tuple:
    return levels_from_thresholds(settings["badge_thresholds"])


# ------------------------------------------------------------------ stored fits


def fit_documents(course_id: str, course_fit: Optional[fitting.FitResult],
                  skill_fits: dict, *, forgetting: bool, rows: int, now) -> list[dict]:
    """The documents of one fit (see the module docstring)."""
    docs = [{"_id": f"{course_id}|{COURSE_KEY}", "course_id": course_id, "skill": None,
             "scope": "course", "source": "fitted" if course_fit else "default",
             "params": _params_doc(course_fit) if course_fit else None,
             "evidence": {"observations": course_fit.observations if course_fit else 0,
                          "students": course_fit.students if course_fit else 0,
                          "rows": rows},
             "fit": _fit_doc(course_fit), "skills": sorted(skill_fits),
             "forgetting": forgetting, "fitted_at": now}]
    for skill, sf in sorted(skill_fits.items()):
        docs.append({"_id": f"{course_id}|{skill}", "course_id": course_id, "skill": skill,
                     "scope": "skill", "source": sf.source, "params": _params_doc(sf.params),
                     "evidence": {"observations": sf.observations, "students": sf.students},
                     "fit": _fit_doc(sf.fit), "forgetting": forgetting, "fitted_at": now})
    return docs


def _params_doc(p) -> dict:
    return {name: round(float(getattr(p, name)), 6) for name in PARAM_NAMES}


def _fit_doc(result: Optional[fitting.FitResult]) -> Optional[dict]:
    if result is None:
        return None
    return {"log_likelihood": round(result.log_likelihood, 4), "iterations": result.iterations,
            "converged": result.converged}


def course_state(docs: list[dict]) -> Optional[dict]:
    return next((d for d in docs if d.get("scope") == "course"), None)


def refit_due(settings: dict, docs: list[dict], rows: int, skills: list[str]) -> bool:
    """Whether the course sync (or a settings change) should fit the parameters again: the
    course uses fitted parameters and either it was never fitted (and has some evidence), the
    forgetting option changed, a mapped skill is new to the fit, or enough evidence arrived
    (at least ``REFIT_MIN_NEW_ROWS`` rows and ``REFIT_GROWTH`` more than the last fit saw)."""
    if settings["bkt_parameters"] != "fitted":
        return False
    state = course_state(docs)
    if state is None:
        return rows > 0
    if bool(state.get("forgetting")) != bool(settings["forgetting"]):
        return True
    if set(skills) - set(state.get("skills") or []):
        return True
    before = int((state.get("evidence") or {}).get("rows") or 0)
    return abs(rows - before) >= max(REFIT_MIN_NEW_ROWS, REFIT_GROWTH * before)


def _stored_params(doc: dict, threshold: float) -> Optional[BKTParams]:
    raw = doc.get("params")
    if not isinstance(raw, dict):
        return None
    try:
        return BKTParams(**{n: float(raw.get(n, 0.0)) for n in PARAM_NAMES},
                         mastery_threshold=threshold)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ the model


def build(settings: dict, fit_docs: list[dict], now=None,
          recency_fit: Optional[recency.RecencyFit] = None) -> tuple[BKTParams, MasteryModel]:
    """``(default parameters, MasteryModel)`` for ``calc``: fitted per-skill parameters when
    the course uses them (stored fits of another forgetting setting are not used), the fixed
    ones otherwise; thresholds, decay and the Canvas method's parameter from the settings; under
    ``recency`` the given fit, else the stored one (``fit_docs``)."""
    fixed = fixed_params(settings)
    threshold = fixed.mastery_threshold
    skill_params: dict = {}
    sources: dict = {}
    default_source = "fixed"
    base = fixed
    if settings["bkt_parameters"] == "fitted":
        default_source = "default"
        usable = [d for d in fit_docs
                  if bool(d.get("forgetting")) == bool(settings["forgetting"])]
        state = course_state(usable)
        course = _stored_params(state, threshold) if state else None
        if course is not None:
            base, default_source = course, "course"
        for d in usable:
            if d.get("scope") != "skill" or d.get("source") != "fitted":
                continue
            params = _stored_params(d, threshold)
            if params is not None:
                skill_params[d["skill"]] = params
                sources[d["skill"]] = "fitted"
    decay = settings["decay"]
    score = settings["mastery_model"]
    if score == "recency" and recency_fit is None:
        stored = next((d for d in fit_docs if d.get("scope") == "recency"), None)
        recency_fit = recency.from_document(stored)
    model = MasteryModel(score=score, skill_params=skill_params,
                         sources=sources, default_source=default_source,
                         levels=levels(settings),
                         decay_half_life_days=float(decay["half_life_days"])
                         if decay["enabled"] else None,
                         now=now,
                         calculation_int=settings["calculation_int"]
                         if score in outcomes.METHODS else None,
                         recency=recency_fit if score == "recency" else None)
    return base, model


def recency_document(course_id: str, result: recency.RecencyFit, now) -> dict:
    """The stored form of a course's recency fit (see the module docstring)."""
    return {"_id": f"{course_id}|{RECENCY_KEY}", "course_id": course_id, "skill": None,
            "scope": "recency", "source": "fitted", **recency.to_document(result),
            "fitted_at": now}


def fit(settings: dict, sequences_by_skill: dict, previous: list[dict] = ()) -> tuple:
    """Run the fit for the course's settings: ``(course-wide FitResult or None,
    {skill: SkillFit})`` (see ``fit.fit_course``), starting from the ``previous`` fit's
    parameters where it has them (same forgetting option)."""
    start = {}
    for d in previous:
        if bool(d.get("forgetting")) != bool(settings["forgetting"]) or d.get("source") != \
                "fitted":
            continue
        params = _stored_params(d, DEFAULT_PARAMS.mastery_threshold)
        if params is not None:
            start[COURSE_KEY if d.get("scope") == "course" else d.get("skill")] = params
    return fitting.fit_course(sequences_by_skill, forgetting=bool(settings["forgetting"]),
                              defaults=fixed_params(settings), start=start)


def describe_fits(fit_docs: list[dict]) -> dict:
    """The stored fits as the settings response shows them."""
    rec = next((d for d in fit_docs if d.get("scope") == "recency"), None)
    extra = {} if rec is None else {"recency": {
        "half_life_days": rec.get("half_life_days"), "held_out": rec.get("held_out", 0),
        "answers": rec.get("answers", 0), "fitted_at": rec.get("fitted_at")}}
    state = course_state(fit_docs)
    if state is None:
        return {"fitted_at": None, "evidence_rows": 0, "course": None, "skills": [], **extra}
    return {**extra, "fitted_at": state.get("fitted_at"),
            "evidence_rows": (state.get("evidence") or {}).get("rows", 0),
            "forgetting": bool(state.get("forgetting")),
            "course": state.get("params"),
            "skills": [{"skill": d["skill"], "source": d.get("source"),
                        **(d.get("params") or {}),
                        "observations": (d.get("evidence") or {}).get("observations", 0),
                        "students": (d.get("evidence") or {}).get("students", 0)}
                       for d in sorted(fit_docs, key=lambda d: str(d.get("skill")))
                       if d.get("scope") == "skill"]}
