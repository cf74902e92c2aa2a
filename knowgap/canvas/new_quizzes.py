"""New Quizzes (Canvas' ``quiz_lti`` engine) in the shapes the rest of the service already reads.

Pure, no I/O. Three conversions:

* ``normalize_quiz``: a ``NewQuiz`` of ``GET /api/quiz/v1/courses/:cid/quizzes`` as a
  Classic-Quiz-like dict (``id, title, assignment_id, points_possible, published, due_at,
  scoring_policy, allowed_attempts, source: "new"``);
* ``normalize_item``: a ``QuizItem`` of ``.../quizzes/:assignment_id/items`` as a Classic
  ``QuizQuestion``-like dict (``id, quiz_id, position, question_name, question_type,
  question_text`` (the item body, HTML), ``points_possible, answers [{id, text, weight}]``,
  plus ``interaction_type``, ``entry_ids`` and ``source: "new"``);
* ``parse_report``: the rows of a ``student_analysis`` report (the JSON file, or the CSV form
  turned into the same rows by ``knowgap.canvas.new_quiz_csv``) as ``QuestionResult`` records
  (``knowgap.canvas.results``), with what could not be read said, never dropped.

Identifiers. A New Quiz is identified by its assignment id, and its items by ids from the New
Quizzes service: both come from other sequences than Classic quiz and question ids, so in a
course that mixes the engines the same number can name a Classic quiz and a New Quiz (or a
question and an item). Stored and served ids of New Quizzes therefore carry a prefix:
``nq-<assignment id>`` for the quiz and ``nq-<outer item id>`` for an item (the ids skill
mappings are saved under). ``quiz_key`` / ``item_key`` build them, ``assignment_of`` reads the
assignment id back.

An item has two ids (Instructure's New Quiz Items API; longhornadam/canvasexpert
``api/powergrader/new_quiz_fetch.py``, verified against real courses): the OUTER ``id`` of the
quiz entry, which carries ``points_possible`` and is what the product keys questions by, and
the ``entry.id`` of the question itself, which is what the report's ``item_responses[].item_id``
names. A ``BankEntry`` wraps its question one level deeper (``entry.entry``); both of its ids
are kept. A ``Bank`` draws questions at random when a student starts the quiz, so the items a
student saw may be absent from the list (their ids appear only in reports).

The JSON report (as canvasexpert's ``normalize`` reads it from real courses) is a list, one row
per student attempt (all attempts)::

    {"student_data": {"id": <Canvas user id>, "name", "sis_id", "submitted": "<UTC ISO>",
                      "elapsed": "HH:MM:SS", "attempt": <n>},
     "item_responses": [{"item_id": "<entry id>", "item_type": "<interaction slug>",
                         "answer": "<chosen option's text; essay: HTML>", "score": <points>}]}

Points possible are not in it: they come from the item list (entry id -> outer item). Choice
answers are the option's *text* (several options of a multi-answer item comma-joined, or a
list), matched to the item's choice ids through ``interaction_data``. A response with no
``score`` (or whose ``status``, as the CSV form has it, says it is not graded yet) is ungraded:
credit None, never 0. The submit time is ``submitted`` (``submitted_at`` in some sources).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Optional

from knowgap.canvas.results import NEW, QuestionResult, verdict
from knowgap.core.clock import parse as parse_time
from knowgap.core.numbers import finite_float
from knowgap.topics.text import html_to_text

PREFIX = "nq-"
#: Results of an item the student saw that is not in the quiz's item list (drawn from a bank):
#: kept under the report's own item id, with ``OUTSIDE_NOTE``.
OUTSIDE_PREFIX = "nq-item-"
OUTSIDE_NOTE = ("This item is not in the quiz's item list (drawn at random from an item "
                "bank); its points possible are unknown.")

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

#: A response ``status`` (CSV ``Status``; letters only, lower case) that means "not graded
#: yet". ``Graded`` is what real reports show for scored items; anything else with a score
#: counts as graded.
UNGRADED_STATUSES = frozenset({"notgraded", "ungraded", "pending", "pendinggrading",
                               "pendingreview", "needsgrading", "needsreview", "notyetgraded"})


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


def _question_entry(item: dict) -> tuple[dict, list[str]]:
    """(the question's own entry, every id the report may name it by): a ``BankEntry`` holds
    its question one level deeper (``entry.entry``)."""
    entry = item.get("entry") if isinstance(item.get("entry"), dict) else {}
    ids = [str(entry["id"])] if entry.get("id") is not None else []
    inner = entry.get("entry")
    if item.get("entry_type") == "BankEntry" and isinstance(inner, dict):
        entry = inner
        if inner.get("id") is not None:
            ids.append(str(inner["id"]))
    return entry, ids


def _choice_body(choice: dict):
    # some documented examples write the key in camelCase
    return choice.get("item_body", choice.get("itemBody"))


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
        right = {str(v) for v in value} if isinstance(value, list) else {str(value)}
        choices = sorted((c for c in data.get("choices") or [] if isinstance(c, dict)),
                         key=lambda c: c.get("position") or 0)
        return [{"id": str(c.get("id")), "text": html_to_text(_choice_body(c)),
                 "weight": 100 if str(c.get("id")) in right else 0} for c in choices]
    return []


def normalize_item(item: dict, quiz_id: str) -> dict:
    """A quiz item as a Classic question. A stimulus, and a ``Bank`` (the place where
    questions are drawn at random), become ``text_only_question``s: shown, never scored."""
    entry, entry_ids = _question_entry(item)
    kind = item.get("entry_type")
    placeholder = kind in ("Stimulus", "Bank")
    slug = {"Stimulus": "stimulus", "Bank": "bank"}.get(kind, entry.get("interaction_type_slug"))
    text = entry.get("item_body") or entry.get("body") or ""
    if kind == "Bank" and not text:
        text = f"<p>Questions drawn at random from the item bank {entry.get('title') or ''}</p>"
    return {"id": item_key(item.get("id")), "quiz_id": quiz_id,
            "position": item.get("position"), "question_name": entry.get("title") or "",
            "question_type": ("text_only_question" if placeholder
                              else CLASSIC_TYPES.get(slug, f"{slug}_question")),
            "question_text": text,
            "points_possible": 0.0 if placeholder else finite_float(item.get("points_possible")),
            "answers": [] if placeholder else _choices(entry), "interaction_type": slug,
            "entry_ids": entry_ids, "source": NEW,
            # the instructor's feedback, read by ``knowgap.courses.feedback``
            "feedback": None if placeholder else entry.get("feedback"),
            "answer_feedback": None if placeholder else entry.get("answer_feedback")}


def has_entry_ids(questions: Iterable[dict]) -> bool:
    """Whether a quiz's stored items can be joined to a report (items stored before the entry
    ids were kept cannot: fetch them again)."""
    return any(q.get("entry_ids") for q in questions or ())


# ------------------------------------------------------------------ the report

@dataclass
class ParsedReport:
    """One report read: ``results`` (``parse_report`` only; ``check_report`` leaves it
    empty); ``students`` (Canvas user ids with a row); ``rows``; ``responses`` (answers to
    items, stimuli left out); ``outside`` (of them, answers to items not in the item list, kept
    with ``OUTSIDE_NOTE``); ``problems`` (sentences about rows or responses that could not be
    read: nothing is dropped silently, a caller that stores results must refuse a report with
    problems)."""

    results: list = field(default_factory=list)
    students: set = field(default_factory=set)
    rows: int = 0
    responses: int = 0
    outside: int = 0
    problems: list = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems.append(text)


def report_rows(report: Any) -> list:
    """The rows of a JSON report, which is a list; anything else is not a report."""
    if not isinstance(report, list):
        raise ValueError("the report is not a list of student attempts")
    return report


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                 "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p")


def report_time(value) -> Optional[str]:
    """Canvas' ISO ``...Z`` form of a report's submit time, which is UTC
    (``2024-09-05T12:00:00Z``, with an offset, ``2024-09-05 12:00:00 UTC``, or a spreadsheet's
    ``9/5/2024 12:00``); None when missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().removesuffix(" UTC").strip()
    when = parse_time(text)
    for fmt in _TIME_FORMATS if when is None else ():
        try:
            when = datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
            break
        except ValueError:
            continue
    return None if when is None else when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _canvas_id(value) -> Optional[str]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return str(int(value.strip()))
    return None


