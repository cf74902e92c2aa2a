"""New Quizzes in the sandbox: the ``/api/quiz/v1`` quiz and item lists and the reports flow.

A quiz whose ``engine`` is ``"new"`` is served here instead of by the Classic Quizzes
endpoints (which answer 404 for it), like a course that uses the ``quiz_lti`` tool: its
assignment submissions still appear in ``students/submissions`` but without
``submission_data`` (``submission_type: basic_lti_launch``); per-item work comes only from the
``student_analysis`` report.

Built from the real thing, not from what the client expects. Sources:

* Instructure, New Quizzes API / New Quiz Items API / New Quizzes Reports API
  (developerdocs.instructure.com/services/canvas/resources/new_quizzes, new_quiz_items,
  new_quizzes_reports): ``NewQuiz`` (``id`` = assignment id, ``quiz_settings.multiple_attempts``),
  ``QuizItem`` (outer ``id`` and ``points_possible``; ``entry_type`` Item | Stimulus |
  BankEntry | Bank; ``entry`` with its own ``id``, ``item_body``, ``interaction_type_slug``,
  ``interaction_data`` (choices with uuids), ``scoring_data``), the Progress object
  (``queued`` -> ``running`` -> ``completed`` with ``results.url`` on the Canvas host, or
  ``failed``), 400 for a bad report type or format, 409 while a report of that type is being
  generated;
* longhornadam/canvasexpert ``api/powergrader/new_quiz_fetch.py`` and
  ``docs/reference/new-quizzes-grading-transport.md`` (verified against real courses): the
  POST is form-encoded and answered ``{"progress": {...}}``; the JSON report is a list of rows
  ``{student_data: {id, name, sis_id, submitted, elapsed, attempt}, item_responses: [{item_id,
  item_type, answer, score}]}`` whose ``item_id`` is the item's ENTRY id, with points possible
  only on the outer item; a concluded enrollment may answer 403;
* canvasexpert ``docs/reference/new-quizzes-student-analysis-csv.md`` and ``api/nq_report.py``
  (a real export): the CSV form, 9 lead columns, 5 per item (the question text as the header),
  5 trailing, choice answers as the option's text, essays as HTML with newlines;
* dbosk/canvaslms ``src/canvaslms/cli/quizzes.nw``: form parameters, the wrapped Progress,
  multi-select answers comma-joined.
* item feedback: the entry's ``feedback {neutral, correct, incorrect}`` and ``answer_feedback
  {<choice id>: HTML}`` as real items carry them (dsavransky/grading ``cornellGrading/
  quizQuestionBank.py``, an item read from a real course: ``"answer_feedback": {}``,
  ``"feedback": {"neutral": "", "correct": "", "incorrect": ""}``; item-creating clients post
  both, keyed by choice id); here filled from the question's Classic comments (``_feedback``).

What the sandbox does on top, to keep the client honest:

* entry ids are another sequence than outer ids, and here they coincide with *other* items'
  outer ids (item k's entry id is item k+1's outer id), so a parser that joins the report on
  outer ids attributes answers to the wrong item instead of merely finding nothing;
* a question whose world ``bank_drawn`` flag is set is not listed: one ``Bank`` item stands
  for it (drawn at random), and it appears in reports only. Questions reused from a bank
  (``duplicate_bank_ratio``) are listed as ``BankEntry`` items, question one level deeper;
* an essay or file upload not yet graded has ``score: null`` in the JSON form, and ``0`` with
  Status ``NotGraded`` in the CSV form;
* a JSON request body is refused with 400 (the parameters are read from the form only).

Knobs on ``ReportDesk`` (``server.reports``), safe to set from a test thread:
    polls          Progress reads answered ``queued``/``running`` before ``completed`` (default 2)
    seconds        if set, a report is also done this many seconds after it was started, read
                   or not (a report somebody else started finishes on its own)
    behaviour      ``{assignment_id: "fail" | "stuck"}``: that quiz's reports fail, or never end
    refuse_json    assignment ids whose JSON report is refused (400); the CSV form still works
    restricted     assignment ids whose reports answer 403 (the caller's enrollment concluded)
    restricted_courses  course ids whose whole New Quizzes API answers 403
    drop           ``{assignment_id: n}``: that quiz's reports leave out the last n students
Counters: ``started`` (reports generated), ``conflicts`` (409s answered), ``formats`` (the
format of each report started).
"""
from __future__ import annotations

import csv
import io
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
ENTRY_BASE = 7_000_000          # entry ids nothing else shares (the last item of each quiz)
WRAPPER_BASE = 8_000_000        # BankEntry wrappers
BANK_BASE = 9_000_000           # Bank items (outer and entry)
CSV_LEAD = ["Name", "ID", "SISID", "SectionIDs", "SectionNames", "SectionSISIDs", "Submitted",
            "ElapsedTime", "Attempt"]
