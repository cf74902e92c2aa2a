"""New Quizzes in the sandbox: the ``/api/quiz/v1`` quiz and item lists and the reports flow.

A quiz whose ``engine`` is ``"new"`` is served here instead of by the Classic Quizzes
endpoints (which answer 404 for it), like a course that uses the ``quiz_lti`` tool: its
assignment submissions still appear in ``students/submissions`` but without
``submission_data`` (``submission_type: basic_lti_launch``); per-item work comes only from the
``student_analysis`` report.

Shapes follow Instructure's New Quizzes API documentation: ``NewQuiz`` (``id`` = assignment
id, ``quiz_settings.multiple_attempts``), ``QuizItem`` (``entry_type``, ``entry`` with
``item_body``, ``interaction_type_slug``, ``interaction_data``, ``scoring_data``), and the
reports flow: ``POST .../reports`` -> a ``Progress`` (``queued`` -> ``running`` ->
``completed`` with ``results.url``, or ``failed``), ``409`` while a report of that type is
being generated, the file behind ``results.url`` (a redirect to a signed download URL, as
Canvas' file storage answers). The JSON report is one row per student attempt with the CSV
form's columns and the per-item answers under ``item_responses``.

Knobs on ``ReportDesk`` (``server.reports``), safe to set from a test thread:
    polls        Progress reads answered ``queued``/``running`` before ``completed`` (default 2)
    seconds      if set, a report is also done this many seconds after it was started, read
                 or not (a report somebody else started finishes on its own)
    behaviour    ``{assignment_id: "fail" | "stuck"}``: that quiz's reports fail, or never end
Counters: ``started`` (reports generated), ``conflicts`` (409s answered).
"""
from __future__ import annotations

import json
import threading
import time
import uuid

from aiohttp import web

from .api import (GRADERS, ITEMS, STAFF, USER_ID, _course, _world, error, json_response,
                  not_found, page_response, unauthorized)
from .content import NO_SCORE_TYPES, UNGRADED_TYPES
from .world import Question, Quiz, QuizWork, World, iso

SLUGS = {
    "multiple_choice_question": "choice",
    "true_false_question": "true-false",
    "multiple_answers_question": "multi-answer",
    "short_answer_question": "rich-fill-blank",
    "essay_question": "essay",
    "numerical_question": "numeric",
    "matching_question": "matching",
    "fill_in_multiple_blanks_question": "rich-fill-blank",
    "multiple_dropdowns_question": "rich-fill-blank",
    "calculated_question": "formula",
    "file_upload_question": "file-upload",
}
SCORE_TO_KEEP = {"keep_highest": "highest", "keep_latest": "latest"}
_NS = uuid.UUID("6f1c2a3e-3b1f-4c1a-9a7e-0d6c1f2b9e10")


def choice_id(answer_id: int) -> str:
    """New Quizzes choice ids are UUIDs; derived from the answer id so they are stable."""
    return str(uuid.uuid5(_NS, f"choice-{answer_id}"))


def _text(html: str) -> str:
    return html.replace("<p>", "").replace("</p>", "")


# ------------------------------------------------------------------ serialisers

def new_quiz_json(q: Quiz) -> dict:
    several = q.allowed_attempts != 1
    return {"id": str(q.assignment_id), "title": q.title,
            "instructions": f"<p>{q.title}</p>", "assignment_group_id": q.course_id * 10 + 1,
            "points_possible": q.points_possible, "due_at": iso(q.due_at), "lock_at": None,
            "unlock_at": iso(q.unlock_at), "published": q.published, "grading_type": "points",
            "quiz_settings": {
                "calculator_type": "none", "filter_ip_address": False, "filters": {},
                "one_at_a_time_type": "none", "allow_backtracking": True,
                "shuffle_answers": True, "shuffle_questions": False,
                "require_student_access_code": False, "student_access_code": None,
                "has_time_limit": True, "session_time_limit_in_seconds": 1800,
                "multiple_attempts": {
                    "multiple_attempts_enabled": several,
                    "attempt_limit": several and q.allowed_attempts > 0,
                    "max_attempts": q.allowed_attempts if several else 1,
                    "score_to_keep": SCORE_TO_KEEP.get(q.scoring_policy, "highest"),
                    "cooling_period": False, "cooling_period_seconds": None},
                "result_view_settings": {"result_view_restricted": False}}}


