"""Skill mastery from per-question Canvas quiz results.

Pure computation, no I/O: plain data in, plain data out, so it is unit-tested without Canvas or
MongoDB and can be re-run whenever results or skill assignments change.

Two views of the same evidence, because they answer different questions:

* **percentage**: "how much of the work on this skill is correct", following the quiz's own
  scoring policy (Canvas ``scoring_policy``: keep_highest / keep_latest / keep_average), so it
  lines up with what the student sees in the gradebook. Each (quiz, question) counts once.
* **p_mastery**: Bayesian Knowledge Tracing (Corbett & Anderson 1995). It consumes *every*
  graded attempt in chronological order, because a wrong first try followed by a right retake
  is evidence of learning that the percentage view throws away.

A skill's **score** is what the course's score model (:class:`MasteryModel`) makes of the
evidence: ``recency`` (every answer against the class on the same question, weighted toward
recent ones: ``achieveup.mastery.recency``), ``percentage``, ``bkt`` (100 x P(L)) or one of
Canvas Outcomes' calculation methods on per-quiz results (``achieveup.mastery.outcomes``).
Each score comes with the evidence it rests on and a one-sentence explanation
(``achieveup.mastery.explain``).

Where the results come from: ``knowgap.canvas.results.QuestionResult`` records, built from
Classic Quizzes' ``submission_history[].submission_data[]`` and from New Quizzes' student
analysis reports alike; ``normalize_correct`` (defined there) turns Canvas' verdict into a
credit in [0, 1] or None (ungraded).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from achieveup.badges.levels import BADGE_LEVELS, level_for_percentage
from achieveup.mastery import explain, outcomes, recency
from knowgap.canvas.results import normalize_correct  # noqa: F401  (calc.normalize_correct)
from knowgap.core.clock import parse as parse_time
from knowgap.core.numbers import finite_float

POLICIES = ("keep_highest", "keep_latest", "keep_average", "keep_first")
#: Canvas' default ``scoring_policy`` for classic quizzes.
DEFAULT_POLICY = "keep_highest"


# ---------------------------------------------------------------------------------------------
# Attempt policy
# ---------------------------------------------------------------------------------------------

def _time_key(graded_at) -> str:
    """Sortable UTC key ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` for a timestamp (datetime or ISO string).

    Canvas sends ``YYYY-MM-DDTHH:MM:SSZ`` (fast path); other ISO strings with offsets are
    converted to UTC so "23:00-05:00" sorts after "02:00Z" of the next day. Naive values are
    taken as UTC; unparseable strings are used as they are; None sorts first.
    """
    if graded_at is None:
        return ""
    if isinstance(graded_at, str):
        if len(graded_at) == 20 and graded_at[19] == "Z":
            return graded_at[:19] + ".000000Z"
        try:
            graded_at = datetime.fromisoformat(graded_at.strip().replace("Z", "+00:00"))
        except ValueError:
            return graded_at
    if isinstance(graded_at, datetime):
        if graded_at.tzinfo is not None:
            graded_at = graded_at.astimezone(timezone.utc).replace(tzinfo=None)
        return graded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(graded_at)


def _check_policy(policy) -> str:
    if policy not in POLICIES:
        raise ValueError(f"unknown attempt policy {policy!r}; expected one of {POLICIES}")
    return policy


def _choose(entries: list, policy: str) -> list:
    """Pick among ``(attempt_no, score, time_key, results)`` tuples (graded attempts only).

    keep_highest: the best score; on a tie the later attempt (fresher evidence).
    keep_latest: highest attempt number, then the latest grading time.
    keep_first: lowest attempt number (New Quizzes' "first" score to keep).
    keep_average: all of them.
    """
    if not entries:
        return []
    if policy == "keep_average":
        return list(entries)
    if policy == "keep_latest":
        return [max(entries, key=lambda e: (e[0], e[2]))]
    if policy == "keep_first":
        return [min(entries, key=lambda e: (e[0], e[2]))]
    return [max(entries, key=lambda e: (e[1], e[0], e[2]))]


def select_attempts(history: Sequence[Mapping[str, Any]], policy: str = DEFAULT_POLICY) -> list[dict]:
    """The attempt(s) of one quiz whose results count toward the mastery *percentage*.

    ``history``: ``[{attempt, score, graded_at, results: {question_id: credit}}]`` in any order.
    Attempts with no graded result (all credits None) are ignored: they carry no evidence yet.
    A missing ``score`` is taken as the sum of the attempt's credits. Returns the original
    attempt dicts (one for keep_highest/keep_latest, all graded ones for keep_average,
    chronological). BKT does not use this: it consumes every attempt (see module docstring).
    """
    _check_policy(policy)
    entries = []
    for idx, att in enumerate(history):
        results = att.get("results") or {}
        graded = [c for c in results.values() if c is not None]
        if not graded:
            continue
        score = finite_float(att.get("score"))
        if score is None:
            score = float(sum(graded))
        attempt_no = att.get("attempt")
        attempt_no = idx + 1 if attempt_no is None else attempt_no
        entries.append((attempt_no, score, _time_key(att.get("graded_at")), idx))
    chosen = _choose(entries, policy)
    chosen.sort(key=lambda e: (e[2], e[0]))
    return [history[e[3]] for e in chosen]


def kept_credits(history: Sequence[Mapping[str, Any]], policy: str = DEFAULT_POLICY) -> dict:
    """``{question_id: credit}`` after applying the policy (keep_average averages each question
    over the attempts in which it was graded)."""
    chosen = select_attempts(history, policy)
    sums: dict = {}
    counts: dict = {}
    for att in chosen:
        for qid, credit in (att.get("results") or {}).items():
            if credit is None:
                continue
            sums[qid] = sums.get(qid, 0.0) + credit
            counts[qid] = counts.get(qid, 0) + 1
    return {qid: sums[qid] / counts[qid] for qid in sums}


# ---------------------------------------------------------------------------------------------
# Bayesian Knowledge Tracing
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BKTParams:
    """BKT parameters shared by all skills of a course.

    p_init P(L0), p_transit P(T), p_slip P(S), p_guess P(G), p_forget P(F) (a known skill is
    lost after an answer; 0 in classic BKT). The defaults are the usual textbook starting
    values; mastery is declared at P(L) >= 0.95 (CANVAS.md). ``p_slip + p_guess`` must stay
    below 1, otherwise a correct answer would be weaker evidence of knowing than a wrong one
    (the model degenerates). Fitted values come from ``achieveup.mastery.fit``.
    """

    p_init: float = 0.3
    p_transit: float = 0.1
    p_slip: float = 0.1
    p_guess: float = 0.2
    mastery_threshold: float = 0.95
    p_forget: float = 0.0

    def __post_init__(self):
        for name in ("p_init", "p_transit", "p_slip", "p_guess", "p_forget",
                     "mastery_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a number, got {value!r}")
        for name in ("p_init", "p_transit"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        for name in ("p_slip", "p_guess", "p_forget"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be within [0, 1)")
        if self.p_slip + self.p_guess >= 1.0:
            raise ValueError("p_slip + p_guess must be < 1 (otherwise the model is degenerate)")
        if not 0.0 < self.mastery_threshold <= 1.0:
            raise ValueError("mastery_threshold must be within (0, 1]")


DEFAULT_PARAMS = BKTParams()


def bkt_update(p_known: float, credit: Optional[float], params: BKTParams = DEFAULT_PARAMS) -> float:
    """One BKT step: condition P(L) on the observation, then apply the learning transition.

    correct: P(L|1) = P(L)(1-S) / (P(L)(1-S) + (1-P(L))G)
    wrong:   P(L|0) = P(L)S / (P(L)S + (1-P(L))(1-G))
    then     P(L')  = P(L|obs) (1 - F) + (1 - P(L|obs)) T

    Partial credit c in (0, 1) is a fractional observation: the posterior is
    c * P(L|1) + (1 - c) * P(L|0), so c=1 and c=0 reduce exactly to the classic formulas and
    the result is monotone in c. ``credit=None`` (ungraded) is no observation: P(L) is returned
    unchanged (no transition either, since nothing was practised as far as we know).
    """
    if credit is None:
        return p_known
    c = 1.0 if credit > 1.0 else (0.0 if credit < 0.0 else float(credit))
    p = float(p_known)
    s, g, t = params.p_slip, params.p_guess, params.p_transit
    if c > 0.0:
        a = p * (1.0 - s)
        d = a + (1.0 - p) * g
        pc = a / d if d > 0.0 else p
    else:
        pc = 0.0
    if c < 1.0:
        a = p * s
        d = a + (1.0 - p) * (1.0 - g)
        pw = a / d if d > 0.0 else p
    else:
        pw = 0.0
    post = c * pc + (1.0 - c) * pw
    return post * (1.0 - params.p_forget) + (1.0 - post) * t


# ---------------------------------------------------------------------------------------------
# Per-student mastery
# ---------------------------------------------------------------------------------------------

@dataclass(slots=True)
class SkillMastery:
    """Mastery of one skill for one student.

    questions_attempted: distinct (quiz, question) pairs counted under the attempt policy.
    questions_correct: sum of their credits (float, partial credit allowed).
    percentage: 100 * correct / attempted, 1 decimal (0.0 when nothing attempted).
    p_mastery: BKT probability after all attempts (p_init when no evidence), 4 decimals,
        decayed when the course's model says so (:class:`MasteryModel`).
    evidence_count: graded observations BKT consumed (all attempts).
    mastered: p_mastery >= params.mastery_threshold.
    score: the course's number for the skill, 0-100 with 1 decimal: ``percentage`` under the
        percentage model, ``100 * p_mastery`` under the BKT model.
    level: "not_started" without evidence, else the badge level the score reaches, with
        "beginner" also covering started-but-below-the-first-threshold (the student has begun).
    model: what produced ``score``: "recency", "percentage", a Canvas calculation method
        ("decaying_average", "n_mastery", ...), or "bkt_" + where the skill's parameters come
        from ("fitted", "course", "default", "fixed").
    last_graded_at: the latest ``graded_at`` seen for the skill, as given (None if none).
    evidence: graded answers the score rests on (distinct questions for a percentage, every
        attempt for BKT and recency, the answers in the quiz results used for Canvas methods).
    explanation: one sentence saying how the score was reached.
    """

    skill: str
    questions_attempted: int = 0
    questions_correct: float = 0.0
    percentage: float = 0.0
    p_mastery: float = 0.0
    evidence_count: int = 0
    mastered: bool = False
    level: str = "not_started"
    last_graded_at: Any = None
    score: float = 0.0
    model: str = "percentage"
    evidence: int = 0
    explanation: str = explain.NOT_STARTED

    def to_dict(self) -> dict:
        return asdict(self)


#: Score models: the product's own, then Canvas Outcomes' calculation methods.
SCORE_MODELS = ("recency", "percentage", "bkt") + outcomes.METHODS
#: The badge level whose threshold counts as Canvas's "mastery" for ``n_mastery``.
MASTERY_LEVEL = "advanced"


@dataclass(frozen=True)
class MasteryModel:
    """How a course turns evidence into its numbers (instructor settings + fitted parameters).

    score: one of :data:`SCORE_MODELS` ("percentage", the gradebook view, is this dataclass's
        default; a course's default is ``achieveup.mastery.model.DEFAULTS``).
    calculation_int: the Canvas method's parameter (None: Canvas's default for the method).
    recency: the course's fitted recency model (``score="recency"``; without it a student's
        score is their own proportion right).
    skill_params: BKT parameters per skill (fitted); other skills use the ``params`` passed to
        the computation. sources: per skill, where its parameters come from ("fitted",
        "course", "default", "fixed"), shown as ``SkillMastery.model``; ``default_source``
        for skills not listed.
    levels: badge thresholds (``achieveup.badges.levels``) for the ``level`` label.
    decay_half_life_days / now: when set, P(L) of a skill decays toward its p_init with this
        half-life, counted from the skill's last graded answer to ``now`` (an unpractised
        skill is less certainly known). None: no decay.
    """

    score: str = "percentage"
    skill_params: Mapping[str, BKTParams] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    default_source: str = "default"
    levels: tuple = BADGE_LEVELS
    decay_half_life_days: Optional[float] = None
    now: Optional[datetime] = None
    calculation_int: Optional[int] = None
    recency: Optional[recency.RecencyFit] = None

    def __post_init__(self):
        if self.score not in SCORE_MODELS:
            raise ValueError(f"unknown score model {self.score!r}; expected one of {SCORE_MODELS}")
        if self.score in outcomes.METHODS:
            problem = outcomes.int_problem(self.score, self.calculation_int)
            if problem:
                raise ValueError(problem)


DEFAULT_MODEL = MasteryModel()


def prepare_question_skills(question_skills: Mapping[Any, Iterable[str]]) -> dict:
    """Normalize ``{question_id: [skill]}`` for fast lookups.

    Canvas ids arrive as ints from the API and as strings from JSON/Mongo; the returned map
    answers both ``"123"`` and ``123``. Skills are de-duplicated per question (order kept)
    and empty names dropped. Call it once per course and pass the result to the per-student
    functions; they accept a raw mapping too but then normalize it on every call.
    """
    out: dict = {}
    for qid, skills in (question_skills or {}).items():
        if isinstance(skills, str):
            skills = [skills]
        seen = []
        for s in skills or ():
            if isinstance(s, str) and s.strip() and s not in seen:
                seen.append(s)
        if not seen:
            continue
        value = tuple(seen)
        key = str(qid).strip()
        out[key] = value
        if key.isdigit():
            out[int(key)] = value
    return _PreparedSkills(out)


class _PreparedSkills(dict):
    """Marker type so per-student calls can skip re-normalization."""

    __slots__ = ()


def _skill_map(question_skills) -> dict:
    if isinstance(question_skills, _PreparedSkills):
        return question_skills
    return prepare_question_skills(question_skills)


def _policy_for(policy_by_quiz, quiz_id) -> str:
    if not policy_by_quiz:
        return DEFAULT_POLICY
    policy = policy_by_quiz.get(quiz_id)
    if policy is None:
        policy = policy_by_quiz.get(str(quiz_id))
        if policy is None and isinstance(quiz_id, str) and quiz_id.isdigit():
            policy = policy_by_quiz.get(int(quiz_id))
    return DEFAULT_POLICY if policy is None else _check_policy(policy)


def _group(question_results) -> dict:
    """:func:`group_rows` for result dicts ``{quiz_id, question_id, attempt, graded_at, credit,
    points_possible?}``. A (quiz, attempt, question) seen twice keeps the last value (e.g.
    after a regrade)."""
    return group_rows([r.get("quiz_id"), r.get("question_id"), r.get("attempt"),
                       r.get("graded_at"), r.get("credit"), r.get("points_possible")]
                      for r in question_results)


def group_rows(rows) -> dict:
    """Graded results by quiz and attempt: ``quiz_id -> {attempt: entry}``, from positional
    rows ``[quiz_id, question_id, attempt, graded_at, credit, points_possible?]`` (the answer
    rows of ``achieveup.mastery.store.course_answers``) without building a dict per row. Ungraded rows (credit None) are left out;
    a (quiz, attempt, question) seen twice keeps the last value.

    Each attempt entry is ``[time_key, graded_at, {question_id: credit}, earned, possible,
    points]``: ``earned``/``possible`` add up ``credit * points_possible`` and
    ``points_possible`` (1 when missing or not positive) over the attempt's graded rows, for
    quiz percentages (see :func:`latest_quiz_percentages`); ``points`` is
    ``{question_id: points_possible}`` of the questions not worth exactly 1 (None when all
    are), for Canvas's points-weighted quiz results.
    """
    quizzes: dict = {}
    time_key = _time_key
    last_quiz = by_attempt = None
    for r in rows:
        try:
            quiz_id, qid, attempt, graded_at, credit, pp = r
        except ValueError:  # rows without points_possible (or with extra fields)
            quiz_id, qid, attempt, graded_at, credit = r[:5]
            pp = r[5] if len(r) > 5 else None
        if credit is None:
            continue
        if credit > 1.0:
            credit = 1.0
        elif credit < 0.0:
            credit = 0.0
        if by_attempt is None or quiz_id != last_quiz:
            by_attempt = quizzes.get(quiz_id)
            if by_attempt is None:
                by_attempt = quizzes[quiz_id] = {}
            last_quiz = quiz_id
        attempt = attempt or 1
        entry = by_attempt.get(attempt)
        if entry is None:
            entry = by_attempt[attempt] = [time_key(graded_at), graded_at, {}, 0.0, 0.0, None]
        elif graded_at is not None and graded_at != entry[1]:
            key = time_key(graded_at)
            if key > entry[0]:
                entry[0], entry[1] = key, graded_at
        entry[2][qid] = credit
        t = pp.__class__
        if not ((t is float or t is int) and pp > 0):
            pp = 1.0
        elif pp != 1:
            if entry[5] is None:
                entry[5] = {}
            entry[5][qid] = pp
        entry[3] += credit * pp
        entry[4] += pp
    return quizzes


def latest_quiz_percentages(quizzes: dict) -> list:
    """``[(graded_at, percentage)]`` of each quiz's highest-numbered graded attempt, from
    :func:`group_rows` output (points-weighted; used for the risk index)."""
    out = []
    for by_attempt in quizzes.values():
        entry = by_attempt[max(by_attempt)] if len(by_attempt) > 1 else \
            next(iter(by_attempt.values()))
        if entry[4] > 0:
            out.append((entry[1], 100.0 * entry[3] / entry[4]))
    return out


def compute_grouped(quizzes: dict, question_skills, params: BKTParams = DEFAULT_PARAMS,
                    policy_by_quiz: Optional[Mapping[Any, str]] = None,
                    model: MasteryModel = DEFAULT_MODEL) -> dict:
    """:func:`compute_student_mastery` on :func:`group_rows` output (same result as on the
    equivalent dict rows). Pass a map from :func:`prepare_course_skills` for course loops."""
    return _compute(quizzes, _skill_map(question_skills), params, policy_by_quiz, model)


def prepare_course_skills(question_skills) -> dict:
    """:func:`prepare_question_skills` plus the cached ordered skill list, for calling
    :func:`compute_grouped` once per student of a course."""
    smap = _skill_map(question_skills)
    prepared = _PreparedWithSkills(smap)
    prepared._skills = _all_skills(smap)
    return prepared


def _chronological(quizzes: dict) -> list:
    """Every graded attempt entry of :func:`group_rows` / :func:`_group` output, oldest first
    (grading time, then attempt number): the order BKT consumes (and is fitted on)."""
    attempts = []
    for by_attempt in quizzes.values():
        for attempt_no, entry in by_attempt.items():
            attempts.append((entry[0], attempt_no, entry))
    attempts.sort(key=lambda a: (a[0], a[1]))
    return [a[2] for a in attempts]


def skill_sequences(quizzes: dict, question_skills, into: Optional[dict] = None) -> dict:
    """``{skill: [credit, ...]}``: one student's graded answers per skill in the order BKT
    traces them (what ``achieveup.mastery.fit`` fits on). With ``into`` (``{skill: [seq]}``)
    each non-empty sequence is appended there instead, for collecting a whole course."""
    smap = _skill_map(question_skills)
    out: dict = {}
    get = smap.get
    for entry in _chronological(quizzes):
        for qid, c in entry[2].items():
            skills = get(qid)
            if skills is None:
                if not isinstance(qid, str):
                    skills = get(str(qid))
                if skills is None:
                    continue
            for skill in skills:
                seq = out.get(skill)
                if seq is None:
                    seq = out[skill] = []
                seq.append(c)
    if into is not None:
        for skill, seq in out.items():
            into.setdefault(skill, []).append(seq)
    return out


def recency_answers(groups_by_student: Iterable[dict], question_skills) -> "recency.Answers":
    """Every graded answer of a course (:func:`group_rows` output per student) as the arrays
    :func:`recency.fit` fits on, with the attempt times the per-student computation uses.
    Built with bulk list operations per attempt (a course has about a million answers)."""
    smap = _skill_map(question_skills)
    skills = _all_skills(smap)
    skill_index = {s: i for i, s in enumerate(skills)}
    questions: list = []
    index = _QuestionIndex()
    by_name: dict = {}
    for qid, found in smap.items():
        name = str(qid)
        if name not in by_name:
            by_name[name] = len(questions)
            questions.append((name, [skill_index[s] for s in found]))
        index[qid] = by_name[name]
    lookup = index.__getitem__
    days = recency.days
    nan = float("nan")
    student, question, t, credit = [], [], [], []
    n_students = 0
    for n_students, groups in enumerate(groups_by_student, start=1):
        for entry in (e for by_attempt in groups.values() for e in by_attempt.values()):
            answers = entry[2]
            when = days(entry[0])
            k = len(answers)
            question.extend(map(lookup, answers))
            credit.extend(answers.values())
            t.extend((nan if when is None else when,) * k)
            student.extend((n_students - 1,) * k)
    q = np.array(question, dtype=np.int64)
    keep = q >= 0
    q, who = q[keep], np.array(student, dtype=np.int64)[keep]
    t_all, c_all = np.array(t, dtype=np.float64)[keep], np.array(credit, dtype=np.float64)[keep]
    # one row per (answer, skill of its question)
    counts = np.array([len(sk) for _, sk in questions] or [0], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    flat = np.array([i for _, sk in questions for i in sk] or [0], dtype=np.int64)
    per_row = counts[q]
    rows = np.repeat(np.arange(len(q)), per_row)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    skill = flat[starts[q[rows]] + within]
    n_sk = max(len(skills), 1)
    return recency.Answers(
        sequence=who[rows] * n_sk + skill, skill=skill, question=q[rows], t=t_all[rows],
        credit=c_all[rows], share=1.0 / per_row[rows], skills=skills,
        questions=[name for name, _ in questions], sequences=max(n_students, 1) * n_sk)


class _QuestionIndex(dict):
    """question id -> index of the question in :func:`recency_answers`; -1 when unmapped."""

    __slots__ = ()

    def __missing__(self, key):
        return -1


def fit_recency(groups_by_student: Iterable[dict], question_skills) -> "recency.RecencyFit":
    """The course's recency model fitted on all its students' graded answers."""
    return recency.fit(recency_answers(groups_by_student, question_skills))


def _bkt_row(params: BKTParams) -> tuple:
    return (params.p_init, params.p_slip, params.p_guess, params.p_transit, params.p_forget)


def _decayed(p: float, p_init: float, last, now: datetime, half_life_days: float) -> float:
    """P(L) decayed toward ``p_init`` by the time since ``last`` (see :class:`MasteryModel`)."""
    if p <= p_init or last is None:
        return p
    when = parse_time(last)
    if when is None:
        return p
    idle_days = (now - when).total_seconds() / 86400.0
    if idle_days <= 0:
        return p
    return p_init + (p - p_init) * 0.5 ** (idle_days / half_life_days)


def _compute(quizzes: dict, smap: dict, params: BKTParams, policy_by_quiz,
             model: MasteryModel = DEFAULT_MODEL) -> dict:
    base = _bkt_row(params)
    rows = {skill: _bkt_row(p) for skill, p in model.skill_params.items()}
    rows_get = rows.get

    # --- BKT over every graded attempt, oldest first -----------------------------------
    # per skill: [P(L), evidence, last graded_at, (p_init, slip, guess, transit, forget)]
    state: dict = {}
    state_get = state.get
    sm_get = smap.get
    # the recency model's weighted sums ride along (one pass over the answers); per skill
    # [sum w*credit, sum w, sum w*p(question) (known questions), sum w (other questions),
    # answers, credits], see recency.estimate
    kind = model.score
    by_recency = kind == "recency"
    if by_recency:
        fit = model.recency or recency.EMPTY
        weighted: dict = {}
        q_get, days, weight = fit.questions.get, recency.days, fit.weight
    for entry in _chronological(quizzes):
        graded_at = entry[1]
        if by_recency:
            w = weight(days(entry[0]))
        for qid, c in entry[2].items():
            skills = sm_get(qid)
            if skills is None:
                if not isinstance(qid, str):
                    skills = sm_get(str(qid))
                if skills is None:
                    continue
            if by_recency:
                q = q_get(qid)
                if q is None and not isinstance(qid, str):
                    q = q_get(str(qid))
                for skill in skills:
                    acc = weighted.get(skill)
                    if acc is None:
                        acc = weighted[skill] = [0.0, 0.0, 0.0, 0.0, 0, 0.0]
                    acc[0] += w * c
                    acc[1] += w
                    if q is None:
                        acc[3] += w
                    else:
                        acc[2] += w * q
                    acc[4] += 1
                    acc[5] += c
            for skill in skills:
                st = state_get(skill)
                if st is None:
                    prm = rows_get(skill, base)
                    st = state[skill] = [prm[0], 0, None, prm]
                p = st[0]
                _, s_, g_, t_, f_ = st[3]
                if c >= 1.0:
                    a = p * (1.0 - s_)
                    d = a + (1.0 - p) * g_
                    post = a / d if d > 0.0 else p
                elif c <= 0.0:
                    a = p * s_
                    d = a + (1.0 - p) * (1.0 - g_)
                    post = a / d if d > 0.0 else p
                else:
                    a = p * (1.0 - s_)
                    d = a + (1.0 - p) * g_
                    pc = a / d if d > 0.0 else p
                    a = p * s_
                    d = a + (1.0 - p) * (1.0 - g_)
                    pw = a / d if d > 0.0 else p
                    post = pw + c * (pc - pw)
                st[0] = post * (1.0 - f_) + (1.0 - post) * t_ if f_ else post + (1.0 - post) * t_
                st[1] += 1
                st[2] = graded_at

    # --- percentage under each quiz's attempt policy -----------------------------------
    attempted: dict = {}
    correct: dict = {}
    for quiz_id, by_attempt in quizzes.items():
        policy = _policy_for(policy_by_quiz, quiz_id)
        if len(by_attempt) == 1:
            kept = next(iter(by_attempt.values()))[2]
        else:
            entries = [(n, sum(e[2].values()), e[0], e[2]) for n, e in by_attempt.items()]
            chosen = _choose(entries, policy)
            if len(chosen) == 1:
                kept = chosen[0][3]
            else:
                sums: dict = {}
                counts: dict = {}
                for e in chosen:
                    for qid, c in e[3].items():
                        sums[qid] = sums.get(qid, 0.0) + c
                        counts[qid] = counts.get(qid, 0) + 1
                kept = {qid: sums[qid] / counts[qid] for qid in sums}
        for qid, c in kept.items():
            skills = sm_get(qid)
            if skills is None:
                if not isinstance(qid, str):
                    skills = sm_get(str(qid))
                if skills is None:
                    continue
            for skill in skills:
                attempted[skill] = attempted.get(skill, 0) + 1
                correct[skill] = correct.get(skill, 0.0) + c

    # --- Canvas's per-quiz results -------------------------------------------------------
    if kind in outcomes.METHODS:
        quiz_results = _quiz_results(quizzes, sm_get)

    # --- assemble ------------------------------------------------------------------------
    threshold = params.mastery_threshold
    levels = model.levels
    half_life, now = model.decay_half_life_days, model.now
    decay = bool(half_life) and now is not None
    if kind == "bkt":
        sources, default_source = model.sources, model.default_source
    elif kind in outcomes.METHODS:
        cut = dict(levels).get(MASTERY_LEVEL, 75.0)
    out: dict = {}
    for skill in _all_skills(smap):
        n = attempted.get(skill, 0)
        ok = correct.get(skill, 0.0)
        pct = round(100.0 * ok / n, 1) if n else 0.0
        st = state_get(skill)
        idle = None
        if st is None:
            p, ev, last = rows_get(skill, base)[0], 0, None
        else:
            p, ev, last = st[0], st[1], st[2]
            if decay:
                decayed = _decayed(p, st[3][0], last, now, half_life)
                if decayed < p:
                    idle = (now - parse_time(last)).total_seconds() / 86400.0
                p = decayed
        label = kind
        if ev == 0 and n == 0:
            # no evidence: nothing to score (not the prior)
            level, score, evidence, text = "not_started", 0.0, 0, explain.NOT_STARTED
            if kind == "bkt":
                label = "bkt_" + (sources.get(skill) or default_source)
        else:
            if kind == "percentage":
                score, evidence = pct, n
                text = explain.percentage(n, ok, pct)
            elif kind == "bkt":
                source = sources.get(skill) or default_source
                score, evidence, label = round(100.0 * p, 1), ev, "bkt_" + source
                text = explain.bkt(p, ev, source, idle)
            elif kind == "recency":
                est = recency.estimate(fit.levels.get(skill), *weighted[skill],
                                       prior_weight=fit.prior_weight)
                score, evidence = est.score, est.answers
                text = explain.recency(est.answers, est.right, est.level, est.deviation,
                                       fit.half_life_days, est.score)
            else:
                results = quiz_results.get(skill, ())
                roll = outcomes.rollup(kind, results, model.calculation_int, cut)
                score = round(roll.score, 1) if roll.score is not None else 0.0
                evidence = sum(r.answers for r in roll.used)
                text = explain.canvas(kind, roll, len(results), model.calculation_int, cut)
            level = level_for_percentage(score, levels) or "beginner"
        out[skill] = SkillMastery(
            skill=skill,
            questions_attempted=n,
            questions_correct=round(ok, 4),
            percentage=pct,
            p_mastery=round(p, 4),
            evidence_count=ev,
            mastered=p >= threshold,
            level=level,
            last_graded_at=last,
            score=score,
            model=label,
            evidence=evidence,
            explanation=text,
        )
    return out


def _skills_of(sm_get, qid):
    skills = sm_get(qid)
    if skills is None and not isinstance(qid, str):
        skills = sm_get(str(qid))
    return skills


def _quiz_results(quizzes: dict, sm_get) -> dict:
    """Canvas's outcome results: ``{skill: [outcomes.Result]}``, one per quiz, from the quiz's
    latest graded attempt (highest attempt number, then grading time), points-weighted."""
    out: dict = {}
    for quiz_id, by_attempt in quizzes.items():
        entry = max(by_attempt.items(), key=lambda a: (a[0], a[1][0]))[1]
        points = entry[5]
        per_skill: dict = {}
        for qid, c in entry[2].items():
            skills = _skills_of(sm_get, qid)
            if skills is None:
                continue
            pp = points.get(qid, 1.0) if points else 1.0
            for skill in skills:
                acc = per_skill.get(skill)
                if acc is None:
                    acc = per_skill[skill] = [0.0, 0.0, 0]
                acc[0] += c * pp
                acc[1] += pp
                acc[2] += 1
        for skill, (earned, possible, answers) in per_skill.items():
            out.setdefault(skill, []).append(
                outcomes.Result(quiz_id, entry[0], earned / possible, answers))
    return out


def _all_skills(smap: dict) -> list:
    """Distinct skills of a prepared map, in first-seen order (cached for course-level calls)."""
    cached = getattr(smap, "_skills", None)
    if cached is not None:
        return cached
    seen: dict = {}
    for skills in smap.values():
        for s in skills:
            seen[s] = None
    return list(seen)


def compute_student_mastery(
    question_results: Iterable[Mapping[str, Any]],
    question_skills: Mapping[Any, Iterable[str]],
    params: BKTParams = DEFAULT_PARAMS,
    policy_by_quiz: Optional[Mapping[Any, str]] = None,
    model: MasteryModel = DEFAULT_MODEL,
) -> dict[str, SkillMastery]:
    """Mastery of every skill in ``question_skills`` for one student.

    ``question_results``: ``[{quiz_id, question_id, attempt, graded_at, credit}]`` (credit from
    :func:`normalize_correct`; None = ungraded and ignored). ``question_skills``:
    ``{question_id: [skill]}``; results on unmapped questions still count toward the attempt
    score used by keep_highest (score = sum of credits of the attempt) but not toward any
    skill. ``policy_by_quiz``: ``{quiz_id: policy}`` (int or str keys), quizzes not listed use
    keep_highest (Canvas' default); an unknown policy name raises ValueError.

    Every skill present in ``question_skills`` is returned (``not_started`` when the student
    has no evidence for it), so the UI can render a full breakdown. ``model``: the course's
    score model, per-skill parameters, thresholds and decay (defaults: percentage, ``params``
    for every skill, the standard thresholds, no decay). Runs in O(len(results)).
    """
    return _compute(_group(question_results), _skill_map(question_skills), params,
                    policy_by_quiz, model)


def compute_course_mastery(
    results_by_student: Mapping[Any, Iterable[Mapping[str, Any]]],
    question_skills: Mapping[Any, Iterable[str]],
    params: BKTParams = DEFAULT_PARAMS,
    policy_by_quiz: Optional[Mapping[Any, str]] = None,
    model: MasteryModel = DEFAULT_MODEL,
) -> dict[Any, dict[str, SkillMastery]]:
    """``{student_id: {skill: SkillMastery}}``: :func:`compute_student_mastery` for each
    student, with the question→skill map normalized once for the whole course."""
    smap = _skill_map(question_skills)
    skills = _all_skills(smap)
    prepared = _PreparedWithSkills(smap)
    prepared._skills = skills
    return {
        sid: _compute(_group(results), prepared, params, policy_by_quiz, model)
        for sid, results in results_by_student.items()
    }


class _PreparedWithSkills(_PreparedSkills):
    """Prepared map that also caches its ordered skill list (course-level calls)."""

    __slots__ = ("_skills",)


# ---------------------------------------------------------------------------------------------
# Time series for graphs
# ---------------------------------------------------------------------------------------------

def _iso_day(graded_at) -> Optional[str]:
    """UTC calendar day ``YYYY-MM-DD`` of a timestamp (datetime or ISO string), or None."""
    if graded_at is None:
        return None
    if isinstance(graded_at, datetime):
        dt = graded_at
    else:
        text = str(graded_at).strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text[:10] if len(text) >= 10 else None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc)
    return dt.date().isoformat()


def mastery_time_series(
    question_results: Iterable[Mapping[str, Any]],
    question_skills: Mapping[Any, Iterable[str]],
    params: BKTParams = DEFAULT_PARAMS,
    policy_by_quiz: Optional[Mapping[Any, str]] = None,
    model: MasteryModel = DEFAULT_MODEL,
) -> dict[str, list[dict]]:
    """``{skill: [{date, percentage, p_mastery, score}]}``, one point per UTC day on which the
    skill received graded evidence, each point being the *cumulative* state at the end of that
    day (exactly what :func:`compute_student_mastery` returns on the results graded up to
    then; ``model``'s decay is not applied: a past point is not decayed by today's date, and a
    recency estimate is counted back from that day with the course's current question
    statistics).

    Results without ``graded_at`` have no place on a time axis and are left out. Skills with no
    evidence get an empty list. Cost is O(days x results) for one student, fine for a graph.
    """
    smap = _skill_map(question_skills)
    if model.now is not None:
        model = dataclasses.replace(model, now=None)
    fit = model.recency if model.score == "recency" else None
    dated = []
    for r in question_results:
        if r.get("credit") is None:
            continue
        day = _iso_day(r.get("graded_at"))
        if day is not None:
            dated.append((day, r))
    dated.sort(key=lambda x: x[0])
    series: dict[str, list[dict]] = {s: [] for s in _all_skills(smap)}
    prefix: list = []
    i = 0
    while i < len(dated):
        day = dated[i][0]
        touched = set()
        while i < len(dated) and dated[i][0] == day:
            r = dated[i][1]
            prefix.append(r)
            qid = r.get("question_id")
            touched.update(smap.get(qid) or smap.get(str(qid)) or ())
            i += 1
        if not touched:
            continue
        if fit is not None:   # recency counted back from the end of that day
            model = dataclasses.replace(model, recency=fit.at(
                max(recency.days(_time_key(r.get("graded_at"))) or 0.0 for r in prefix)))
        state = _compute(_group(prefix), smap, params, policy_by_quiz, model)
        for skill in touched:
            m = state[skill]
            series[skill].append({"date": day, "percentage": m.percentage,
                                  "p_mastery": m.p_mastery, "score": m.score})
    return series
