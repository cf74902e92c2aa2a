"""BKT parameters fitted to a course's own answers, with expectation-maximization.

Pure computation (numpy arrays in, numbers out, no I/O), so it is unit-tested on generated data
and benchmarked against pyBKT (``bench/mastery_model.py``).

Why fit at all: the textbook defaults (``calc.DEFAULT_PARAMS``) say every skill is learned at
the same rate and guessed as often; real skills differ a lot, and a model that mis-states how
often students guess or slip turns one lucky answer into "mastered". EM (Baum-Welch, i.e.
forward-backward + re-estimation) finds the parameters under which the course's observed answer
sequences are most likely.

The model per skill: two hidden states (not known / known), ``P(L0) = p_init``, a not-known
student learns with ``p_transit`` after each answer, a known one forgets with ``p_forget`` (0
unless forgetting is enabled), and answers correctly with ``1 - p_slip`` when known, ``p_guess``
when not. Each (student, skill) is one sequence: every graded attempt in chronological order
(the order ``calc`` traces them in).

Decisions:

* **Bounds.** ``p_slip`` and ``p_guess`` stay within [0.01, 0.45]: below 0.5, so a correct
  answer is always evidence of knowing (the "degenerate" fits where knowing makes you *worse*
  cannot happen), and above 0.01, so no single answer is treated as infallible proof. In the
  M-step each parameter maximizes its own concave term, so clipping it to its box *is* the
  constrained maximum and every iteration still cannot lower the likelihood.
* **Partial credit** (credit ``c`` in (0, 1)) is virtual evidence: the likelihood of the
  observation is ``c * P(correct | state) + (1 - c) * P(wrong | state)``; 0 and 1 are the
  classic binary BKT. EM stays exact (the unseen "was it really right" bit is one more hidden
  variable).
* **Too little evidence.** A skill is fitted on its own only with at least
  ``MIN_OBSERVATIONS`` answers from ``MIN_STUDENTS`` students; otherwise it uses the fit of all
  the course's skills pooled (course-wide parameters), and without enough evidence for that
  either, the default (or instructor-fixed) parameters. ``SkillFit.source`` says which.
* **Shrinkage.** A skill fitted on its own is shrunk toward the course-wide parameters with the
  weight of ``PRIOR_STRENGTH`` answers (the maximum a posteriori estimate under a Beta prior
  centred there): a skill with a few dozen answers is not over-fitted to them (a plain maximum
  likelihood fit happily sets a slip of 0.01 after 80 answers), while a skill with thousands of
  answers is unaffected. On held-out students this predicts better than the unregularized fit
  (``bench/mastery_model.py``).
* **Cost.** All skills run as one batch: sequences are sorted by length, so time step ``t``
  touches only the prefix of sequences still running and the work is proportional to the number
  of answers, not to students x longest sequence; skills that converged leave the batch. A fit
  uses at most ``MAX_OBSERVATIONS`` answers per skill (whole sequences, a fixed pseudo-random
  subset beyond that): enough for estimates within about 0.01, and it bounds the cost of very
  large courses. A refit starts from the previous fit (``start``) and so needs fewer iterations.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Hashable, Mapping, Optional, Sequence

import numpy as np

from achieveup.mastery.calc import DEFAULT_PARAMS, BKTParams

#: (low, high) of each fitted parameter; see the module docstring.
BOUNDS = {"p_init": (0.01, 0.99), "p_transit": (0.001, 0.99), "p_slip": (0.01, 0.45),
          "p_guess": (0.01, 0.45), "p_forget": (0.001, 0.5)}
#: Evidence needed before a skill (or the pooled course) gets parameters of its own.
MIN_OBSERVATIONS = 50
MIN_STUDENTS = 10
#: Largest number of answers one fit looks at (see "Cost").
MAX_OBSERVATIONS = 60_000
MAX_ITERATIONS = 100
#: Weight, in answers, of the course-wide parameters in each skill's estimates ("Shrinkage").
PRIOR_STRENGTH = 10.0
#: A skill's EM stops when none of its parameters moved by more than this in one iteration.
TOLERANCE = 1e-4
#: Key of the pooled fit of all skills in :func:`fit_course`'s results.
COURSE = "*course*"

_TINY = 1e-300


@dataclass(frozen=True)
class FitResult:
    """EM estimate for one group of sequences (a skill, or the whole course pooled)."""

    p_init: float
    p_transit: float
    p_slip: float
    p_guess: float
    p_forget: float
    observations: int
    students: int
    log_likelihood: float
    iterations: int
    converged: bool

    def params(self, mastery_threshold: float = DEFAULT_PARAMS.mastery_threshold) -> BKTParams:
        return BKTParams(p_init=self.p_init, p_transit=self.p_transit, p_slip=self.p_slip,
                         p_guess=self.p_guess, p_forget=self.p_forget,
                         mastery_threshold=mastery_threshold)


@dataclass(frozen=True)
class SkillFit:
    """The parameters a course uses for one skill and where they come from.

    source: ``"fitted"`` (fitted on this skill's answers), ``"course"`` (too little evidence:
    the pooled fit of the course), ``"default"`` (too little evidence for either).
    observations / students: the skill's own evidence (whatever the source).
    """

    skill: str
    source: str
    params: BKTParams
    observations: int
    students: int
    fit: Optional[FitResult] = None


# ---------------------------------------------------------------------------------------------
# Layout: many ragged sequences, time-major, longest first
# ---------------------------------------------------------------------------------------------

class _Batch:
    """Sequences of several groups laid out so that step ``t`` is one contiguous slice.

    Sequences are sorted by length (longest first); ``active[t]`` of them are still running at
    step ``t`` and they are exactly the first ``active[t]``. ``obs[offsets[t]:offsets[t+1]]``
    holds their answers at step ``t``. ``pos`` maps the input order (sequences concatenated)
    to positions in ``obs``. Built from plain lists: one conversion for the whole batch.
    """

    def __init__(self, sequences: Sequence[Sequence[float]], group: Sequence[int]):
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        flat = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.float64,
                           count=int(lengths.sum()))
        order = np.argsort(-lengths, kind="stable")
        self.lengths = lengths[order]
        self.group = np.asarray(group, dtype=np.int64)[order]
        self.n = len(order)
        self.steps = int(self.lengths[0])
        counts = np.bincount(self.lengths, minlength=self.steps + 1)
        self.active = (self.n - np.cumsum(counts))[:-1]
        self.offsets = np.concatenate([[0], np.cumsum(self.active)]).astype(np.int64)
        # position of every input answer in the time-major layout
        rank = np.empty(self.n, dtype=np.int64)
        rank[order] = np.arange(self.n)
        starts = np.cumsum(lengths) - lengths
        step = np.arange(len(flat)) - np.repeat(starts, lengths)
        self.pos = self.offsets[step] + np.repeat(rank, lengths)
        self.obs = np.empty(len(flat))
        self.obs[self.pos] = np.clip(flat, 0.0, 1.0)
        self.binary = bool(np.all((self.obs == 0.0) | (self.obs == 1.0)))

    def column(self, t: int) -> np.ndarray:
        return self.obs[self.offsets[t]:self.offsets[t + 1]]


# ---------------------------------------------------------------------------------------------
# EM
# ---------------------------------------------------------------------------------------------

def _clip(name: str, values: np.ndarray) -> np.ndarray:
    low, high = BOUNDS[name]
    return np.clip(values, low, high)


def _forward(batch: _Batch, p0, tr, sl, gu, fo, *, keep: bool):
    """Filtered P(known | answers up to t) per step (and the predictions P(known | answers
    before t) when ``keep``), plus the log-likelihood per sequence.

    P(answer | known) = S + c (1 - 2S), P(answer | not known) = (1 - G) + c (2G - 1):
    virtual evidence for partial credit, the usual emissions for c in {0, 1}."""
    d1, a0, d0, stay = 1.0 - 2.0 * sl, 1.0 - gu, 2.0 * gu - 1.0, 1.0 - fo - tr
    alphas, preds = [], []
    log_evidence = np.zeros(batch.n)
    pi = p0
    for t in range(batch.steps):
        m = batch.active[t]
        c = batch.column(t)
        pi = pi[:m]
        known = pi * (sl[:m] + c * d1[:m])
        evidence = known + (1.0 - pi) * (a0[:m] + c * d0[:m])
        alpha = known / evidence
        if keep:
            alphas.append(alpha)
            preds.append(pi)
        else:
            log_evidence[:m] += np.log(evidence)
        pi = tr[:m] + alpha * stay[:m]
    return alphas, preds, log_evidence


def _em(batch: _Batch, n_groups: int, init: np.ndarray, *, forgetting: bool, max_iter: int,
        tol: float, prior: Optional[np.ndarray] = None, strength: float = 0.0,
        yield_share: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run EM on ``batch``; ``init`` is ``(n_groups, 5)``: p_init, transit, slip, guess, forget.

    With ``prior`` (5 values) each re-estimate is ``(expected count + strength * prior) /
    (expected total + strength)``: the maximum a posteriori estimate under a Beta prior worth
    ``strength`` answers. A group whose parameters all moved by less than ``tol`` is converged
    and frozen. Returns as soon as the converged groups hold ``yield_share`` of the answers
    (the caller then continues with a smaller batch of the others), or all converged, or after
    ``max_iter`` iterations: ``(params, iterations per group, converged per group)``."""
    params = init.copy()
    done = np.zeros(n_groups, dtype=bool)
    iterations = np.zeros(n_groups, dtype=np.int64)
    if prior is None:
        prior, strength = np.zeros(5), 0.0
    k_prior = strength * np.asarray(prior, dtype=float)

    def estimate(name, k, num, den, previous):
        return _clip(name, _ratio(num + k_prior[k], den + strength, previous))

    group, n, steps = batch.group, batch.n, batch.steps

    def total(values):
        return np.bincount(group, weights=values, minlength=n_groups)

    n_seq = total(np.ones(n))
    n_obs = total(batch.lengths.astype(float))
    c_tot = total(_sequence_sums(batch))
    ends = np.append(batch.active[1:], 0)   # sequences [ends[t], active[t]) end at step t
    for _ in range(max_iter):
        p0, tr, sl, gu, fo = (params[group, k] for k in range(5))
        alphas, preds, _ = _forward(batch, p0, tr, sl, gu, fo, keep=True)
        # backward: smoothed gamma = P(known at t | all answers) and expected transitions
        g_sum = np.zeros(n)      # sum over t of gamma
        gc_sum = np.zeros(n)     # sum over t of gamma * credit
        learn_sum = np.zeros(n)  # expected not-known -> known transitions
        forget_sum = np.zeros(n)  # expected known -> not-known transitions
        slip_w = np.zeros(n) if not batch.binary else None
        guess_w = np.zeros(n) if not batch.binary else None
        gamma = None
        for t in range(steps - 1, -1, -1):
            alpha = alphas[t]
            if gamma is None:
                gamma = alpha
            else:
                k = len(gamma)
                a = alpha[:k]
                r1 = gamma / np.maximum(preds[t + 1], _TINY)
                if forgetting:
                    r0 = (1.0 - gamma) / np.maximum(1.0 - preds[t + 1], _TINY)
                    stay = a * (1.0 - fo[:k]) * r1
                    forget = a * fo[:k] * r0
                    forget_sum[:k] += forget
                    learn_sum[:k] += (1.0 - a) * tr[:k] * r1
                    head = stay + forget
                else:
                    head = a * r1
                    learn_sum[:k] += gamma - head  # P(L_t+1) = stay + learn
                gamma = alpha.copy()
                gamma[:k] = np.clip(head, 0.0, 1.0)
            m = len(gamma)
            c = batch.column(t)
            g_sum[:m] += gamma
            if batch.binary:
                gc_sum[:m] += gamma * c
            else:
                e1 = sl[:m] + c * (1.0 - 2.0 * sl[:m])
                e0 = (1.0 - gu[:m]) + c * (2.0 * gu[:m] - 1.0)
                slip_w[:m] += gamma * (1.0 - c) * sl[:m] / np.maximum(e1, _TINY)
                guess_w[:m] += (1.0 - gamma) * c * gu[:m] / np.maximum(e0, _TINY)
        first = gamma
        last_gamma = np.empty(n)  # at a sequence's last answer, smoothed = filtered
        for t in range(steps):
            last_gamma[ends[t]:batch.active[t]] = alphas[t][ends[t]:]
        g_tot = total(g_sum)
        g_from_tot = g_tot - total(last_gamma)
        # transitions from "not known" = answers with a successor minus those from "known"
        ng_from_tot = (n_obs - n_seq) - g_from_tot
        if batch.binary:
            slip_num = g_tot - total(gc_sum)           # gamma * (1 - c)
            guess_num = c_tot - total(gc_sum)          # (1 - gamma) * c
        else:
            slip_num, guess_num = total(slip_w), total(guess_w)
        new = np.empty_like(params)
        new[:, 0] = estimate("p_init", 0, total(first), n_seq, params[:, 0])
        new[:, 1] = estimate("p_transit", 1, total(learn_sum), ng_from_tot, params[:, 1])
        new[:, 2] = estimate("p_slip", 2, slip_num, g_tot, params[:, 2])
        new[:, 3] = estimate("p_guess", 3, guess_num, n_obs - g_tot, params[:, 3])
        new[:, 4] = (estimate("p_forget", 4, total(forget_sum), g_from_tot, params[:, 4])
                     if forgetting else 0.0)
        new[done] = params[done]
        iterations[~done] += 1
        done |= np.max(np.abs(new - params), axis=1) < tol
        params = new
        if done.all() or n_obs[done].sum() >= yield_share * n_obs.sum():
            break
    return params, iterations, done