def _interaction(q: Question) -> tuple[dict, dict]:
    """(interaction_data, scoring_data) of a question in New Quizzes' terms."""
    qt, answers = q.question_type, q.answers
    if qt == "multiple_choice_question":
        right = next(a for a in answers if a["weight"] == 100)
        return ({"choices": [{"id": choice_id(a["id"]), "position": i + 1,
                              "item_body": f"<p>{a['text']}</p>"} for i, a in enumerate(answers)]},
                {"value": choice_id(right["id"])})
    if qt == "multiple_answers_question":
        return ({"choices": [{"id": choice_id(a["id"]), "position": i + 1,
                              "item_body": f"<p>{a['text']}</p>"} for i, a in enumerate(answers)]},
                {"value": [choice_id(a["id"]) for a in answers if a["weight"] == 100]})
    if qt == "true_false_question":
        truth = next(a for a in answers if a["text"] == "True")["weight"] == 100
        return {"true_choice": "True", "false_choice": "False"}, {"value": truth}
    if qt == "matching_question":
        return ({"questions": [{"id": str(a["id"]), "item_body": a["left"]} for a in answers],
                 "answers": [a["right"] for a in answers]},
                {"value": {str(a["id"]): a["right"] for a in answers}})
    if qt in ("numerical_question", "calculated_question"):
        value = answers[0].get("exact", answers[0].get("answer"))
        return {}, {"value": [{"type": "exactResponse", "value": str(value)}]}
    if qt in ("fill_in_multiple_blanks_question", "multiple_dropdowns_question",
              "short_answer_question"):
        blanks: dict = {}
        for a in answers:
            blanks.setdefault(a.get("blank_id") or "answer", []).append(a)
        return ({"blanks": [{"id": b, "answer_type": "dropdown" if qt.startswith("multiple")
                             else "openEntry"} for b in blanks]},
                {"value": [{"id": b, "scoring_data": {"value": next(
                    a["text"] for a in opts if a["weight"] == 100)}} for b, opts in blanks.items()]})
    return {}, {"value": ""}                  # essay, file upload


def item_json(q: Question) -> dict:
    if q.question_type in NO_SCORE_TYPES:       # text-only: a stimulus, not a question
        return {"id": str(q.id), "position": q.position, "points_possible": 0.0,
                "entry_type": "Stimulus", "entry_editable": True, "status": "mutable",
                "stimulus_quiz_entry_id": None,
                "entry": {"title": q.question_name, "body": q.question_text,
                          "instructions": None, "orientation": "left"}}
    data, scoring = _interaction(q)
    return {"id": str(q.id), "position": q.position, "points_possible": q.points_possible,
            "entry_type": "Item", "entry_editable": True, "status": "mutable",
            "stimulus_quiz_entry_id": None,
            "entry": {"title": q.question_name, "item_body": q.question_text,
                      "calculator_type": "none",
                      "interaction_type_slug": SLUGS[q.question_type],
                      "interaction_data": data, "properties": {}, "scoring_data": scoring,
                      "scoring_algorithm": ("PartialScore" if q.question_type in (
                          "multiple_answers_question", "matching_question",
                          "fill_in_multiple_blanks_question", "multiple_dropdowns_question")
                          else "Equivalence"),
                      "feedback": {}}}


def _answer(q: Question, entry: dict):
    """What the report shows as the student's answer to one question."""
    by_id = {a["id"]: a for a in q.answers}
    qt = q.question_type
    if qt in ("multiple_choice_question", "true_false_question"):
        return by_id.get(entry.get("answer_id"), {}).get("text")
    if qt == "multiple_answers_question":
        return [a["text"] for a in q.answers if entry.get(f"answer_{a['id']}") == "1"]
    if qt == "matching_question":
        rights = {str(m["match_id"]): m["text"] for m in q.extras.get("matches", [])}
        out = []
        for a in q.answers:
            picked = entry.get("answer_" + str(a["id"]))
            out.append(f"{a['left']}: {rights.get(str(picked), '')}")
        return out
    if qt in ("fill_in_multiple_blanks_question", "multiple_dropdowns_question"):
        out = []
        for key, value in entry.items():
            if key.startswith("answer_for_"):
                out.append(by_id.get(value, {}).get("text", value) if isinstance(value, int)
                           else value)
        return out
    if qt == "file_upload_question":
        return "lab-report.pdf"
    return entry.get("text") or None


