"""Benchmark: does the mastery model predict students' answers, and is it as good as pyBKT?

Not a test: it prints figures. Run ``.venv/bin/python bench/mastery_model.py`` (``--quick``
for a smaller run). pyBKT (``pip install pyBKT``, see the README) is a development dependency
used here only, as the reference implementation of BKT fitting.

Data (generated, with a fixed seed, in the shape a course sync stores: evidence rows
``[quiz_id, question_id, attempt, graded_at, credit, points_possible]`` per student and a
question -> skill map):

(a) **learning**: several synthetic courses (30 to 500 students, 12 skills, 10 weekly quizzes,
    each quiz covering 1-3 skills with 2-4 questions each; skills come back in later quizzes)
    generated from a known BKT process with parameters drawn per skill. Students skip 10 % of
    quizzes and retake a quiz (up to 3 attempts) more often the lower they scored; every answer
    is a BKT opportunity, so students learn between and during attempts.
(b) **no learning**: the same course shapes, but every student has a fixed ability per skill
    (Beta-distributed around a per-skill mean) and answers right with that probability: the
    situation percentage-correct is made for.

Answers are binary in both (pyBKT only takes 0/1 and AUC needs binary outcomes); partial credit
is handled by the project as described in ``achieveup/mastery/fit.py`` and unit-tested there.

Metric: next-answer prediction on held-out students, 5-fold by student. For every answer of a
held-out student, each method predicts P(correct) from that student's earlier answers on the
skill only. Methods: percentage-correct (fraction of earlier answers right; the training folds'
skill mean before the first answer), the project's BKT with the default parameters, the
project's BKT with parameters fitted on the training folds (``achieveup.mastery.fit``:
per-skill EM, course-wide or default fallback), and pyBKT (``Model(num_fits=5)``, its defaults)
fitted on the same training folds. The answer sequences are built by the project's own code
(``calc.group_rows`` + ``calc.skill_sequences``), and pyBKT receives exactly the same sequences.
AUC and RMSE are computed over all held-out predictions of a scenario (every course, every
fold). Parameter recovery on (a): each method fitted on all students of a course, mean absolute
error of (p_init, p_transit, p_slip, p_guess) against the generating values, over all skills.

Last: the cost of fitting the 1,000-student x 40-skill course of ``bench/analytics.py``
(900,000 answers) inside the recompute a course sync runs, against the same recompute without a
fit, in this process.

The last line is ``mastery-model: auc=… pybkt_auc=… ratio=… rmse=… pybkt_rmse=…`` (scenario (a),
project fitted vs pyBKT).
"""
from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from achieveup.mastery import calc, fit  # noqa: E402
from achieveup.mastery import model as course_model  # noqa: E402

FOLDS = 5
PARAMS = ("p_init", "p_transit", "p_slip", "p_guess")


# ------------------------------------------------------------------ synthetic courses


@dataclass
class Course:
    name: str
    evidence: dict          # student id -> evidence rows
    question_skills: dict   # question id -> [skill]
    truth: dict             # skill -> {param: value} (scenario (a) only)