def _log_likelihood(batch: _Batch, n_groups: int, params: np.ndarray) -> np.ndarray:
    p0, tr, sl, gu, fo = (params[batch.group, k] for k in range(5))
    _, _, log_evidence = _forward(batch, p0, tr, sl, gu, fo, keep=False)
    return np.bincount(batch.group, weights=log_evidence, minlength=n_groups)


def _sequence_sums(batch: _Batch) -> np.ndarray:
    """Sum of each sequence's credits (rank order)."""
    out = np.zeros(batch.n)
    for t in range(batch.steps):
        m = batch.active[t]
        out[:m] += batch.column(t)
    return out


def _ratio(num: np.ndarray, den: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """num / den where the denominator carries evidence; the previous value elsewhere."""
    ok = den > 1e-9
    return np.where(ok, num / np.where(ok, den, 1.0), fallback)


def _initial(batch: _Batch, n_groups: int, forgetting: bool) -> np.ndarray:
    """Start from the textbook values, with P(L0) read off the first answers:
    first-answer accuracy = G + P(L0) (1 - S - G)."""
    guess, slip = 0.2, 0.1
    firsts = batch.column(0)
    first_mean = _ratio(np.bincount(batch.group, weights=firsts, minlength=n_groups),
                        np.bincount(batch.group, minlength=n_groups).astype(float),
                        np.full(n_groups, 0.5))
    init = np.empty((n_groups, 5))
    init[:, 0] = _clip("p_init", (first_mean - guess) / (1.0 - slip - guess))
    init[:, 1] = 0.1
    init[:, 2] = slip
    init[:, 3] = guess
    init[:, 4] = 0.02 if forgetting else 0.0
    return init


def fit_sequences(sequences_by_key: Mapping[Hashable, Sequence[Sequence[float]]], *,
                  forgetting: bool = False, max_iter: int = MAX_ITERATIONS,
                  tol: float = TOLERANCE,
                  max_observations: Optional[int] = MAX_OBSERVATIONS,
                  prior: Optional[BKTParams] = None,
                  prior_strength: float = PRIOR_STRENGTH,
                  start: Optional[Mapping[Hashable, BKTParams]] = None) -> dict:
    """``{key: FitResult}``: one independent EM fit per key, all run as one batch.

    ``sequences_by_key[key]`` is a list of answer sequences (one per student, credits in [0, 1]
    in chronological order). Empty sequences are ignored; a key without any answer is left
    out of the result. ``prior``: shrink every estimate toward these parameters with the
    weight of ``prior_strength`` answers (maximum a posteriori); None: maximum likelihood.
    ``start``: parameters to start EM from per key (e.g. the previous fit: a refit after some
    new evidence then converges in a few iterations); other keys start from textbook values.
    """
    keys, seqs, groups = [], [], []
    for key, sequences in sequences_by_key.items():
        chosen = _subsample([s for s in sequences if len(s)], max_observations)
        if not chosen:
            continue
        groups.extend([len(keys)] * len(chosen))
        seqs.extend(chosen)
        keys.append(key)
    if not keys:
        return {}
    batch = _Batch(seqs, groups)
    init = _initial(batch, len(keys), forgetting)
    for i, key in enumerate(keys):
        previous = (start or {}).get(key)
        if previous is not None:
            init[i] = [_clip(name, np.array(getattr(previous, name)))
                       for name in ("p_init", "p_transit", "p_slip", "p_guess", "p_forget")]
            init[i, 4] = max(init[i, 4], 0.02) if forgetting else 0.0
    prior_row = None if prior is None else np.array(
        [prior.p_init, prior.p_transit, prior.p_slip, prior.p_guess, prior.p_forget])
    params, iterations = init, np.zeros(len(keys), dtype=np.int64)
    converged = np.zeros(len(keys), dtype=bool)
    pending = np.arange(len(keys))
    groups_arr = np.asarray(groups)
    current = batch
    while len(pending) and iterations[pending].max() < max_iter:
        # fast groups drop out: once a third of the answers belong to converged groups, the
        # rest continue in a smaller batch (its cost is proportional to its answers)
        sub, its, done = _em(current, len(pending), params[pending], forgetting=forgetting,
                             max_iter=max_iter - int(iterations[pending].max()), tol=tol,
                             prior=prior_row, strength=prior_strength if prior else 0.0,
                             yield_share=1.0 / 3.0)
        params[pending] = sub
        iterations[pending] += its
        converged[pending[done]] = True
        pending = pending[~done]
        if len(pending) and done.any():
            remap = np.full(len(keys), -1)
            remap[pending] = np.arange(len(pending))
            keep = np.flatnonzero(remap[groups_arr] >= 0)
            current = _Batch([seqs[i] for i in keep], remap[groups_arr[keep]])
        elif not done.any():
            break  # max_iter reached
    ll = _log_likelihood(batch, len(keys), params)
    n_obs = np.bincount(batch.group, weights=batch.lengths, minlength=len(keys))
    n_seq = np.bincount(batch.group, minlength=len(keys))
    return {key: FitResult(p_init=float(params[i, 0]), p_transit=float(params[i, 1]),
                           p_slip=float(params[i, 2]), p_guess=float(params[i, 3]),
                           p_forget=float(params[i, 4]), observations=int(n_obs[i]),
                           students=int(n_seq[i]), log_likelihood=float(ll[i]),
                           iterations=int(iterations[i]), converged=bool(converged[i]))
            for i, key in enumerate(keys)}


def _subsample(sequences: list, cap: Optional[int]) -> list:
    """Whole sequences, in a fixed pseudo-random order, until ``cap`` answers are taken."""
    if cap is None or sum(len(s) for s in sequences) <= cap:
        return sequences
    order = np.random.default_rng(len(sequences)).permutation(len(sequences))
    chosen, taken = [], 0
    for i in order:
        if taken >= cap:
            break
        chosen.append(sequences[i])
        taken += len(sequences[i])
    return chosen


def fit_course(sequences_by_skill: Mapping[str, Sequence[Sequence[float]]], *,
               forgetting: bool = False, defaults: BKTParams = DEFAULT_PARAMS,
               min_observations: int = MIN_OBSERVATIONS, min_students: int = MIN_STUDENTS,
               max_observations: Optional[int] = MAX_OBSERVATIONS,
               max_iter: int = MAX_ITERATIONS, tol: float = TOLERANCE,
               prior_strength: float = PRIOR_STRENGTH,
               start: Optional[Mapping[str, BKTParams]] = None
               ) -> tuple[Optional[FitResult], dict[str, SkillFit]]:
    """Parameters for every skill of a course: ``(course-wide fit or None, {skill: SkillFit})``.

    First the fit of all skills pooled (maximum likelihood), when the course has enough
    evidence; then every skill with enough evidence of its own, shrunk toward the pooled
    parameters (or toward ``defaults`` without a pooled fit) with the weight of
    ``prior_strength`` answers. Skills with too little evidence use the pooled parameters, or
    ``defaults``. ``defaults.mastery_threshold`` is carried into every returned ``BKTParams``.
    ``start``: the previous fit (``{skill: params}``, :data:`COURSE` for the pooled one) to
    start EM from.
    """
    evidence = {skill: (sum(len(s) for s in seqs), sum(1 for s in seqs if len(s)))
                for skill, seqs in sequences_by_skill.items()}
    pooled = [s for seqs in sequences_by_skill.values() for s in seqs if len(s)]
    course = None
    if sum(len(s) for s in pooled) >= min_observations and len(pooled) >= min_students:
        course = fit_sequences({COURSE: pooled}, forgetting=forgetting,
                               max_observations=max_observations, max_iter=max_iter,
                               tol=tol, start=start)[COURSE]
    threshold = defaults.mastery_threshold
    fallback = course.params(threshold) if course else defaults
    own = {skill: sequences_by_skill[skill] for skill, (obs, students) in evidence.items()
           if obs >= min_observations and students >= min_students}
    fits = fit_sequences(own, forgetting=forgetting, max_observations=max_observations,
                         max_iter=max_iter, tol=tol, prior=fallback,
                         prior_strength=prior_strength, start=start)
    out = {}
    for skill, (obs, students) in evidence.items():
        result = fits.get(skill)
        if result is not None:
            out[skill] = SkillFit(skill, "fitted", result.params(threshold), obs, students,
                                  result)
        else:
            out[skill] = SkillFit(skill, "course" if course else "default", fallback, obs,
                                  students)
    return course, out


# ---------------------------------------------------------------------------------------------
# Prediction (what the fitted model expects of the next answer)
# ---------------------------------------------------------------------------------------------

def predict_next(sequences: Sequence[Sequence[float]], params: Sequence[BKTParams]) -> np.ndarray:
    """P(next answer correct | the answers before it) for every answer of every sequence, with
    sequence ``i`` traced under ``params[i]``: concatenated in input order.

    The update is exactly ``calc.bkt_update`` (partial credit interpolates the posteriors),
    vectorised across sequences, so it scores the numbers the product shows.
    """
    seqs = [np.asarray(s, dtype=np.float64) for s in sequences]
    keep = [i for i, s in enumerate(seqs) if len(s)]
    if not keep:
        return np.zeros(0)
    batch = _Batch([seqs[i] for i in keep], np.arange(len(keep)))
    table = np.array([[p.p_init, p.p_transit, p.p_slip, p.p_guess, p.p_forget]
                      for p in (params[i] for i in keep)])
    p0, tr, sl, gu, fo = (table[batch.group, k] for k in range(5))
    out = np.empty(len(batch.obs))
    pi = p0
    for t in range(batch.steps):
        m = batch.active[t]
        lo = batch.offsets[t]
        c = batch.column(t)
        pi = pi[:m]
        s, g, f, tt = sl[:m], gu[:m], fo[:m], tr[:m]
        out[lo:lo + m] = pi * (1.0 - s) + (1.0 - pi) * g
        right = pi * (1.0 - s)
        right = right / np.maximum(right + (1.0 - pi) * g, _TINY)
        wrong = pi * s
        wrong = wrong / np.maximum(wrong + (1.0 - pi) * (1.0 - g), _TINY)
        post = wrong + c * (right - wrong)
        pi = post * (1.0 - f) + (1.0 - post) * tt
    return out[batch.pos]