CSV_TRAILING = ["NumberOfCorrect", "NumberOfIncorrect", "NoResponse", "PointsPossible",
                "OverallScore"]


def choice_id(answer_id: int) -> str:
    """New Quizzes choice ids are UUIDs; derived from the answer id so they are stable."""
    return str(uuid.uuid5(_NS, f"choice-{answer_id}"))


def entry_ids(world: World, quiz: Quiz) -> dict[int, str]:
    """{question id: its entry id}: item k's entry id is item k+1's outer id (the last one's
    comes from ``ENTRY_BASE``), see the module docstring."""
    qs = world.questions[quiz.id]
    return {q.id: str(qs[i + 1].id if i + 1 < len(qs) else ENTRY_BASE + q.id)
            for i, q in enumerate(qs)}


def _plain(html: str) -> str:
    return html.replace("<p>", "").replace("</p>", "").strip()


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
    if qt in ("multiple_choice_question", "multiple_answers_question"):
        choices = [{"id": choice_id(a["id"]), "position": i + 1,
                    "item_body": f"<p>{a['text']}</p>"} for i, a in enumerate(answers)]
        right = [choice_id(a["id"]) for a in answers if a["weight"] == 100]
        return {"choices": choices}, {"value": right[0] if qt.startswith("multiple_choice")
                                      else right}
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


def _entry(q: Question, entry_id: str) -> dict:
    data, scoring = _interaction(q)
    return {"id": entry_id, "title": q.question_name, "item_body": q.question_text,
            "calculator_type": "none", "interaction_type_slug": SLUGS[q.question_type],
            "interaction_data": data, "properties": {}, "scoring_data": scoring,
            "scoring_algorithm": ("PartialScore" if q.question_type in (
                "multiple_answers_question", "matching_question",
                "fill_in_multiple_blanks_question", "multiple_dropdowns_question")
                else "Equivalence"),
            **_feedback(q)}


def _feedback(q: Question) -> dict:
    """The item's ``feedback {correct, incorrect, neutral}`` and ``answer_feedback {choice id:
    HTML}`` (New Quiz Items API; items read from real courses, e.g. dsavransky/grading's
    ``quizQuestionBank.py``), from the same instructor comments the Classic question has."""
    extras = q.extras
    general = {kind: extras.get(f"{kind}_comments_html") or ""
               for kind in ("correct", "incorrect", "neutral")}
    per_choice = {}
    for a in q.answers:
        if not a.get("comments_html"):
            continue
        if q.question_type == "true_false_question":
            per_choice[a["text"].lower()] = a["comments_html"]
        elif q.question_type in ("multiple_choice_question", "multiple_answers_question"):
            per_choice[choice_id(a["id"])] = a["comments_html"]
    return {"feedback": general, "answer_feedback": per_choice}


def _banked(world: World, q: Question) -> bool:
    """A question the course reuses from a bank (an earlier quiz has the same one)."""
    return any(o.assessment_question_id == q.assessment_question_id and o.id < q.id
               for qs in world.questions.values() for o in qs)


def items_json(world: World, quiz: Quiz) -> list[dict]:
    """The quiz's ``/items``: questions, stimuli, bank entries and, for the questions drawn
    at random, one ``Bank``."""
    ids, out, drawn = entry_ids(world, quiz), [], []
    for q in world.questions[quiz.id]:
        common = {"id": str(q.id), "position": q.position, "entry_editable": True,
                  "status": "mutable", "stimulus_quiz_entry_id": None}
        if q.bank_drawn:
            drawn.append(q)
        elif q.question_type in NO_SCORE_TYPES:     # text-only: a stimulus, not a question
            out.append({**common, "points_possible": 0.0, "entry_type": "Stimulus",
                        "entry": {"id": ids[q.id], "title": q.question_name,
                                  "body": q.question_text, "instructions": None,
                                  "orientation": "left"}})
        elif _banked(world, q):
            out.append({**common, "points_possible": q.points_possible,
                        "entry_type": "BankEntry",
                        "entry": {"id": str(WRAPPER_BASE + q.id), "entry_type": "Item",
                                  "entry": _entry(q, ids[q.id])}})
        else:
            out.append({**common, "points_possible": q.points_possible, "entry_type": "Item",
                        "entry": _entry(q, ids[q.id])})
    if drawn:
        out.append({"id": str(BANK_BASE + quiz.id), "position": drawn[0].position,
                    "points_possible": drawn[0].points_possible, "entry_editable": True,
                    "status": "mutable", "stimulus_quiz_entry_id": None, "entry_type": "Bank",
                    "properties": {"sample_num": len(drawn)},
                    "entry": {"id": str(BANK_BASE + 500_000 + quiz.id),
                              "title": f"{quiz.title} bank",
                              "item_body": None}})
    return out