def _layout(rng, n_skills: int, n_quizzes: int) -> list[list[tuple[str, str]]]:
    """Per quiz: its (question id, skill) pairs. Skill k is introduced around quiz
    k * n_quizzes / n_skills and reviewed in a later quiz half of the time."""
    quizzes: list[list[tuple[str, str]]] = [[] for _ in range(n_quizzes)]
    qid = 0
    for k in range(n_skills):
        skill = f"Skill {k:02d}"
        first = min(n_quizzes - 1, k * n_quizzes // n_skills)
        where = [first]
        if first + 1 < n_quizzes and rng.random() < 0.5:
            where.append(int(rng.integers(first + 1, n_quizzes)))
        for quiz in where:
            for _ in range(int(rng.integers(2, 5))):
                quizzes[quiz].append((str(100000 + qid), skill))
                qid += 1
    return quizzes


def generate(rng, name: str, n_students: int, *, learning: bool, n_skills: int = 12,
             n_quizzes: int = 10) -> Course:
    quizzes = _layout(rng, n_skills, n_quizzes)
    skills = [f"Skill {k:02d}" for k in range(n_skills)]
    truth = {s: {"p_init": rng.uniform(0.05, 0.6), "p_transit": rng.uniform(0.03, 0.3),
                 "p_slip": rng.uniform(0.02, 0.2), "p_guess": rng.uniform(0.05, 0.3)}
             for s in skills}
    means = {s: rng.uniform(0.35, 0.85) for s in skills}
    evidence = {}
    for st in range(n_students):
        if learning:
            known = {s: rng.random() < truth[s]["p_init"] for s in skills}
        else:
            ability = {s: rng.beta(6 * means[s], 6 * (1 - means[s])) for s in skills}
        rows = []
        for qz, items in enumerate(quizzes):
            if not items or rng.random() < 0.1:
                continue
            for attempt in (1, 2, 3):
                right = 0
                for qid, skill in items:
                    if learning:
                        t = truth[skill]
                        ok = rng.random() < (1 - t["p_slip"] if known[skill] else t["p_guess"])
                        if not known[skill] and rng.random() < t["p_transit"]:
                            known[skill] = True
                    else:
                        ok = rng.random() < ability[skill]
                    right += ok
                    rows.append([str(2000 + qz), qid, attempt,
                                 f"2024-09-{1 + 2 * qz + attempt:02d}T12:00:00Z",
                                 1.0 if ok else 0.0, 1.0])
                if rng.random() > 0.75 * (1 - right / len(items)):
                    break  # the lower the score, the likelier a retake
        evidence[str(1000 + st)] = sorted(rows, key=lambda r: (r[0], r[1], r[2]))
    qskills = {qid: [skill] for items in quizzes for qid, skill in items}
    return Course(name, evidence, qskills, truth if learning else {})


def sequences_of(course: Course) -> dict:
    """student -> {skill: [credits]} in the order the product traces them."""
    prepared = calc.prepare_course_skills(course.question_skills)
    return {sid: calc.skill_sequences(calc.group_rows(rows), prepared)
            for sid, rows in course.evidence.items()}


# ------------------------------------------------------------------ methods


def _flatten(per_student: dict, students: list) -> tuple[list, list, list]:
    """(sequences, skill of each, student of each) for ``students``."""
    seqs, skills, owners = [], [], []
    for sid in students:
        for skill, seq in per_student[sid].items():
            seqs.append(seq)
            skills.append(skill)
            owners.append(sid)
    return seqs, skills, owners


def percentage_predictions(train: list, train_skills: list, test: list,
                           test_skills: list) -> np.ndarray:
    mean = {}
    for seq, skill in zip(train, train_skills):
        acc = mean.setdefault(skill, [0.0, 0])
        acc[0] += sum(seq)
        acc[1] += len(seq)
    out = []
    for seq, skill in zip(test, test_skills):
        total, n = mean.get(skill, [0.5, 1])
        first = total / n if n else 0.5
        right = 0.0
        for i, c in enumerate(seq):
            out.append(right / i if i else first)
            right += c
    return np.array(out)


def project_fit(train: list, train_skills: list) -> dict:
    by_skill: dict = {}
    for seq, skill in zip(train, train_skills):
        by_skill.setdefault(skill, []).append(seq)
    _, fits = fit.fit_course(by_skill)
    return {skill: f.params for skill, f in fits.items()}


def project_predictions(params_by_skill: dict, test: list, test_skills: list) -> np.ndarray:
    return fit.predict_next(test, [params_by_skill.get(s, calc.DEFAULT_PARAMS)
                                   for s in test_skills])


def _frame(seqs: list, skills: list, owners: list):
    import pandas as pd

    rows = []
    order = 0
    for seq, skill, sid in zip(seqs, skills, owners):
        for c in seq:
            rows.append((sid, skill, int(c), order))
            order += 1
    return pd.DataFrame(rows, columns=["user_id", "skill_name", "correct", "order_id"])


def pybkt_model(train: list, train_skills: list, train_owners: list, seed: int):
    from pyBKT.models import Model

    model = Model(seed=seed, num_fits=5)
    model.fit(data=_frame(train, train_skills, train_owners))
    return model


def pybkt_predictions(model, test: list, test_skills: list, test_owners: list) -> np.ndarray:
    frame = _frame(test, test_skills, test_owners)
    predicted = model.predict(data=frame).sort_values("order_id")
    return predicted["correct_predictions"].to_numpy(dtype=float)


def pybkt_params(model) -> dict:
    table = model.params()["value"]
    names = {"p_init": "prior", "p_transit": "learns", "p_slip": "slips", "p_guess": "guesses"}
    out = {}
    for skill in table.index.get_level_values(0).unique():
        out[skill] = {p: float(table.loc[(skill, names[p], "default")]) for p in PARAMS}
    return out


# ------------------------------------------------------------------ metrics


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    ranks = np.empty(len(p))
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    for start, count in zip(first, counts):
        ranks[order[start:start + count]] = start + (count + 1) / 2.0
    pos = y > 0.5
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - p) ** 2)))