def _attempt(value) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value >= 1 else None


def _norm(text) -> str:
    """Visible text, lower case, whitespace collapsed (HTML parsed only when it may be HTML:
    a report has an answer per student and item)."""
    text = str(text or "")
    if "<" in text or "&" in text:
        text = html_to_text(text)
    return " ".join(text.lower().split())


def choice_texts(choices: list[dict]) -> dict[str, str]:
    """{visible text: choice id} of an item's answer choices."""
    by_text: dict[str, str] = {}
    for c in choices or ():
        by_text.setdefault(_norm(c["text"]), c["id"])
    by_text.pop("", None)
    return by_text


def answer_ids(answer, choices: list[dict], by_text: dict | None = None) -> tuple[str, ...]:
    """The choice ids whose visible text the report's answer names (``by_text``:
    ``choice_texts(choices)``, when already known). A multi-answer item's answer is a list, or
    the texts comma-joined: split it into the longest runs that are choice texts, so a choice
    whose own text holds a comma stays one answer."""
    if not choices or answer is None or answer == "":
        return ()
    if by_text is None:
        by_text = choice_texts(choices)
    text = None if isinstance(answer, list) else _norm(answer)
    if text is None:
        picked = {by_text[t] for t in map(_norm, answer) if t in by_text}
    elif text in by_text:
        picked = {by_text[text]}
    else:
        parts = [p.strip() for p in text.split(",")]
        picked, i = set(), 0
        while i < len(parts):
            j = next((j for j in range(len(parts), i, -1)
                      if ", ".join(parts[i:j]) in by_text), None)
            if j is None:
                i += 1
                continue
            picked.add(by_text[", ".join(parts[i:j])])
            i = j
    return tuple(c["id"] for c in choices if c["id"] in picked)


