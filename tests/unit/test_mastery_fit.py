"""EM fitting of BKT parameters (achieveup.mastery.fit) on data generated with known values."""
import math
import random

import numpy as np
import pytest

from achieveup.mastery import fit
from achieveup.mastery.calc import DEFAULT_PARAMS, BKTParams, bkt_update

TRUE = {
    "easy": BKTParams(p_init=0.4, p_transit=0.2, p_slip=0.08, p_guess=0.25),
    "hard": BKTParams(p_init=0.1, p_transit=0.06, p_slip=0.15, p_guess=0.12),
    "guessy": BKTParams(p_init=0.25, p_transit=0.12, p_slip=0.05, p_guess=0.35),
}
NAMES = ("p_init", "p_transit", "p_slip", "p_guess", "p_forget")


def simulate(params: BKTParams, students: int, length: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(students):
        known = rng.random() < params.p_init
        seq = []
        for _ in range(length):
            seq.append(1.0 if rng.random() < ((1 - params.p_slip) if known else params.p_guess)
                       else 0.0)
            if known:
                known = rng.random() >= params.p_forget
            else:
                known = rng.random() < params.p_transit
        out.append(seq)
    return out


@pytest.fixture(scope="module")
def generated():
    return {name: simulate(p, 1500, 15, seed=i) for i, (name, p) in enumerate(TRUE.items())}


def test_em_recovers_the_generating_parameters(generated):
    fits = fit.fit_sequences(generated)            # maximum likelihood, all skills in one batch
    for name, true in TRUE.items():
        got = fits[name]
        assert got.converged and got.observations == 1500 * 15 and got.students == 1500
        for p in ("p_init", "p_transit", "p_slip", "p_guess"):
            assert getattr(got, p) == pytest.approx(getattr(true, p), abs=0.04), (name, p)
        assert got.p_forget == 0.0


def test_each_skill_is_fitted_independently_of_the_batch(generated):
    together = fit.fit_sequences(generated)
    alone = fit.fit_sequences({"hard": generated["hard"]})
    for p in NAMES:
        assert getattr(alone["hard"], p) == pytest.approx(getattr(together["hard"], p), abs=1e-3)


def test_em_does_not_lower_the_likelihood_of_the_data(generated):
    data = {"easy": generated["easy"]}
    fitted = fit.fit_sequences(data)["easy"]
    start = fit.fit_sequences(data, max_iter=1)["easy"]
    assert fitted.log_likelihood >= start.log_likelihood
    # and the estimate beats the textbook defaults on its own data
    ll_default = _log_likelihood(data["easy"], DEFAULT_PARAMS)
    assert fitted.log_likelihood > ll_default
    assert fitted.log_likelihood == pytest.approx(_log_likelihood(data["easy"], fitted.params()),
                                                  rel=1e-9)


def _log_likelihood(seqs, p: BKTParams) -> float:
    total = 0.0
    for seq in seqs:
        known = p.p_init
        for c in seq:
            right = known * (1 - p.p_slip) + (1 - known) * p.p_guess
            total += math.log(right if c else 1 - right)
            known = bkt_update(known, c, p)
    return total


def test_forgetting_is_fitted_when_enabled():
    true = BKTParams(p_init=0.3, p_transit=0.25, p_slip=0.08, p_guess=0.2, p_forget=0.08)
    data = {"s": simulate(true, 2000, 20, seed=11)}
    with_f = fit.fit_sequences(data, forgetting=True)["s"]
    assert with_f.p_forget == pytest.approx(0.08, abs=0.03)
    assert with_f.p_transit == pytest.approx(0.25, abs=0.05)
    assert fit.fit_sequences(data)["s"].p_forget == 0.0


@pytest.mark.parametrize("sequences", [
    [[1.0] * 10] * 40,                     # all correct
    [[0.0] * 10] * 40,                     # all wrong
    [[1.0]] * 40 + [[0.0]] * 40,           # one attempt each
    [[1.0, 0.0] * 6] * 40,                 # alternating
    [[0.0] * 5 + [1.0] * 5] * 40,          # sudden learning, no noise
    [[1.0] * 5 + [0.0] * 5] * 40,          # "unlearning" (a degenerate fit would invert states)
    [[0.5] * 8] * 40,                      # partial credit only
])
def test_bounds_hold_on_adversarial_data(sequences):
    for forgetting in (False, True):
        got = fit.fit_sequences({"s": sequences}, forgetting=forgetting)["s"]
        for name in NAMES:
            value = getattr(got, name)
            assert math.isfinite(value)
            if name != "p_forget" or forgetting:
                low, high = fit.BOUNDS[name]
                assert low - 1e-12 <= value <= high + 1e-12, (name, value)
        assert got.p_slip < 0.5 and got.p_guess < 0.5
        got.params()  # a valid BKTParams: slip + guess < 1


def test_partial_credit_is_continuous_with_binary_answers(generated):
    data = generated["easy"][:400]
    nudged = [[0.999 if c == 1.0 else 0.001 for c in seq] for seq in data]
    binary = fit.fit_sequences({"s": data})["s"]
    soft = fit.fit_sequences({"s": nudged})["s"]
    for p in ("p_init", "p_transit", "p_slip", "p_guess"):
        assert getattr(soft, p) == pytest.approx(getattr(binary, p), abs=0.01)


def test_fit_course_falls_back_when_a_skill_has_little_evidence(generated):
    data = {"easy": generated["easy"], "hard": generated["hard"],
            "rare": generated["guessy"][:4], "unseen": []}
    course, fits = fit.fit_course(data, defaults=BKTParams(mastery_threshold=0.9))
    assert course is not None and course.observations == (1500 + 1500 + 4) * 15  # pooled
    assert fits["easy"].source == fits["hard"].source == "fitted"
    assert fits["rare"].source == fits["unseen"].source == "course"
    assert fits["rare"].observations == 4 * 15 and fits["rare"].students == 4
    assert fits["unseen"].observations == 0
    assert fits["rare"].params == course.params(0.9)
    assert all(f.params.mastery_threshold == 0.9 for f in fits.values())
    # the fitted skills are estimated on their own answers, not pooled
    assert fits["easy"].params.p_init == pytest.approx(0.4, abs=0.05)
    assert fits["hard"].params.p_init == pytest.approx(0.1, abs=0.05)


def test_fit_course_uses_the_defaults_without_enough_evidence_anywhere():
    defaults = BKTParams(p_init=0.2, p_transit=0.15, p_slip=0.1, p_guess=0.2)
    course, fits = fit.fit_course({"a": [[1.0, 0.0, 1.0]] * 3, "b": []}, defaults=defaults)
    assert course is None
    assert {f.source for f in fits.values()} == {"default"}
    assert fits["a"].params == defaults


def test_shrinkage_pulls_a_small_skill_toward_the_course_fit(generated):
    small = generated["guessy"][:12]
    data = {"easy": generated["easy"], "hard": generated["hard"], "small": small}
    _, shrunk = fit.fit_course(data)
    _, free = fit.fit_course(data, prior_strength=0.0)
    course = fit.fit_sequences({"all": [s for v in data.values() for s in v]})["all"]
    for p in ("p_slip", "p_guess"):
        assert abs(getattr(shrunk["small"].params, p) - getattr(course, p)) <= \
            abs(getattr(free["small"].params, p) - getattr(course, p)) + 1e-9


def test_refit_from_the_previous_fit_converges_faster_to_the_same_answer(generated):
    data = {"easy": generated["easy"]}
    before = fit.fit_sequences({"easy": generated["easy"][:1300]})["easy"]
    cold = fit.fit_sequences(data)["easy"]
    warm = fit.fit_sequences(data, start={"easy": before.params()})["easy"]
    assert warm.iterations < cold.iterations
    for p in NAMES:
        assert getattr(warm, p) == pytest.approx(getattr(cold, p), abs=2e-3)


def test_subsampling_caps_the_answers_deterministically(generated):
    a = fit.fit_sequences({"s": generated["easy"]}, max_observations=3000)["s"]
    b = fit.fit_sequences({"s": generated["easy"]}, max_observations=3000)["s"]
    assert a == b and 3000 <= a.observations < 3000 + 15


def test_predict_next_is_the_tracer_of_calc():
    params = [BKTParams(p_init=0.3, p_transit=0.1, p_slip=0.1, p_guess=0.2),
              BKTParams(p_init=0.5, p_transit=0.2, p_slip=0.05, p_guess=0.3, p_forget=0.1)]
    seqs = [[1.0, 0.0, 0.25, 1.0, 1.0], [0.0, 1.0]]
    got = fit.predict_next(seqs, params)
    expected = []
    for seq, p in zip(seqs, params):
        known = p.p_init
        for c in seq:
            expected.append(known * (1 - p.p_slip) + (1 - known) * p.p_guess)
            known = bkt_update(known, c, p)
    assert got == pytest.approx(expected, abs=1e-12)
    assert len(fit.predict_next([[], [1.0]], params)) == 1


def test_fitted_parameters_are_plain_floats(generated):
    got = fit.fit_sequences({"s": generated["easy"][:200]})["s"]
    assert all(type(getattr(got, n)) is float for n in NAMES)
    assert isinstance(got.iterations, int) and not isinstance(got.converged, np.bool_)