# ------------------------------------------------------------------ evaluation


METHODS = ("percentage-correct", "BKT default parameters", "BKT fitted (project)", "pyBKT")


def evaluate(courses: list[Course], seed: int) -> tuple[dict, dict]:
    """Held-out predictions of every method over all courses and folds; returns
    ({method: (auc, rmse)}, timing {method: seconds of fitting})."""
    predictions = {m: [] for m in METHODS}
    truth = []
    timing = {"BKT fitted (project)": 0.0, "pyBKT": 0.0}
    for ci, course in enumerate(courses):
        per_student = sequences_of(course)
        students = sorted(per_student)
        folds = np.random.default_rng(seed + ci).permutation(len(students)) % FOLDS
        for k in range(FOLDS):
            train_ids = [s for s, f in zip(students, folds) if f != k]
            test_ids = [s for s, f in zip(students, folds) if f == k]
            train, train_skills, train_owners = _flatten(per_student, train_ids)
            test, test_skills, test_owners = _flatten(per_student, test_ids)
            if not test:
                continue
            truth.append(np.array([c for seq in test for c in seq]))
            predictions["percentage-correct"].append(
                percentage_predictions(train, train_skills, test, test_skills))
            predictions["BKT default parameters"].append(
                project_predictions({}, test, test_skills))
            t = time.perf_counter()
            params = project_fit(train, train_skills)
            timing["BKT fitted (project)"] += time.perf_counter() - t
            predictions["BKT fitted (project)"].append(
                project_predictions(params, test, test_skills))
            t = time.perf_counter()
            model = pybkt_model(train, train_skills, train_owners, seed=seed + 31 * ci + k)
            timing["pyBKT"] += time.perf_counter() - t
            predictions["pyBKT"].append(
                pybkt_predictions(model, test, test_skills, test_owners))
    y = np.concatenate(truth)
    return ({m: (auc(y, np.concatenate(p)), rmse(y, np.concatenate(p)))
             for m, p in predictions.items()}, timing)