def report_rows(world: World, quiz: Quiz) -> list[dict]:
    """The JSON ``student_analysis`` report: one row per student attempt."""
    questions = {q.id: q for q in world.questions[quiz.id]}
    course = world.courses[quiz.course_id]
    rows = []
    for uid in sorted(world.student_ids(quiz.course_id)):
        w: QuizWork | None = world.work.get((quiz.id, uid))
        if w is None:
            continue
        user = world.users[uid]
        for att in w.attempts:
            responses, right, wrong = [], 0, 0
            for entry in att.submission_data:
                q = questions[entry["question_id"]]
                if q.question_type in NO_SCORE_TYPES:
                    continue
                graded = q.question_type not in UNGRADED_TYPES
                points = float(entry["points"]) if graded else None
                if graded:
                    right += entry["correct"] is True
                    wrong += entry["correct"] is not True
                responses.append({"item_id": str(q.id), "position": q.position,
                                  "question": _text(q.question_text),
                                  "answer": _answer(q, entry), "points": points,
                                  "points_possible": q.points_possible})
            rows.append({"name": user.name, "id": uid, "sis_id": f"SIS{uid}",
                         "root_account": "canvas.example.edu", "section": course.name,
                         "section_id": course.id * 10 + 1, "section_sis_id": course.course_code,
                         "submitted": iso(att.submitted_at), "attempt": att.attempt,
                         "item_responses": responses, "n_correct": right,
                         "n_incorrect": wrong, "score": att.score})
    return rows


# ------------------------------------------------------------------ report jobs

