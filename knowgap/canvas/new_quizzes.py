"""New Quizzes (Canvas' ``quiz_lti`` engine) in the shapes the rest of the service already reads.

Pure, no I/O. Three conversions:

* ``normalize_quiz``: a ``NewQuiz`` of ``GET /api/quiz/v1/courses/:cid/quizzes`` as a
  Classic-Quiz-like dict (``id, title, assignment_id, points_possible, published, due_at,
  scoring_policy, allowed_attempts, source: "new"``);
* ``normalize_item``: a ``QuizItem`` of ``.../quizzes/:assignment_id/items`` as a Classic
  ``QuizQuestion``-like dict (``id, quiz_id, position, question_name, question_type,
  question_text`` (the item body, HTML), ``points_possible, answers [{id, text, weight}]``,
  plus ``interaction_type`` and ``source: "new"``);
* ``student_analysis_results``: the JSON ``student_analysis`` report of the New Quizzes Reports
  API as ``QuestionResult`` records (``knowgap.canvas.results``).

Identifiers. A New Quiz is identified by its assignment id, and its items by ids from the New
Quizzes service: both come from other sequences than Classic quiz and question ids, so in a
course that mixes the engines the same number can name a Classic quiz and a New Quiz (or a
question and an item). Stored and served ids of New Quizzes therefore carry a prefix:
``nq-<assignment id>`` for the quiz and ``nq-<item id>`` for an item. ``quiz_key`` /
``item_key`` build them, ``assignment_of`` reads the assignment id back.

The report. Instructure documents the report flow (``POST .../reports`` with
``quiz_report[report_type]=student_analysis`` and ``quiz_report[format]=json``, a Progress
object, ``results.url`` to download) and, for the CSV form, its columns: per student attempt
``name, id (Canvas user id), sis_id, section, section_id, section_sis_id, submitted, attempt``,
then for every item the answer given and the points earned, then ``n_correct, n_incorrect,
score``. The JSON form carries the same per attempt, with the per-item columns as a list
(``item_responses: [{item_id, position, question, answer, points, points_possible}]``).
``student_analysis_rows`` accepts the rows as a bare list or wrapped in an object (under
``student_analysis``, ``rows``, ``students`` or ``data``), and the per-item list under
``item_responses``, ``items`` or ``responses``; an item answered with no ``points`` is
ungraded (an essay waiting for the teacher). Every row is one attempt; all attempts count.
"""
from __future__ import annotations

from datetime import timezone
from typing import Any, Iterable, Optional

from knowgap.canvas.results import NEW, QuestionResult, normalize_correct, verdict
from knowgap.core.clock import parse as parse_time
from knowgap.core.numbers import finite_float
from knowgap.topics.text import html_to_text

PREFIX = "nq-"

#: ``quiz_settings.multiple_attempts.score_to_keep`` -> the Classic ``scoring_policy`` names
#: the mastery calculation knows.
SCORE_TO_KEEP = {"highest": "keep_highest", "latest": "keep_latest", "average": "keep_average",
                 "first": "keep_first"}

#: ``interaction_type_slug`` -> the Classic question type that behaves the same, so code that
#: looks at ``question_type`` (topics, heuristics, item analysis) needs no second table.
CLASSIC_TYPES = {
    "choice": "multiple_choice_question",
    "true-false": "true_false_question",
    "multi-answer": "multiple_answers_question",
    "matching": "matching_question",
    "numeric": "numerical_question",
    "formula": "calculated_question",
    "rich-fill-blank": "fill_in_multiple_blanks_question",
    "essay": "essay_question",
    "file-upload": "file_upload_question",
    "ordering": "ordering_question",
    "categorization": "categorization_question",
    "hot-spot": "hot_spot_question",
}



def quiz_key(assignment_id) -> str:
    return f"{PREFIX}{assignment_id}"


def item_key(item_id) -> str:
    return f"{PREFIX}{item_id}"


def is_new_quiz_id(quiz_id) -> bool:
    return isinstance(quiz_id, str) and quiz_id.startswith(PREFIX)


def assignment_of(quiz_id: str) -> str:
    """The assignment id inside a ``nq-`` quiz id."""
    return quiz_id[len(PREFIX):]


# ------------------------------------------------------------------ quizzes and items

def normalize_quiz(quiz: dict) -> dict:
    assignment_id = quiz.get("id")
    attempts = (quiz.get("quiz_settings") or {}).get("multiple_attempts") or {}
    policy = SCORE_TO_KEEP.get(attempts.get("score_to_keep"), "keep_highest")
    limit = attempts.get("attempt_limit")
    if not attempts.get("multiple_attempts_enabled"):
        allowed = 1
    elif limit is False or limit is None:
        allowed = -1                                  # unlimited, as Classic says it
    else:
        allowed = attempts.get("max_attempts") or -1
    return {"id": quiz_key(assignment_id), "title": quiz.get("title") or "",
            "assignment_id": assignment_id, "points_possible": quiz.get("points_possible"),
            "published": quiz.get("published"), "due_at": quiz.get("due_at"),
            "unlock_at": quiz.get("unlock_at"), "lock_at": quiz.get("lock_at"),
            "scoring_policy": policy, "allowed_attempts": allowed,
            "question_count": None, "updated_at": quiz.get("updated_at"),
            "quiz_type": "assignment", "source": NEW}