def _graded(response: dict) -> bool:
    status = response.get("status")
    if status and re.sub(r"[^a-z]", "", str(status).lower()) in UNGRADED_STATUSES:
        return False
    score = response.get("score")
    return score is not None and score != ""


@dataclass(frozen=True, slots=True)
class _Item:
    """What every response to one item needs, worked out once per report."""
    question_id: str
    possible: Optional[float]
    choices: list
    texts: dict
    note: Optional[str] = None
    stimulus: bool = False


def _items_by_entry(questions) -> dict[str, _Item]:
    out: dict[str, _Item] = {}
    for q in questions or ():
        item = _Item(q["id"], finite_float(q.get("points_possible")), q.get("answers") or [],
                     choice_texts(q.get("answers")),
                     stimulus=q.get("question_type") == "text_only_question")
        for eid in q.get("entry_ids") or ():
            out.setdefault(str(eid), item)
    return out


def _walk(rows: Iterable, by_entry: dict, out: ParsedReport):
    """Every readable response of the report as (student id, attempt, submit time, response,
    item, points or None when not graded); what cannot be read goes to ``out.problems``."""
    for n, row in enumerate(rows or (), start=1):
        out.rows += 1
        student = row.get("student_data") if isinstance(row, dict) else None
        if not isinstance(student, dict):
            out.problem(f"row {n} has no student_data")
            continue
        sid, attempt = _canvas_id(student.get("id")), _attempt(student.get("attempt"))
        if sid is None or attempt is None:
            out.problem(f"row {n} has no valid student id and attempt")
            continue
        responses = row.get("item_responses")
        if not isinstance(responses, list):
            out.problem(f"row {n} (student {sid}) has no item_responses list")
            continue
        out.students.add(sid)
        graded_at = report_time(student.get("submitted") or student.get("submitted_at"))
        for response in responses:
            found = _read(response, sid, by_entry, out, n)
            if found is not None:
                yield (sid, attempt, graded_at, response, *found)


def check_report(rows: Iterable, questions: Iterable[dict] = ()) -> ParsedReport:
    """``parse_report`` without building the results: who is in the report, and what could
    not be read (what judging a report needs)."""
    out = ParsedReport()
    for _ in _walk(rows, _items_by_entry(questions), out):
        pass
    return out


def parse_report(rows: Iterable, quiz_id: str, questions: Iterable[dict] = ()) -> ParsedReport:
    """``QuestionResult`` records of one New Quiz's report rows. ``questions``: the quiz's
    items as ``normalize_item`` returns them (the join from the report's entry ids to the
    outer items, points possible, answer choices). A (student, item, attempt) seen twice keeps
    the last row."""
    out = ParsedReport()
    kept: dict = {}
    for sid, attempt, graded_at, response, item, points in _walk(
            rows, _items_by_entry(questions), out):
        credit = None
        if points is not None and item.possible:
            credit = min(1.0, max(0.0, points / item.possible))
        answer = response.get("answer")
        answer_ids_ = answer_ids(answer, item.choices, item.texts) if item.texts else ()
        typed = answer.strip() if isinstance(answer, str) and not answer_ids_ else ""
        kept[(sid, item.question_id, attempt)] = QuestionResult(
            quiz_id, item.question_id, sid, attempt, credit, points, item.possible, graded_at,
            NEW, verdict(credit), answer_ids_, item.note, typed or None)
    out.results = list(kept.values())
    return out


def _outside(item_id: str) -> _Item:
    return _Item(OUTSIDE_PREFIX + item_id, None, [], {}, OUTSIDE_NOTE)


def _read(response, sid: str, by_entry: dict, out: ParsedReport,
          n: int) -> Optional[tuple[_Item, Optional[float]]]:
    """(the item answered, the points or None when not graded), or None: a stimulus, or a
    response that cannot be read (said in ``out.problems``)."""
    item_id = response.get("item_id") if isinstance(response, dict) else None
    key = str(item_id).strip() if item_id is not None else ""
    if not key:
        out.problem(f"row {n} (student {sid}) has a response without an item_id")
        return None
    item = by_entry.get(key)
    if item is None:
        item = by_entry[key] = _outside(key)
    if item.stimulus:
        return None                       # a stimulus: nothing to answer, nothing to score
    points = None
    if _graded(response):
        points = finite_float(response["score"])
        if points is None:
            out.problem(f"row {n} (student {sid}): item {item_id} has an unreadable score "
                        f"{response['score']!r}")
            return None
    out.responses += 1
    out.outside += item.note is not None
    return item, points