class ReportDesk:
    """Reports being generated and their files (see module docstring for the knobs)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.polls = 2
        self.behaviour: dict[int, str] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.polls = 2
            self.seconds: float | None = None
            self.behaviour = {}
            self._jobs: dict[int, dict] = {}
            self._files: dict[str, bytes] = {}
            self._built: dict[int, tuple[tuple, bytes]] = {}
            self._next = 1
            self.reset_counters()

    def reset_counters(self) -> None:
        with self.lock:
            self.started = 0
            self.conflicts = 0

    def _settle(self, job: dict, build, *, read: bool) -> None:
        """Move a queued/running job on: by one read (``read``), or because its time is up."""
        if job["state"] not in ("queued", "running"):
            return
        if read:
            job["reads"] += 1
        behaviour = self.behaviour.get(job["assignment_id"])
        timed_out = self.seconds is not None and time.time() - job["created"] >= self.seconds
        done_reading = read and job["reads"] > self.polls
        if behaviour == "stuck" or not (done_reading or timed_out):
            if read:
                job["state"] = "queued" if job["reads"] == 1 else "running"
        elif behaviour == "fail":
            job["state"] = "failed"
        else:
            token = uuid.uuid4().hex
            self._files[token] = build(job)
            job["state"], job["file"] = "completed", token
        job["updated"] = time.time()

    def start(self, assignment_id: int, course_id: int, user_id: int, build) -> dict | None:
        """A new job, or None while one for the quiz is still queued or running (409)."""
        with self.lock:
            for j in self._jobs.values():
                if j["assignment_id"] == assignment_id:
                    self._settle(j, build, read=False)
            if any(j["assignment_id"] == assignment_id and j["state"] in ("queued", "running")
                   for j in self._jobs.values()):
                self.conflicts += 1
                return None
            job = {"id": self._next, "assignment_id": assignment_id, "course_id": course_id,
                   "user_id": user_id, "state": "queued", "reads": 0, "created": time.time(),
                   "updated": time.time(), "file": None}
            self._jobs[job["id"]] = job
            self._next += 1
            self.started += 1
            return dict(job)

    def advance(self, job_id: int, build) -> dict | None:
        """One Progress read: move the job on (``build(job)`` gives the file's bytes when it
        is done)."""
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            self._settle(job, build, read=True)
            return dict(job)

    def report_bytes(self, world: World, assignment_id: int) -> bytes:
        """The quiz's report as served, built once per world version (the sandbox's own CPU
        must not be what a client benchmark measures, see ``cache.py``)."""
        sig = (world.version, world.touched)
        with self.lock:
            hit = self._built.get(assignment_id)
            if hit is not None and hit[0] == sig:
                return hit[1]
        with world.lock:
            body = json.dumps(report_rows(world, world.quiz_by_assignment(assignment_id)),
                              separators=(",", ":")).encode()
        with self.lock:
            self._built[assignment_id] = (sig, body)
        return body

    def warm(self, world: World) -> None:
        for course_id in list(world.courses):
            for quiz in world.course_quizzes(course_id, "new"):
                self.report_bytes(world, quiz.assignment_id)

    def file(self, token: str) -> bytes | None:
        with self.lock:
            return self._files.get(token)


REPORTS = web.AppKey("reports", ReportDesk)


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def progress_json(request: web.Request, job: dict) -> dict:
    done = job["state"] == "completed"
    d = {"id": job["id"], "context_id": job["assignment_id"], "context_type": "Assignment",
         "user_id": job["user_id"], "tag": "quizzes_next_report",
         "completion": 100 if done else (0 if job["state"] == "queued" else 50),
         "workflow_state": job["state"],
         "created_at": iso(job["created"]), "updated_at": iso(job["updated"]),
         "message": "The report could not be generated." if job["state"] == "failed" else None,
         "url": f"{_origin(request)}/api/v1/progress/{job['id']}"}
    if done:
        d["results"] = {"url": f"{_origin(request)}/api/v1/courses/{job['course_id']}/files/"
                               f"{job['id']}/download?verifier={job['file']}"}
    return d


# ------------------------------------------------------------------ handlers

def _new_quiz(request: web.Request, course_id: int) -> Quiz | None:
    try:
        assignment_id = int(request.match_info["assignment_id"])
    except ValueError:
        return None
    quiz = _world(request).quiz_by_assignment(assignment_id)
    if quiz is None or quiz.course_id != course_id or quiz.engine != "new":
        return None
    return quiz


async def list_new_quizzes(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    (course, roles), world = ctx, _world(request)
    with world.lock:
        out = [new_quiz_json(q) for q in world.course_quizzes(course.id, "new")
               if q.published or roles & STAFF]
    return page_response(request, out, key=lambda d: (int(d["id"]),))


async def get_new_quiz(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    quiz = _new_quiz(request, ctx[0].id)
    return json_response(new_quiz_json(quiz)) if quiz else not_found()


async def list_items(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    course, roles = ctx
    if not roles & STAFF:
        return unauthorized()
    quiz = _new_quiz(request, course.id)
    if quiz is None:
        return not_found()
    out = [item_json(q) for q in _world(request).questions[quiz.id]]
    return page_response(request, out, key=lambda d: (d["position"], int(d["id"])))


async def create_report(request: web.Request) -> web.Response:
    ctx, err = _course(request)
    if err:
        return err
    course, roles = ctx
    if not roles & GRADERS:
        return unauthorized()
    quiz = _new_quiz(request, course.id)
    if quiz is None:
        return not_found()
    form = await request.post()
    if form.get("quiz_report[report_type]") not in ("student_analysis", "item_analysis") \
            or form.get("quiz_report[format]") not in ("csv", "json"):
        return error(400, "invalid report type or format")
    job = request.app[REPORTS].start(quiz.assignment_id, course.id, request[USER_ID],
                                     _builder(request))
    if job is None:
        return error(409, "A report of this type is already being generated.")
    return json_response(progress_json(request, job))


def _builder(request: web.Request):
    desk, world = request.app[REPORTS], _world(request)
    return lambda job: desk.report_bytes(world, job["assignment_id"])


async def get_progress(request: web.Request) -> web.Response:
    try:
        job_id = int(request.match_info["progress_id"])
    except ValueError:
        return not_found()
    job = request.app[REPORTS].advance(job_id, _builder(request))
    if job is None or job["user_id"] != request[USER_ID]:
        return not_found()
    return json_response(progress_json(request, job))


async def download_file(request: web.Request) -> web.Response:
    """``results.url``: a redirect to the signed file URL, like Canvas' file storage."""
    token = request.query.get("verifier", "")
    if request.app[REPORTS].file(token) is None:
        return not_found()
    return web.Response(status=302, headers={
        "Location": f"/files/{request.match_info['file_id']}/report.json?verifier={token}"})


async def signed_file(request: web.Request) -> web.Response:
    body = request.app[REPORTS].file(request.query.get("verifier", ""))
    if body is None:
        return not_found()
    request[ITEMS] = body.count(b'"attempt"')
    return web.Response(body=body, content_type="application/json", charset="utf-8")


def add_routes(app: web.Application) -> None:
    r = app.router
    base = "/api/quiz/v1/courses/{course_id}/quizzes"
    r.add_get(base, list_new_quizzes)
    r.add_get(base + "/{assignment_id}", get_new_quiz)
    r.add_get(base + "/{assignment_id}/items", list_items)
    r.add_post(base + "/{assignment_id}/reports", create_report)
    r.add_get("/api/v1/progress/{progress_id}", get_progress)
    r.add_get("/api/v1/courses/{course_id}/files/{file_id}/download", download_file)
    r.add_get("/files/{file_id}/report.json", signed_file)
