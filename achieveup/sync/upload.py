"""The Student Analysis CSV upload of a New Quiz.

The upload (``POST /achieveup/instructor/course/{cid}/new-quizzes/{qid}/student-analysis``) is for
institutions where the API is restricted: the CSV is read strictly first
(``knowgap.canvas.new_quiz_csv``; a bad file is a 422 naming its row and column), then joined to
the quiz's items (from Canvas, or as stored by the last sync when Canvas refuses), stored like a
sync's results (new rows inserted, changed ones replaced, none deleted; the store-results
stage of ``achieveup.pipeline``), and mastery and badges are recomputed by the job it queues
(the rest of the pipeline).
"""
from __future__ import annotations

import uuid

from achieveup import pipeline
from achieveup.insights import ingest as insights
from achieveup.mastery import store
from achieveup.settings.service import RECOMPUTE_JOB_KIND
from knowgap.canvas import new_quiz_csv
from knowgap.canvas import new_quizzes as nq
from knowgap.canvas.errors import CanvasNotFound, CanvasPermissionDenied
from knowgap.core.errors import NotFound, ValidationFailed
from knowgap.core.tenancy import key, where
from knowgap.jobs.queue import enqueue


def _items(db, gateway, course_id: str, quiz_id: str) -> list[dict]:
    """The quiz's items from Canvas; as the last sync stored them when Canvas refuses."""
    try:
        items = gateway.questions(course_id, quiz_id)
        if nq.has_entry_ids(items):
            return items
    except (CanvasPermissionDenied, CanvasNotFound):
        pass
    return [{"id": d["question_id"], "quiz_id": quiz_id,
             "question_type": d.get("question_type"),
             "points_possible": d.get("points_possible"), "entry_ids": d.get("entry_ids") or [],
             "answers": insights.classic_answers(d.get("answers"))}
            for d in store.fetch_all(db[store.QUESTIONS],
                                     where(db, course_id=course_id, quiz_id=quiz_id))]


def _known_quiz(db, gateway, course_id: str, quiz_id: str) -> dict:
    stored = db[store.QUIZZES].find_one({"_id": key(db, course_id, quiz_id)}) or {}
    try:
        listed = next((q for q in gateway.quizzes(course_id) or []
                       if str(q.get("id")) == quiz_id), None)
    except CanvasPermissionDenied:
        listed = None
    if listed is None and not stored:
        raise NotFound("This course has no New Quiz with this id. Use the quiz's id from the "
                       "quiz list (nq-…).", error="quiz_not_found")
    return listed or stored


def _invalid(exc: new_quiz_csv.CsvReportError) -> ValidationFailed:
    details = {k: v for k, v in (("row", exc.row), ("column", exc.column),
                                 ("header", exc.header)) if v is not None}
    return ValidationFailed(f"The file is not a Student Analysis CSV of a New Quiz: "
                            f"{exc.message}", error="invalid_student_analysis",
                            details=details or None)


def import_csv(db, gateway, course_id: str, quiz_id: str, data: bytes, user_id: str,
               now) -> dict:
    """Store the results of an uploaded Student Analysis CSV (see the module docstring);
    returns what was stored and the id of the job recomputing mastery and badges."""
    try:
        report = new_quiz_csv.read(data)
    except new_quiz_csv.CsvReportError as exc:
        raise _invalid(exc) from None
    quiz = _known_quiz(db, gateway, course_id, quiz_id)
    items = _items(db, gateway, course_id, quiz_id)
    known = {str(e) for q in items for e in q.get("entry_ids") or ()}
    if known and not report.item_ids & known:
        raise _invalid(new_quiz_csv.CsvReportError(
            f"none of its items (ItemID) belong to the quiz '{quiz.get('title') or quiz_id}'. "
            "Is it the export of another quiz?", 2, len(new_quiz_csv.LEAD) + 1, "ItemID"))
    parsed = nq.parse_report(report.rows, quiz_id, items)
    if parsed.problems:                       # the CSV reader lets none through; be sure
        raise ValidationFailed(f"The file could not be read: {parsed.problems[0]}",
                               error="invalid_student_analysis")
    counts = pipeline.store_results(db, course_id, parsed.results, now)
    message = (f"Uploaded by an instructor: {len(parsed.students)} students, {parsed.rows} "
               "attempts.")
    db[store.QUIZZES].update_one(
        {"_id": key(db, course_id, quiz_id)},
        {"$set": {"results_state": "uploaded", "results_message": message,
                  "results_checked_at": now, "results_uploaded_at": now},
         "$setOnInsert": {**where(db, course_id=course_id), "quiz_id": quiz_id,
                          "source": "new", "title": quiz.get("title") or quiz_id}},
        upsert=True)
    job_id, _ = enqueue(db, RECOMPUTE_JOB_KIND, f"{course_id}|upload|{uuid.uuid4().hex}",
                        {"course_id": course_id, "user_id": user_id})
    return {"message": "The quiz's results are stored; mastery and badges are being "
                       "recomputed.",
            "job_id": job_id, "quiz_id": quiz_id, "students": len(parsed.students),
            "attempts": parsed.rows, "results": len(parsed.results),
            "items_outside_list": parsed.outside, **counts}