def _choices(entry: dict) -> list[dict]:
    """``[{id, text, weight}]`` answer choices of a choice-like item (weight 100 = correct)."""
    slug = entry.get("interaction_type_slug")
    data = entry.get("interaction_data") or {}
    value = (entry.get("scoring_data") or {}).get("value")
    if slug == "true-false":
        truth = value is True or str(value).lower() == "true"
        return [{"id": "true", "text": data.get("true_choice") or "True",
                 "weight": 100 if truth else 0},
                {"id": "false", "text": data.get("false_choice") or "False",
                 "weight": 0 if truth else 100}]
    if slug in ("choice", "multi-answer"):
        right = set(value) if isinstance(value, list) else {value}
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("position") or 0)
        return [{"id": str(c.get("id")), "text": html_to_text(c.get("item_body")),
                 "weight": 100 if c.get("id") in right else 0} for c in choices]
    return []


def normalize_item(item: dict, quiz_id: str) -> dict:
    """A quiz item as a Classic question (a stimulus becomes a ``text_only_question``)."""
    entry = item.get("entry") or {}
    stimulus = item.get("entry_type") == "Stimulus"
    slug = "stimulus" if stimulus else entry.get("interaction_type_slug")
    return {"id": item_key(item.get("id")), "quiz_id": quiz_id,
            "position": item.get("position"), "question_name": entry.get("title") or "",
            "question_type": ("text_only_question" if stimulus
                              else CLASSIC_TYPES.get(slug, f"{slug}_question")),
            "question_text": entry.get("item_body") or entry.get("body") or "",
            "points_possible": 0.0 if stimulus else finite_float(item.get("points_possible")),
            "answers": [] if stimulus else _choices(entry), "interaction_type": slug,
            "source": NEW}


# ------------------------------------------------------------------ the report

_ROW_KEYS = ("student_analysis", "rows", "students", "data")
_ITEM_KEYS = ("item_responses", "items", "responses")


def student_analysis_rows(report: Any) -> list[dict]:
    """The per-attempt rows of a ``student_analysis`` report (see the module docstring)."""
    if isinstance(report, dict):
        report = next((report[k] for k in _ROW_KEYS if isinstance(report.get(k), list)), [])
    return [r for r in report or [] if isinstance(r, dict)]


def _responses(row: dict) -> list[dict]:
    items = next((row[k] for k in _ITEM_KEYS if isinstance(row.get(k), list)), [])
    return [i for i in items if isinstance(i, dict) and i.get("item_id") is not None]


def _iso(value) -> Optional[str]:
    """Canvas' ISO ``...Z`` form of a report timestamp (``2024-09-05T12:00:00Z``,
    ``2024-09-05 12:00:00 UTC`` or with an offset); unparseable values are kept."""
    if not isinstance(value, str) or not value.strip():
        return None
    when = parse_time(value.strip().replace(" UTC", "+00:00"))
    if when is None:
        return value
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _answer_ids(answer, choices: list[dict]) -> tuple[str, ...]:
    """The choice ids whose text the report's answer names (several for multi-answer,
    which the report lists comma-separated). Choice texts are already plain text
    (``normalize_item``); answers are compared as visible text, case-insensitively."""
    if not choices or answer is None:
        return ()
    texts = [c["text"].lower() for c in choices]
    if isinstance(answer, list):
        wanted = {html_to_text(a).lower() for a in answer}
    else:
        text = html_to_text(answer).lower()
        wanted = {text} if text in texts else {p.strip() for p in text.split(",")}
    return tuple(c["id"] for c, t in zip(choices, texts) if t in wanted and t)


def student_analysis_results(report: Any, quiz_id: str,
                             questions: Iterable[dict] = ()) -> list[QuestionResult]:
    """``QuestionResult`` records of one New Quiz's report. ``questions``: the quiz's items as
    ``normalize_item`` returns them (points possible when the report omits them, and the
    answer choices for ``answer_ids``)."""
    known = {q["id"]: q for q in questions}
    out: dict = {}
    for row in student_analysis_rows(report):
        sid, attempt = row.get("id", row.get("user_id")), row.get("attempt")
        if sid is None or isinstance(attempt, bool) or not isinstance(attempt, (int, str)):
            continue
        try:
            attempt = int(attempt)
        except ValueError:
            continue
        graded_at = _iso(row.get("graded_at") or row.get("submitted"))
        for response in _responses(row):
            qid = item_key(response["item_id"])
            question = known.get(qid) or {}
            possible = finite_float(response.get("points_possible"))
            if possible is None:
                possible = finite_float(question.get("points_possible"))
            points = finite_float(response.get("points"))
            credit = normalize_correct(None, points, possible) if points is not None else None
            result = QuestionResult(
                quiz_id=quiz_id, question_id=qid, student_id=str(sid), attempt=attempt,
                credit=credit, points=points, points_possible=possible, graded_at=graded_at,
                source=NEW, correct=verdict(credit),
                answer_ids=_answer_ids(response.get("answer"), question.get("answers") or []))
            out[(result.student_id, qid, attempt)] = result
    return list(out.values())
