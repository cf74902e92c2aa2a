"""Study plan ordering: weakest skills first, missed questions easier to harder. Pure.

* A skill is in the plan when the student has evidence on it and has not mastered it. Weakest
  first means lowest BKT mastery probability, then lowest score, then MORE evidence first (the
  more answers say a skill is weak, the surer that it is).
* A question is missed when the student's latest attempt of its quiz did not earn full credit
  (partial credit is still a gap to close, as in KnowGap); ungraded answers are not missed.
* Questions of a skill go from easier to harder: highest difficulty index (proportion of the
  class answering correctly) first; questions without a difficulty yet go last; ties by
  quiz, then question position.
"""
from __future__ import annotations

from typing import Iterable, Mapping


def _number(value, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else default


def weakest_first(skills: Iterable[Mapping]) -> list[Mapping]:
    """Skills with evidence and not mastered, weakest first (see the module docstring)."""
    open_skills = [s for s in skills if (s.get("questions_attempted") or 0) > 0
                   and not s.get("mastered")]
    return sorted(open_skills, key=lambda s: (
        _number(s.get("p_mastery"), _number(s.get("score"), 0.0) / 100.0),
        _number(s.get("score"), 0.0), -(s.get("evidence_count") or 0), str(s.get("skill"))))


def missed_questions(rows: Iterable[Mapping]) -> dict[str, dict]:
    """``{question_id: {quiz_id, attempt, credit}}`` missed in the latest attempt of each quiz.

    ``rows``: evidence rows ``{quiz_id, question_id, attempt, credit}``.
    """
    rows = list(rows)
    latest: dict = {}
    for r in rows:
        if r["attempt"] is not None and r["attempt"] > latest.get(r["quiz_id"], -1):
            latest[r["quiz_id"]] = r["attempt"]
    out = {}
    for r in rows:
        credit = r.get("credit")
        if r["attempt"] == latest.get(r["quiz_id"]) and credit is not None and credit < 1.0:
            out[str(r["question_id"])] = {"quiz_id": str(r["quiz_id"]),
                                          "attempt": r["attempt"], "credit": credit}
    return out


def easier_first(questions: Iterable[Mapping]) -> list[Mapping]:
    """``questions``: ``{difficulty, quiz_id, position, question_id}``; easier first."""
    return sorted(questions, key=lambda q: (
        q.get("difficulty") is None, -_number(q.get("difficulty"), 0.0), str(q.get("quiz_id")),
        _number(q.get("position"), float("inf")), str(q.get("question_id"))))
