"""The instructor's own words on a question, kept with the stored question. Pure, no I/O.

Canvas keeps feedback in two shapes:

* Classic Quizzes (``GET /courses/:cid/quizzes/:qid/questions``, the QuizQuestion and Answer
  models of ``app/controllers/quizzes/quiz_questions_controller.rb`` in instructure/canvas-lms):
  ``correct_comments``, ``incorrect_comments``, ``neutral_comments`` (each also as
  ``*_comments_html``) and every answer's ``comments`` / ``comments_html``;
* New Quizzes (``GET /api/quiz/v1/courses/:cid/quizzes/:aid/items``, the item's ``entry``):
  ``feedback: {neutral, correct, incorrect}`` (HTML) and ``answer_feedback: {<choice id>:
  HTML}`` (items read from real courses, e.g. dsavransky/grading's ``quizQuestionBank.py``;
  clients that create items with feedback, e.g. a ``quizzes_new.py`` helper that posts both).

``question_feedback`` turns either into one source-independent shape, in plain text (the
project's ``html_to_text``): ``{correct_comments, incorrect_comments, neutral_comments,
answers: [{id, text, correct, comments}]}``. The HTML twin wins when both are sent (it is what
the student saw); empty comments are ``""``.
"""
from __future__ import annotations

from knowgap.core.numbers import finite_float
from knowgap.topics.text import html_to_text

KINDS = ("correct", "incorrect", "neutral")


def _text(question: dict, name: str) -> str:
    html = question.get(f"{name}_html")
    return html_to_text(html if html else question.get(name))


def _answer_text(answer: dict) -> str:
    """What an answer says, by its type's fields: matching pairs, blanks, numbers."""
    text = answer.get("text") or html_to_text(answer.get("html"))
    if answer.get("left") is not None and answer.get("right") is not None:
        return f"{answer['left']} -> {answer['right']}"
    if answer.get("blank_id") and text:
        return f"[{answer['blank_id']}] {text}"
    exact, margin = finite_float(answer.get("exact")), finite_float(answer.get("margin"))
    if not text and exact is not None:
        return f"{exact:g}" + (f" (within {margin:g})" if margin else "")
    start, end = finite_float(answer.get("start")), finite_float(answer.get("end"))
    if not text and start is not None and end is not None:
        return f"between {start:g} and {end:g}"
    if not text and answer.get("answer") is not None:
        return str(answer["answer"])
    return text or ""


def question_feedback(question: dict) -> dict:
    """``{correct_comments, incorrect_comments, neutral_comments, answers}`` of one question
    as fetched (a Classic question, or a New Quiz item normalized with its ``feedback`` and
    ``answer_feedback`` passed through)."""
    general = question.get("feedback") if isinstance(question.get("feedback"), dict) else {}
    per_choice = question.get("answer_feedback")
    per_choice = per_choice if isinstance(per_choice, dict) else {}
    out = {f"{kind}_comments": _text(question, f"{kind}_comments") or html_to_text(
        general.get(kind)) for kind in KINDS}
    answers = []
    for answer in question.get("answers") or []:
        if not isinstance(answer, dict) or answer.get("id") is None:
            continue
        aid = str(answer["id"])
        comments = _text(answer, "comments") or html_to_text(per_choice.get(aid))
        answers.append({"id": aid, "text": _answer_text(answer),
                        "correct": (answer.get("weight") or 0) > 0, "comments": comments})
    out["answers"] = answers
    return out
