"""Course sync: quizzes, questions and each student's incorrect answers, then topics/videos.

Two ways in, same code: ``/update-course-db`` (the caller's own token) and the scheduled
``knowgap_course_sync`` job (a stored token). An instructor's token sees everything: all
quizzes, all questions (all pages), every student's submissions with history. A student's
token cannot list questions (Canvas answers 401/403 to students), so a student sync reads the
quiz list and the student's *own* submissions (``student_ids[]=self``) and relies on the
questions stored by an instructor's sync for texts, topics and videos.

Fetching is concurrent (questions per quiz, submissions per quiz) inside one Canvas client
session, which enforces Canvas' per-token concurrency limit itself.
"""
from __future__ import annotations

import asyncio
import logging

from knowgap.canvas.errors import CanvasNotFound, CanvasPermissionDenied
from knowgap.courses import store
from knowgap.courses.answers import incorrect_from_submission
from knowgap.topics.pipeline import generate_course_content

log = logging.getLogger("knowgap.courses")


async def _questions_or_none(client, course_id, quiz_id):
    try:
        return await client.list_questions(course_id, quiz_id)
    except (CanvasPermissionDenied, CanvasNotFound):
        return None


async def _submissions(client, course_id, assignment_ids, student_ids):
    try:
        return await client.list_submissions_with_history(course_id, assignment_ids,
                                                          student_ids=student_ids)
    except (CanvasPermissionDenied, CanvasNotFound):
        return []          # e.g. a course designer: may see questions, not grades


async def fetch_instructor_view(client, course_id: str) -> dict:
    quizzes = await client.list_quizzes(course_id)
    ids = [str(q["id"]) for q in quizzes]
    assignment_ids = [q["assignment_id"] for q in quizzes if q.get("assignment_id")]
    question_lists, submission_lists = await asyncio.gather(
        asyncio.gather(*(_questions_or_none(client, course_id, qid) for qid in ids)),
        asyncio.gather(*(_submissions(client, course_id, [aid], ("all",))
                         for aid in assignment_ids)))
    questions = {qid: qs for qid, qs in zip(ids, question_lists) if qs is not None}
    return {"quizzes": quizzes, "questions": questions,
            "submissions": [s for chunk in submission_lists for s in chunk]}


async def fetch_student_view(client, course_id: str) -> dict:
    quizzes = await client.list_quizzes(course_id)
    assignment_ids = [q["assignment_id"] for q in quizzes if q.get("assignment_id")]
    subs = await _submissions(client, course_id, assignment_ids, ("self",)) if assignment_ids else []
    return {"quizzes": quizzes, "questions": {}, "submissions": subs}


def incorrect_rows(quizzes_by_id: dict, submissions: list) -> list[dict]:
    by_assignment = {q["assignment_id"]: qid for qid, q in quizzes_by_id.items()
                     if q.get("assignment_id")}
    rows = []
    for sub in submissions:
        quiz_id = by_assignment.get(str(sub.get("assignment_id")))
        if quiz_id is None or sub.get("user_id") is None:
            continue
        result = incorrect_from_submission(sub)
        if result is None:
            continue
        rows.append({"student_id": str(sub["user_id"]), "quiz_id": quiz_id, **result})
    return rows


def sync_course(svc, access, course_id: str, *, instructor: bool, generate: bool = True) -> dict:
    """Fetch from Canvas with ``access`` (a ``CanvasAccess``/gateway) and store; returns counts."""
    course_id = str(course_id)
    fetch = fetch_instructor_view if instructor else fetch_student_view
    data = access.run(lambda client: fetch(client, course_id))
    db = svc.db
    quizzes = store.save_quizzes(db, course_id, data["quizzes"], access.base_url,
                                 prune=instructor)
    n_questions = store.save_questions(db, course_id, data["questions"], prune=instructor)
    rows = incorrect_rows(quizzes, data["submissions"])
    n_incorrect = store.save_incorrect(db, course_id, rows)
    summary = {
        "status": "success", "course_id": course_id,
        "mode": "instructor" if instructor else "student",
        "quizzes": len(quizzes),
        "questions": n_questions if instructor else
        db[store.QUESTIONS].count_documents({"course_id": course_id}),
        "students": len({r["student_id"] for r in rows}),
        "incorrect_answers": n_incorrect,
    }
    if not instructor and summary["questions"] == 0:
        summary["message"] = ("Question texts come from your instructor's sync; none are stored "
                              "for this course yet, so videos will appear after it runs.")
    if generate:
        content = generate_course_content(svc, course_id)
        summary.update(topics=content["topics"], videos=content["videos"],
                       video_status=content["video_status"])
    return summary


# ------------------------------------------------------------------ small Canvas reads
def course_quizzes(svc, caller, course_id: str) -> dict:
    quizzes = caller.canvas(svc.config, deadline=svc.config.canvas_timeout_seconds).run(
        lambda client: client.list_quizzes(course_id))
    return {"status": "success",
            "quizzes": {str(q["id"]): q.get("title") or "" for q in quizzes}}


def student_grade(svc, caller, course_id: str, user_id: str) -> dict:
    enrollments = caller.canvas(svc.config, deadline=svc.config.canvas_timeout_seconds).run(
        lambda client: client.list_enrollments(course_id, user_id=user_id,
                                               types=["StudentEnrollment"]))
    grades = next((e.get("grades") for e in enrollments
                   if isinstance(e, dict) and e.get("grades") is not None), None)
    if grades is None:
        from knowgap.core.errors import NotFound
        raise NotFound(f"User {user_id} has no student enrollment with grades in course "
                       f"{course_id}.", error="grade_not_found")
    return {"status": "success", "grade": {"current_score": grades.get("current_score"),
                                           "final_score": grades.get("final_score")}}


def questions_by_course(svc, caller, course_id: str) -> dict:
    """Stored questions: all for instructors; for a student only quizzes they submitted
    (question texts of unreleased quizzes must not leak to students)."""
    questions = store.questions_of(svc.db, course_id)
    if not caller.is_instructor:
        taken = {row["quiz_id"] for row in store.incorrect_of(svc.db, course_id, caller.user_id)}
        questions = [q for q in questions if q["quiz_id"] in taken]
    titles = store.quiz_titles(svc.db, course_id)
    return {"status": "success", "data": {"course_id": course_id, "questions": [
        {"question_id": q["question_id"], "quiz_id": q["quiz_id"],
         "quiz_name": titles.get(q["quiz_id"], ""), "position": q.get("position"),
         "question_type": q.get("question_type"), "question_text": q.get("question_text", ""),
         "points_possible": q.get("points_possible"), "core_topic": q.get("core_topic")}
        for q in questions]}}


def update_context(svc, caller, course_id: str, text: str) -> dict:
    store.set_context(svc.db, course_id, text, caller.user_id)
    content = generate_course_content(svc, course_id)
    return {"status": "success", "course_id": course_id, "course_context": text,
            "regenerated": content["generated"], "topics": content["topics"],
            "videos": content["videos"], "video_status": content["video_status"]}
