"""New Quizzes in AchieveUp: each quiz's results state, and the Student Analysis CSV upload.

Results state. Every sync that asks for a New Quiz's report records what became of it on the
quiz's document in ``AchieveUp_Canvas_Quizzes`` (``results_state``, ``results_message``,
``results_checked_at``), and keeps it until the quiz is asked about again:

* ``read``: the report was read and its results stored;
* ``pending``: Canvas is still building it (the next sync polls it);
* ``failed``: Canvas could not build it, or it could not be downloaded or read;
* ``incomplete``: it was refused because it lost students (fewer than the graded submissions),
  had rows that could not be read, or named no item of the quiz; nothing from it was stored;
* ``restricted``: Canvas answered 403 (a concluded enrollment, or a restricted API), for the
  report or for the whole New Quizzes list;
* ``uploaded``: an instructor uploaded the quiz's Student Analysis CSV (``import_csv``).

In every state but ``read`` and ``uploaded`` the quiz's earlier results are kept as they were.
The sync job names each such quiz in its ``errors`` and counts them (``report_counts``); the
instructor quiz list shows the state (``listing_states``).

The upload (``POST /achieveup/instructor/course/{cid}/new-quizzes/{qid}/student-analysis``) is
for institutions where the API is restricted: the CSV is read strictly first
(``knowgap.canvas.new_quiz_csv``; a bad file is a 422 naming its row and column), then joined to
the quiz's items (from Canvas, or as stored by the last sync when Canvas refuses), stored like a
sync's results (new rows inserted, changed ones replaced, none deleted), and mastery and badges
are recomputed by a job.
"""
from __future__ import annotations

import uuid

from achieveup.insights import ingest as insights
from achieveup.mastery import store
from knowgap.canvas import new_quiz_csv
from knowgap.canvas import new_quizzes as nq
from knowgap.canvas.errors import CanvasNotFound, CanvasPermissionDenied
from knowgap.core.errors import NotFound, ValidationFailed
from knowgap.core.tenancy import key, where

STATE_FIELDS = ("results_state", "results_message", "results_checked_at",
                "results_uploaded_at")


# ------------------------------------------------------------------ states

def _stored(db, course_id: str) -> dict[str, dict]:
    return {d["quiz_id"]: d for d in store.fetch_all(
        db[store.QUIZZES], where(db, course_id=course_id, source="new"),
        {"_id": 0, "quiz_id": 1, "title": 1, **{f: 1 for f in STATE_FIELDS}})}


def report_states(db, course_id: str, snap, now) -> dict[str, dict]:
    """{New Quiz id: state fields} after ``snap``: the stored ones, updated for the quizzes
    whose report was asked for, and every known New Quiz ``restricted`` when Canvas refused
    to list them."""
    out = {qid: {f: doc.get(f) for f in STATE_FIELDS if f in doc}
           for qid, doc in _stored(db, course_id).items()}
    changes = {q: (s["state"], s["message"]) for q, s in snap.report_outcome.states().items()}
    listed = {str(q.get("id")) for q in snap.quizzes}
    unlisted = ("restricted", snap.new_quizzes_refused) if snap.new_quizzes_refused \
        else (None, None)                          # no longer in Canvas: no state to show
    changes.update({q: unlisted for q in out if q not in listed})
    for quiz_id, (state, message) in changes.items():
        fields = out.setdefault(quiz_id, {})
        uploaded = fields.get("results_uploaded_at")
        if state == "restricted" and uploaded:
            message += (f" The results uploaded from its Student Analysis CSV on "
                        f"{store.iso(uploaded)} are kept.")
        fields.update(results_state=state, results_message=message, results_checked_at=now)
    return out


def apply_unlisted(db, course_id: str, states: dict, listed: set) -> None:
    """Write the states of stored New Quizzes that this sync could not list."""
    for quiz_id, fields in states.items():
        if quiz_id not in listed:
            db[store.QUIZZES].update_one({"_id": key(db, course_id, quiz_id)}, {"$set": fields})


def report_counts(snap) -> dict:
    """The sync job's New Quizzes counts, and each asked-for quiz's state by id."""
    o = snap.report_outcome
    return {"new_quiz_reports": len(o.accepted), "new_quiz_reports_pending": len(o.pending),
            "new_quiz_reports_failed": len(o.failed),
            "new_quiz_reports_restricted": len(o.restricted),
            "new_quiz_reports_incomplete": len(o.incomplete),
            "new_quiz_reports_csv": len(o.csv),
            "new_quiz_items_outside_list": sum(o.outside.values()),
            "new_quizzes_list_refused": int(bool(snap.new_quizzes_refused)),
            "new_quiz_states": {q: s["state"] for q, s in sorted(o.states().items())}}


def report_notes(db, course_id: str, snap) -> list[str]:
    titles = {qid: d.get("title") for qid, d in _stored(db, course_id).items()}
    titles.update({str(q.get("id")): q.get("title") for q in snap.quizzes})
    notes = snap.report_outcome.notes(titles)
    if snap.new_quizzes_refused:
        notes.insert(0, "Canvas did not list this course's New Quizzes. "
                     f"{snap.new_quizzes_refused} Results of New Quizzes stored earlier are "
                     "kept; upload a quiz's Student Analysis CSV to add its results.")
    return notes


def listing_states(db, course_id: str) -> dict[str, dict]:
    """{New Quiz id: {title, results_state, results_message}} for the instructor quiz list."""
    return {qid: {"title": d.get("title") or qid, "results_state": d["results_state"],
                  "results_message": d.get("results_message")}
            for qid, d in _stored(db, course_id).items() if d.get("results_state")}


def with_states(quizzes: list[dict], states: dict, course_id: str) -> list[dict]:
    """The instructor quiz list (``{id, title, course_id}``) with each New Quiz's results
    state; New Quizzes Canvas refused to list are kept in it, marked ``restricted``."""
    out = [{**q, **{k: v for k, v in states.get(q["id"], {}).items() if k != "title"}}
           for q in quizzes]
    listed = {q["id"] for q in quizzes}
    out += [{"id": qid, "title": s["title"], "course_id": course_id,
             "results_state": s["results_state"], "results_message": s["results_message"]}
            for qid, s in sorted(states.items())
            if qid not in listed and s["results_state"] == "restricted"]
    return out


# ------------------------------------------------------------------ the CSV upload

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
    from achieveup.settings.service import RECOMPUTE_JOB_KIND
    from achieveup.sync.service import rebuild_evidence, result_docs, store_results
    from knowgap.jobs.queue import enqueue

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
    rows = result_docs(db, course_id, parsed.results)
    counts, dirty = store_results(db, course_id, rows, now)
    counts["evidence_rebuilt"] = rebuild_evidence(db, course_id, dirty, now)
    counts["item_responses_written"] = insights.update_item_responses(db, course_id, rows, now,
                                                                      full=False)
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
            "attempts": parsed.rows, "results": len(rows),
            "items_outside_list": parsed.outside, **counts}