def _answer(q: Question, entry: dict):
    """What the report shows as the student's answer to one question: option texts."""
    by_id = {a["id"]: a for a in q.answers}
    qt = q.question_type
    if qt in ("multiple_choice_question", "true_false_question"):
        return by_id.get(entry.get("answer_id"), {}).get("text")
    if qt == "multiple_answers_question":
        return ", ".join(a["text"] for a in q.answers if entry.get(f"answer_{a['id']}") == "1")
    if qt == "matching_question":
        rights = {str(m["match_id"]): m["text"] for m in q.extras.get("matches", [])}
        return ", ".join(f"{a['left']}: {rights.get(str(entry.get('answer_' + str(a['id']))), '')}"
                         for a in q.answers)
    if qt in ("fill_in_multiple_blanks_question", "multiple_dropdowns_question"):
        return ", ".join(str(by_id.get(v, {}).get("text", v) if isinstance(v, int) else v)
                         for k, v in entry.items() if k.startswith("answer_for_"))
    if qt == "file_upload_question":
        return "lab-report.pdf"
    if qt == "essay_question":
        return (entry.get("text") or "") + '\n<p>(Written in the "essay" box.)</p>'
    return entry.get("text") or None


def _elapsed(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def report_rows(world: World, quiz: Quiz, drop: int = 0) -> list[dict]:
    """The JSON ``student_analysis`` report: one row per student attempt."""
    questions = {q.id: q for q in world.questions[quiz.id]}
    ids = entry_ids(world, quiz)
    students = [uid for uid in sorted(world.student_ids(quiz.course_id))
                if world.work.get((quiz.id, uid)) is not None]
    rows = []
    for uid in students[:len(students) - drop]:
        w: QuizWork = world.work[(quiz.id, uid)]
        user = world.users[uid]
        for att in w.attempts:
            responses = []
            for entry in att.submission_data:
                q = questions[entry["question_id"]]
                if q.question_type in NO_SCORE_TYPES:
                    continue
                graded = q.question_type not in UNGRADED_TYPES
                responses.append({"item_id": ids[q.id], "item_type": SLUGS[q.question_type],
                                  "answer": _answer(q, entry),
                                  "score": float(entry["points"]) if graded else None})
            rows.append({"student_data": {
                "id": uid, "name": user.name, "sis_id": f"SIS{uid}",
                "submitted": iso(att.submitted_at),
                "elapsed": _elapsed(att.submitted_at - att.started_at), "attempt": att.attempt},
                "item_responses": responses})
    return rows


def report_csv(world: World, quiz: Quiz, drop: int = 0) -> str:
    """The CSV form of the same report (positional: see the module docstring)."""
    questions = [q for q in world.questions[quiz.id] if q.question_type not in NO_SCORE_TYPES]
    ids = entry_ids(world, quiz)
    course = world.courses[quiz.course_id]
    header = list(CSV_LEAD)
    for q in questions:
        header += ["ItemID", "ItemType", _plain(q.question_text), "EarnedPoints", "Status"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header + CSV_TRAILING)
    for row in report_rows(world, quiz, drop):
        student = row["student_data"]
        by_item = {r["item_id"]: r for r in row["item_responses"]}
        cells = [student["name"], student["id"], student["sis_id"], course.id * 10 + 1,
                 course.name, course.course_code, student["submitted"], student["elapsed"],
                 student["attempt"]]
        right = wrong = 0
        for q in questions:
            r = by_item[ids[q.id]]
            graded = r["score"] is not None
            right += graded and r["score"] >= q.points_possible
            wrong += graded and r["score"] < q.points_possible
            cells += [r["item_id"], r["item_type"], r["answer"] or "",
                      r["score"] if graded else 0, "Graded" if graded else "NotGraded"]
        writer.writerow(cells + [right, wrong, 0, quiz.points_possible,
                                 sum(r["score"] or 0 for r in row["item_responses"])])
    return out.getvalue()


# ------------------------------------------------------------------ report jobs

class ReportDesk:
    """Reports being generated and their files (see module docstring for the knobs)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.polls = 2
            self.seconds: float | None = None
            self.behaviour: dict[int, str] = {}
            self.refuse_json: set[int] = set()
            self.restricted: set[int] = set()
            self.restricted_courses: set[int] = set()
            self.drop: dict[int, int] = {}
            self._jobs: dict[int, dict] = {}
            self._files: dict[str, tuple[bytes, str]] = {}
            self._built: dict[tuple, tuple[tuple, bytes]] = {}
            self._next = 1
            self.reset_counters()

    def reset_counters(self) -> None:
        with self.lock:
            self.started = 0
            self.conflicts = 0
            self.formats: list[str] = []

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
            self._files[token] = (build(job), job["format"])
            job["state"], job["file"] = "completed", token
        job["updated"] = time.time()

    def start(self, assignment_id: int, course_id: int, user_id: int, build,
              report_format: str = "json") -> dict | None:
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
                   "updated": time.time(), "file": None, "format": report_format}
            self._jobs[job["id"]] = job
            self._next += 1
            self.started += 1
            self.formats.append(report_format)
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

    def report_bytes(self, world: World, assignment_id: int, report_format: str = "json") -> bytes:
        """The quiz's report as served, built once per world version and knobs (the sandbox's
        own CPU must not be what a client benchmark measures, see ``cache.py``)."""
        drop = self.drop.get(assignment_id, 0)
        sig = (world.version, world.touched)
        key = (assignment_id, report_format, drop)
        with self.lock:
            hit = self._built.get(key)
            if hit is not None and hit[0] == sig:
                return hit[1]
        with world.lock:
            quiz = world.quiz_by_assignment(assignment_id)
            if report_format == "csv":
                body = report_csv(world, quiz, drop).encode()
            else:
                body = json.dumps(report_rows(world, quiz, drop), separators=(",", ":")).encode()
        with self.lock:
            self._built[key] = (sig, body)
        return body

    def warm(self, world: World) -> None:
        for course_id in list(world.courses):
            for quiz in world.course_quizzes(course_id, "new"):
                self.report_bytes(world, quiz.assignment_id)

    def file(self, token: str) -> tuple[bytes, str] | None:
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

def forbidden() -> web.Response:
    """A concluded enrollment or a restricted API: 403 (canvasexpert's transport notes)."""
    return error(403, "user not authorized to perform that action")


def _new_quiz_course(request: web.Request):
    """(course, roles) or an error response, with the course's New Quizzes API refused
    (403) when the course is in ``restricted_courses``."""
    ctx, err = _course(request)
    if err is None and ctx[0].id in request.app[REPORTS].restricted_courses:
        return None, forbidden()
    return ctx, err


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
    ctx, err = _new_quiz_course(request)
    if err:
        return err
    (course, roles), world = ctx, _world(request)
    with world.lock:
        out = [new_quiz_json(q) for q in world.course_quizzes(course.id, "new")
               if q.published or roles & STAFF]
    return page_response(request, out, key=lambda d: (int(d["id"]),))


async def get_new_quiz(request: web.Request) -> web.Response:
    ctx, err = _new_quiz_course(request)
    if err:
        return err
    quiz = _new_quiz(request, ctx[0].id)
    return json_response(new_quiz_json(quiz)) if quiz else not_found()


async def list_items(request: web.Request) -> web.Response:
    ctx, err = _new_quiz_course(request)
    if err:
        return err
    course, roles = ctx
    if not roles & STAFF:
        return unauthorized()
    quiz = _new_quiz(request, course.id)
    if quiz is None:
        return not_found()
    world = _world(request)
    with world.lock:
        out = items_json(world, quiz)
    return page_response(request, out, key=lambda d: (d["position"], int(d["id"])))


async def create_report(request: web.Request) -> web.Response:
    ctx, err = _new_quiz_course(request)
    if err:
        return err
    course, roles = ctx
    if not roles & GRADERS:
        return unauthorized()
    quiz = _new_quiz(request, course.id)
    if quiz is None:
        return not_found()
    desk = request.app[REPORTS]
    if quiz.assignment_id in desk.restricted:
        return forbidden()
    form = await request.post()       # a JSON body leaves the form empty: a 400 below
    report_type = form.get("quiz_report[report_type]")
    report_format = form.get("quiz_report[format]")
    if report_type not in ("student_analysis", "item_analysis") \
            or report_format not in ("csv", "json") \
            or (report_format == "json" and quiz.assignment_id in desk.refuse_json):
        return error(400, "invalid report type or format")
    job = desk.start(quiz.assignment_id, course.id, request[USER_ID], _builder(request),
                     report_format)
    if job is None:
        return error(409, "A report of this type is already being generated.")
    return json_response({"progress": progress_json(request, job)}, status=201)


def _builder(request: web.Request):
    desk, world = request.app[REPORTS], _world(request)
    return lambda job: desk.report_bytes(world, job["assignment_id"], job["format"])


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
    found = request.app[REPORTS].file(token)
    if found is None:
        return not_found()
    return web.Response(status=302, headers={
        "Location": f"/files/{request.match_info['file_id']}/report.{found[1]}"
                    f"?verifier={token}"})


async def signed_file(request: web.Request) -> web.Response:
    found = request.app[REPORTS].file(request.query.get("verifier", ""))
    if found is None:
        return not_found()
    body, report_format = found
    request[ITEMS] = body.count(b'"attempt"') if report_format == "json" else body.count(b"\n")
    if report_format == "csv":
        return web.Response(body=body, content_type="text/csv", charset="utf-8")
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
    r.add_get("/files/{file_id}/report.{ext}", signed_file)