def recovery(courses: list[Course], seed: int) -> dict:
    """MAE of the fitted parameters against the generating ones, per method and parameter."""
    errors = {"BKT fitted (project)": [], "pyBKT": []}
    own = total = 0
    for ci, course in enumerate(courses):
        per_student = sequences_of(course)
        seqs, skills, owners = _flatten(per_student, sorted(per_student))
        by_skill: dict = {}
        for seq, skill in zip(seqs, skills):
            by_skill.setdefault(skill, []).append(seq)
        _, fits = fit.fit_course(by_skill)
        ref = pybkt_params(pybkt_model(seqs, skills, owners, seed=seed + ci))
        for skill, true in course.truth.items():
            if skill not in fits:
                continue
            total += 1
            own += fits[skill].source == "fitted"
            errors["BKT fitted (project)"].append(
                [abs(getattr(fits[skill].params, p) - true[p]) for p in PARAMS])
            errors["pyBKT"].append([abs(ref[skill][p] - true[p]) for p in PARAMS])
    out = {m: dict(zip(PARAMS, np.mean(np.array(e), axis=0))) for m, e in errors.items()}
    out["skills"] = (own, total)
    return out


def fit_cost() -> dict:
    """The bench/analytics course: its recompute with and without a (first, cold) fit, and the
    EM alone, cold and as a refit after 10 % more students (started from the previous fit, as
    the sync does), in this process."""
    from bench.analytics import COURSE, N_SKILLS, N_STUDENTS, seed
    from achieveup.mastery import service as mastery
    from achieveup.mastery import store
    from knowgap.canvas.hosts import default_host
    from knowgap.core import db as dbmod
    from knowgap.core.tenancy import scoped
    from tests.conftest import make_config

    logging.getLogger("knowgap.db").setLevel(logging.ERROR)  # "embedded database" notice
    config = make_config(log_level="ERROR")
    db = scoped(dbmod.connect("", "bench_mastery_model"), default_host(config))
    seed(db)
    mastery.compute_course(db, config, COURSE)      # warm-up (caches, first-touch memory)
    t = time.perf_counter()
    mastery.compute_course(db, config, COURSE)
    plain = time.perf_counter() - t
    t = time.perf_counter()
    _, docs, _ = mastery.compute_course_state(db, config, COURSE, refit=True)
    with_fit = time.perf_counter() - t
    answers = sum(d["evidence"]["observations"] for d in docs if d["scope"] == "skill")
    prepared = calc.prepare_course_skills(store.question_skill_map(db, COURSE))
    per_student = [calc.skill_sequences(calc.group_rows(store.unpack_evidence(e["packed"])),
                                        prepared)
                   for e in store.fetch_all(db[store.EVIDENCE], {"course_id": COURSE})]

    def by_skill(students):
        out: dict = {s: [] for s in prepared._skills}
        for seqs in students:
            for skill, seq in seqs.items():
                out[skill].append(seq)
        return out

    everyone = by_skill(per_student)
    t = time.perf_counter()
    course_fit, fits = fit.fit_course(everyone)
    em_cold = time.perf_counter() - t
    before, before_fits = fit.fit_course(by_skill(per_student[:len(per_student) * 9 // 10]))
    start = {s: f.params for s, f in before_fits.items() if f.source == "fitted"}
    start[fit.COURSE] = before.params()
    t = time.perf_counter()
    _, warm = fit.fit_course(everyone, start=start)
    em_warm = time.perf_counter() - t
    return {"students": N_STUDENTS, "skills": N_SKILLS, "answers": answers, "plain": plain,
            "with_fit": with_fit, "em_cold": em_cold, "em_warm": em_warm,
            "iterations_cold": max(f.fit.iterations for f in fits.values() if f.fit),
            "iterations_warm": max(f.fit.iterations for f in warm.values() if f.fit),
            "fitted": sum(1 for f in fits.values() if f.source == "fitted")}


# ------------------------------------------------------------------ main


def _pybkt_kind() -> str:
    try:
        import pyBKT.fit.E_step  # noqa: F401  (the compiled extension)
        return "compiled"
    except ImportError:
        return "pure-Python fallback"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and smaller courses")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-fit-cost", action="store_true",
                        help="skip the 1,000 x 40 fitting-cost measurement")
    args = parser.parse_args()
    try:
        import pyBKT  # noqa: F401
    except ImportError:
        sys.exit("pyBKT is not installed: run `bash scripts/test.sh --co -q` once "
                 "(it installs requirements-dev.txt).")
    sizes = (30, 100, 300) if args.quick else (30, 60, 120, 250, 500)
    rng = np.random.default_rng(args.seed)
    learning = [generate(rng, f"a{n}", n, learning=True) for n in sizes]
    static = [generate(rng, f"b{n}", n, learning=False) for n in sizes]
    print(f"pyBKT {_pybkt_kind()}; courses of {', '.join(map(str, sizes))} students, "
          f"12 skills, 10 quizzes, up to 3 attempts; {FOLDS}-fold by student")
    results = {}
    for label, courses in (("(a) learning", learning), ("(b) no learning", static)):
        answers = sum(len(r) for c in courses for r in c.evidence.values())
        t = time.perf_counter()
        scores, timing = evaluate(courses, args.seed)
        results[label] = scores
        print(f"\n{label}: {answers:,} answers, evaluated in {time.perf_counter() - t:.1f} s "
              f"(fitting: project {timing['BKT fitted (project)']:.2f} s, "
              f"pyBKT {timing['pyBKT']:.2f} s)")
        print(f"  {'method':<26}{'AUC':>8}{'RMSE':>8}")
        for method in METHODS:
            a, r = scores[method]
            print(f"  {method:<26}{a:>8.4f}{r:>8.4f}")
    rec = recovery(learning, args.seed)
    own, total = rec.pop("skills")
    rest = f", {total - own} course-wide" if own < total else ""
    print(f"\n(a) parameter recovery, MAE against the generating values ({total} skills; "
          f"project: {own} fitted on their own evidence{rest})")
    print(f"  {'method':<26}" + "".join(f"{p:>11}" for p in PARAMS))
    for method, errs in rec.items():
        print(f"  {method:<26}" + "".join(f"{errs[p]:>11.4f}" for p in PARAMS))

    a, b = results["(a) learning"], results["(b) no learning"]
    ours, ref, pct = a["BKT fitted (project)"], a["pyBKT"], a["percentage-correct"]
    b_gap = b["BKT fitted (project)"][0] - b["percentage-correct"][0]
    print("\ntargets")
    print(f"  (a) AUC ratio project / pyBKT {ours[0] / ref[0]:.4f} (>= 1.00): "
          f"{'met' if ours[0] >= ref[0] else 'NOT met'}")
    print(f"  (a) project AUC {ours[0]:.4f} vs percentage-correct {pct[0]:.4f} (better): "
          f"{'met' if ours[0] > pct[0] else 'NOT met'}")
    print(f"  (b) project AUC - percentage-correct AUC {b_gap:+.4f} (>= -0.01): "
          f"{'met' if b_gap >= -0.01 else 'NOT met'}")
    if not args.no_fit_cost:
        cost = fit_cost()
        extra = cost["with_fit"] - cost["plain"]
        print(f"\nfitting cost, {cost['students']:,} students x {cost['skills']} skills "
              f"({cost['answers']:,} answers, {cost['fitted']} skills fitted on their own):")
        print(f"  recompute (mastery of every student) {cost['plain']:.2f} s without a fit, "
              f"{cost['with_fit']:.2f} s with a first fit (+{extra:.2f} s)")
        print(f"  EM alone: first fit {cost['em_cold']:.2f} s ({cost['iterations_cold']} "
              f"iterations); refit after 10 % more students, started from the previous fit "
              f"{cost['em_warm']:.2f} s ({cost['iterations_warm']} iterations)")
        print(f"  a sync refits only when >= {course_model.REFIT_GROWTH:.0%} new evidence arrived "
              f"({course_model.REFIT_MIN_NEW_ROWS} rows at least)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MB")
    print(f"mastery-model: auc={ours[0]:.4f} pybkt_auc={ref[0]:.4f} "
          f"ratio={ours[0] / ref[0]:.4f} rmse={ours[1]:.4f} pybkt_rmse={ref[1]:.4f}")


if __name__ == "__main__":
    main()
