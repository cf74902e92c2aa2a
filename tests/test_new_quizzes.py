"""New Quizzes end to end: Canvas sandbox (New Quizzes API, reports flow, in the shapes real
Canvas answers: see ``tests/canvas_sandbox/new_quizzes.py``) -> syncs -> mastery, badges,
analytics, export, KnowGap videos and risk, next to Classic Quizzes in one course; what happens
when a report loses students, is refused (403) or only the CSV form is given; the Student
Analysis CSV upload.

Each test runs its own sandbox (worlds are mutated) and app. Skills are mapped through the web
app's own routes (quiz list -> questions -> ``/achieveup/skills/assign``), so a New Quiz's
``nq-`` ids travel the path the skill assignment page uses.
"""
from __future__ import annotations

import csv
import io
import itertools
import uuid

import pytest

from achieveup.mastery import service as mastery
from achieveup.mastery import store
from knowgap import create_app
from knowgap.core import db as dbmod
from knowgap.courses import store as kg_store
from knowgap.jobs.worker import run_pending
from tests.canvas_sandbox import CourseSpec, build_world
from tests.conftest import (TEST_MONGODB_URI, ai_settings, canvas_settings, make_config,
                            sandbox_db)
from tests.knowgap_support import TEACHER, post, student_token

COURSE = 301
SKILLS = ["Cells", "Energy", "Genetics", "Evolution"]
_emails = itertools.count()


def spec(engine: str, **kw) -> CourseSpec:
    """Questions reused from a bank (served as ``BankEntry`` items) in every course."""
    kw.setdefault("duplicate_bank_ratio", 0.25)
    return CourseSpec(COURSE, "Mixed Biology", "BIO-301", n_students=kw.pop("n_students", 8),
                      n_quizzes=4, n_questions_per_quiz=8, attempts=2, engine=engine, **kw)


class Course:
    """A private sandbox with one course, an app on a fresh database, a signed-up teacher."""

    def __init__(self, factory, db, engine="mixed", *, ai=None, yt=None, world_kw=None,
                 **overrides):
        self.world = build_world([spec(engine, **(world_kw or {}))], seed=11)
        self.server = factory(self.world)
        settings = dict(canvas_settings(self.server), **ai_settings(ai, yt))
        settings.setdefault("canvas_report_wait_seconds", 10.0)
        settings.update(overrides)
        self.app = create_app(make_config(**settings), db=db)
        self.client = self.app.test_client()
        self.db = sandbox_db(self.app)
        r = self.client.post("/auth/signup", json={
            "name": "Teacher", "email": f"nq{next(_emails)}@example.edu",
            "password": "Correct horse battery 9", "canvasApiToken": TEACHER})
        assert r.status_code == 201, r.get_json()
        self.headers = {"Authorization": f"Bearer {r.get_json()['token']}"}

    @property
    def desk(self):
        return self.server.reports

    def get(self, path, **kw):
        r = self.client.get(path, headers=self.headers, **kw)
        assert r.status_code == 200, (path, r.get_json())
        return r.get_json()

    def new_quizzes(self):
        return self.world.course_quizzes(COURSE, "new")

    def map_skills(self) -> dict:
        """Skills by question position through the web app's routes: {question id: skill}."""
        r = self.client.post("/achieveup/matrix/create", headers=self.headers, json={
            "course_id": str(COURSE), "matrix_name": "Core", "skills": SKILLS})
        assert r.status_code == 201, r.get_json()
        mapping, i = {}, 0
        quizzes = self.get(f"/canvas/instructor/courses/{COURSE}/quizzes")
        for quiz in sorted(quizzes, key=lambda q: self._position(q["id"])):
            questions = self.get(f"/canvas/instructor/courses/{COURSE}/quizzes/{quiz['id']}"
                                 "/questions")
            for q in questions:
                mapping[q["id"]] = [SKILLS[i % len(SKILLS)]]
                i += 1
        r = self.client.post("/achieveup/skills/assign", headers=self.headers,
                             json={"course_id": str(COURSE), "question_skills": mapping})
        assert r.status_code == 200, r.get_json()
        return mapping

    def _position(self, quiz_id: str) -> int:
        for quiz in self.world.course_quizzes(COURSE):
            if quiz_id in (str(quiz.id), f"nq-{quiz.assignment_id}"):
                return quiz.position
        raise KeyError(quiz_id)

    def sync(self, full=False) -> dict:
        r = self.client.post(f"/achieveup/instructor/course/{COURSE}/force-sync"
                             + ("?full=true" if full else ""), headers=self.headers)
        assert r.status_code == 202, r.get_json()
        run_pending(self.app)
        return self.get(f"/achieveup/jobs/{r.get_json()['job_id']}")

    def results(self, **query) -> list[dict]:
        return list(self.db[store.RESULTS].find({"course_id": str(COURSE), **query}, {"_id": 0}))


@pytest.fixture
def course(sandbox_factory, db):
    return Course(sandbox_factory, db)


def _skill_view(summary: dict) -> dict:
    return {e["skill"]: {k: e[k] for k in ("score", "level", "questions_attempted",
                                           "questions_correct", "p_mastery", "evidence_count",
                                           "mastered")}
            for e in mastery.packed_skills(summary)}


# ------------------------------------------------------------------ routes

def test_routes_list_new_quizzes_and_items_in_the_contract_shapes(course):
    quizzes = course.get(f"/canvas/instructor/courses/{COURSE}/quizzes")
    ids = [q["id"] for q in quizzes]
    new = [f"nq-{q.assignment_id}" for q in course.new_quizzes()]
    assert len(quizzes) == 4 and set(new) <= set(ids) and len(new) == 2
    assert all(isinstance(q["id"], str) and q["course_id"] == str(COURSE) for q in quizzes)
    questions = course.get(f"/canvas/instructor/courses/{COURSE}/quizzes/{new[0]}/questions")
    source = course.world.questions[course.new_quizzes()[0].id]
    assert [q["id"] for q in questions] == [f"nq-{q.id}" for q in source]
    assert [q["question_text"] for q in questions] == [q.question_text for q in source]
    assert set(questions[0]) == {"id", "question_text", "quiz_id", "question_type", "points"}
    assert {q["quiz_id"] for q in questions} == {new[0]}
    # the quiz-id-only route finds a New Quiz in the caller's courses too
    alone = course.get(f"/canvas/quizzes/{new[0]}/questions")
    assert alone == questions
    # KnowGap's quiz list names them as well
    body = post(course.client, "/get-course-quizzes", TEACHER, course_id=COURSE,
                link=course.server.host).get_json()
    assert set(new) <= set(body["quizzes"])


# ------------------------------------------------------------------ the mixed course

def test_mixed_course_synced_end_to_end(course):
    mapping = course.map_skills()
    job = course.sync()
    assert job["state"] == "succeeded", job
    assert job["counts"]["new_quiz_reports"] == 2 and job["errors"] == []
    new_rows = course.results(source="new")
    classic_rows = course.results(source="classic")
    assert new_rows and classic_rows
    assert {r["quiz_id"] for r in new_rows} == {f"nq-{q.assignment_id}"
                                               for q in course.new_quizzes()}
    assert all(r["question_id"] in mapping for r in new_rows)
    # choice answers resolve to the items' choice ids
    assert any(r["answer_ids"] for r in new_rows)
    # every student's New Quiz work, all attempts, matches the world
    world = course.world
    for quiz in course.new_quizzes():
        for sid in world.student_ids(COURSE):
            for att in world.work[(quiz.id, sid)].attempts:
                for e in att.submission_data:
                    rows = course.results(student_id=str(sid), question_id=f"nq-{e['question_id']}",
                                          attempt=att.attempt)
                    if e["correct"] == "no_score":
                        assert rows == []            # a stimulus is not a question
                        continue
                    [row] = rows
                    if e["correct"] == "undefined":
                        assert row["credit"] is None
                    else:
                        assert row["points"] == pytest.approx(e["points"])

    # a skill whose evidence is New Quizzes only still gets mastery and badges
    only_new = {mapping[f"nq-{q.id}"][0] for quiz in course.new_quizzes()
                for q in world.questions[quiz.id]}
    analytics = course.get(f"/achieveup/instructor/courses/{COURSE}/student-analytics")
    assert len(analytics["students"]) == len(world.student_ids(COURSE))
    attempted = {s: sum(st["skillBreakdown"][s]["questionsAttempted"]
                        for st in analytics["students"]) for s in SKILLS}
    assert all(attempted[s] > 0 for s in only_new)
    badges = list(course.db[store.BADGES].find({"course_id": str(COURSE)}))
    assert badges
    export = course.get(f"/achieveup/export/{COURSE}?format=json")
    assert {m["question_id"] for m in export["question_skills"]} >= {
        r["question_id"] for r in new_rows}
    assert export["mastery"] and export["badges"]

    # the KnowGap side: the instructor's sync stores the items and each student's wrong ones
    r = post(course.client, "/update-course-db", TEACHER, course_id=COURSE,
             link=course.server.host)
    assert r.status_code == 200, r.get_json()
    quiz = course.new_quizzes()[0]
    sid = world.student_ids(COURSE)[0]
    doc = course.db[kg_store.INCORRECT].find_one({"course_id": str(COURSE),
                                                  "student_id": str(sid)})
    latest = world.work[(quiz.id, sid)].attempts[-1].submission_data
    wrong = {f"nq-{e['question_id']}" for e in latest
             if e["correct"] is False or e["correct"] == "partial"}
    assert set(doc["quizzes"][f"nq-{quiz.assignment_id}"]["incorrect"]) == wrong


def test_a_new_quizzes_course_matches_the_same_course_on_classic_quizzes(
        sandbox_factory, openai_fake, youtube_fake):
    """Same seed, same work; one world serves every quiz as a Classic Quiz, the other as a New
    Quiz. Mastery, badges, risk, KnowGap wrong answers and videos must be the same."""
    views = {}
    for engine in ("classic", "new"):
        db = _fresh_db()
        c = Course(sandbox_factory, db, engine, ai=openai_fake, yt=youtube_fake)
        c.map_skills()
        job = c.sync()
        assert job["state"] == "succeeded" and not job["errors"], job
        summaries = {d["student_id"]: d for d in mastery.summaries_of_course(c.db, str(COURSE))}
        badges = sorted((b["student_id"], b["skill"], b["level"], b["percentage"],
                         b["evidence_count"]) for b in db[store.BADGES].find())
        assert post(c.client, "/update-course-db", TEACHER, course_id=COURSE,
                    link=c.server.host).status_code == 200
        videos = {}
        for sid in c.world.student_ids(COURSE):
            items = post(c.client, "/get-assessment-videos", student_token(sid),
                         course_id=COURSE, student_id=str(sid),
                         link=c.server.host).get_json()["assessment_videos"]
            videos[sid] = sorted((v["quiz_name"], v["question_text"], v["topic"],
                                  (v.get("video") or {}).get("link")) for v in items)
        views[engine] = {
            "results": len(_question_rows(c)),
            "skills": {sid: _skill_view(d) for sid, d in summaries.items()},
            "risk": {sid: (d["risk_level"], d["risk_index"]) for sid, d in summaries.items()},
            "progress": {sid: d["progress"] for sid, d in summaries.items()},
            "badges": badges, "videos": videos,
        }
        if TEST_MONGODB_URI:
            db.client.drop_database(db.name)
    classic, new = views["classic"], views["new"]
    assert classic["skills"] and classic["badges"] and any(classic["videos"].values())
    assert classic["results"] > 0
    for key in ("results", "skills", "risk", "progress", "badges", "videos"):
        assert new[key] == classic[key], key


def _question_rows(c) -> list[dict]:
    """Stored results of questions: Classic Quizzes also record text-only "questions"
    (``correct: "no_score"``), which a New Quiz lists as stimuli that are never answered."""
    return [r for r in c.results() if r.get("correct") != "no_score"]


def _row_key(r):
    return (r["student_id"], r["quiz_id"], r["question_id"], r["attempt"], r["credit"],
            r["points"], r["points_possible"], tuple(r["answer_ids"]), r["graded_at"])


def test_items_drawn_from_a_bank_are_kept_with_their_reason(sandbox_factory, db):
    """A quiz that draws a question at random from a bank: the report names an item the item
    list does not have. Its answers are stored under their own id with a note, so the course
    stores as many results as its Classic twin."""
    c = Course(sandbox_factory, db, "new", world_kw={"bank_draws": 1})
    job = c.sync()
    assert job["state"] == "succeeded" and job["errors"] == [], job
    drawn = [r for r in c.results() if r["question_id"].startswith("nq-item-")]
    attempts = sum(len(w.attempts) for w in c.world.work.values() if w.course_id == COURSE)
    assert len(drawn) == attempts == job["counts"]["new_quiz_items_outside_list"]
    assert all(r["note"] and "bank" in r["note"] and r["points_possible"] is None
               for r in drawn)
    assert all(r["points"] is not None for r in drawn)
    twin = Course(sandbox_factory, _fresh_db(), "classic", world_kw={"bank_draws": 1})
    assert twin.sync()["state"] == "succeeded"
    assert len(_question_rows(twin)) == len(c.results())
    if TEST_MONGODB_URI:
        twin.db.client.drop_database(twin.db.name)


def _fresh_db():
    """A database of its own (the ``db`` fixture gives one per test; this test needs two)."""
    return dbmod.connect(TEST_MONGODB_URI, f"test_{uuid.uuid4().hex[:12]}")


# ------------------------------------------------------------------ the reports flow

def test_report_pending_then_completed_by_its_progress(sandbox_factory, db):
    c = Course(sandbox_factory, db, canvas_report_wait_seconds=0.4)
    c.map_skills()
    c.desk.polls = 10_000                          # Canvas takes longer than the sync waits
    job = c.sync()
    assert job["state"] == "succeeded", job
    assert job["counts"]["new_quiz_reports_pending"] == 2
    titles = {q.title for q in c.new_quizzes()}
    assert len(job["errors"]) == 2 and all("still preparing" in e for e in job["errors"])
    assert {e.split("'")[1] for e in job["errors"]} == titles
    assert c.results(source="new") == [] and c.results(source="classic")
    state = store.sync_state(c.db, str(COURSE))
    assert all(p["progress_url"] for p in state["pending_reports"])
    started = c.desk.started

    c.desk.polls = 0                               # Canvas has finished meanwhile
    job = c.sync()
    assert job["state"] == "succeeded" and job["errors"] == [], job
    assert job["counts"]["incremental"] == 1       # nothing new was graded: still reported
    assert c.desk.started == started               # the running reports were polled (409)
    assert c.desk.conflicts == 2
    assert c.results(source="new")
    # a report that was already running may predate new grades: asked again next time
    state = store.sync_state(c.db, str(COURSE))
    assert {p["progress_url"] for p in state["pending_reports"]} == {None}
    c.desk.polls = 1
    job = c.sync()
    assert c.desk.started == started + 2 and job["counts"]["new_quiz_reports"] == 2
    assert store.sync_state(c.db, str(COURSE))["pending_reports"] == []


def test_409_for_a_report_someone_else_started(sandbox_factory, db):
    c = Course(sandbox_factory, db)
    quiz = c.new_quizzes()[0]
    c.desk.seconds = 0.5                           # someone's report finishes on its own
    c.desk.polls = 10_000
    other = c.desk.start(quiz.assignment_id, COURSE, c.world.ta_id, lambda job: [])
    assert other is not None
    job = c.sync()
    assert job["state"] == "succeeded" and job["errors"] == [], job
    assert c.desk.conflicts >= 1                    # asked while the other one ran
    assert {r["quiz_id"] for r in c.results(source="new")} == {
        f"nq-{q.assignment_id}" for q in c.new_quizzes()}


def test_failed_report_keeps_previous_results_and_is_retried(sandbox_factory, db):
    c = Course(sandbox_factory, db)
    c.map_skills()
    assert c.sync()["state"] == "succeeded"
    quiz = c.new_quizzes()[0]
    key = f"nq-{quiz.assignment_id}"
    before_rows = sorted(c.results(quiz_id=key), key=lambda r: (r["student_id"],
                                                                r["question_id"], r["attempt"]))
    before = {d["student_id"]: _skill_view(d)
              for d in mastery.summaries_of_course(c.db, str(COURSE))}

    sid = c.world.student_ids(COURSE)[0]
    c.world.add_attempt(COURSE, quiz.id, sid)
    c.desk.behaviour[quiz.assignment_id] = "fail"
    job = c.sync()
    assert job["state"] == "succeeded", job
    assert job["counts"]["new_quiz_reports_failed"] == 1
    [note] = job["errors"]
    assert quiz.title in note and "could not generate" in note and "kept" in note
    after_rows = sorted(c.results(quiz_id=key), key=lambda r: (r["student_id"],
                                                               r["question_id"], r["attempt"]))
    assert after_rows == before_rows
    after = {d["student_id"]: _skill_view(d)
             for d in mastery.summaries_of_course(c.db, str(COURSE))}
    assert after == before

    del c.desk.behaviour[quiz.assignment_id]
    job = c.sync()                                 # nothing graded since: retried anyway
    assert job["state"] == "succeeded" and job["errors"] == [], job
    attempts = {r["attempt"] for r in c.results(quiz_id=key, student_id=str(sid))}
    assert max(attempts) == len(c.world.work[(quiz.id, sid)].attempts)


def test_incremental_resync_reports_only_new_quizzes_with_new_grades(sandbox_factory, db):
    c = Course(sandbox_factory, db)
    c.map_skills()
    c.server.reset_counters()
    first = c.sync()
    first_requests = c.server.state.total_requests
    assert first["counts"]["new_quiz_reports"] == 2

    c.server.reset_counters()
    started = c.desk.started
    job = c.sync()
    assert job["counts"]["incremental"] == 1
    assert c.desk.started == started and c.server.state.count("/reports") == 0
    # both quiz lists + one cursor page (the ratio to a first sync is bench/canvas_sync.py's)
    assert c.server.state.total_requests == 3 < first_requests

    quiz, other = c.new_quizzes()
    sid = c.world.student_ids(COURSE)[1]
    c.world.add_attempt(COURSE, quiz.id, sid)
    c.server.reset_counters()
    job = c.sync()
    assert job["counts"]["new_quiz_reports"] == 1 and c.desk.started == started + 1
    posts = [e for e in c.server.state.request_log if e["path"].endswith("/reports")]
    assert [e["path"].split("/")[-2] for e in posts] == [str(quiz.assignment_id)]
    n = len(c.world.work[(quiz.id, sid)].attempts)
    assert {r["attempt"] for r in c.results(quiz_id=f"nq-{quiz.assignment_id}",
                                            student_id=str(sid))} == set(range(1, n + 1))
    assert job["counts"]["results_new"] > 0


def test_canvas_faults_in_the_reports_flow(sandbox_factory, db):
    """A 503 while polling is retried; a report file that cannot be read fails that quiz only
    (with a reason on the job), never the sync."""
    c = Course(sandbox_factory, db)
    c.server.inject("503", count=1, path="/api/v1/progress/")
    c.server.inject("malformed_json", count=1, path="/files/")
    job = c.sync()
    assert job["state"] == "succeeded", job
    assert job["counts"]["new_quiz_reports"] + job["counts"]["new_quiz_reports_failed"] == 2
    assert job["counts"]["new_quiz_reports_failed"] == 1
    [note] = job["errors"]
    assert "could not read" in note and "kept" in note
    assert c.server.state.status_counts.get(503) == 1
    # the quiz that failed is asked for again by the next (incremental) sync
    job = c.sync()
    assert job["errors"] == [] and job["counts"]["new_quiz_reports"] == 1, job
    assert {r["quiz_id"] for r in c.results(source="new")} == {
        f"nq-{q.assignment_id}" for q in c.new_quizzes()}


# ------------------------------------------------------------------ no silent success

def _states(c) -> dict:
    return {q["id"]: (q.get("results_state"), q.get("results_message"))
            for q in c.get(f"/canvas/instructor/courses/{COURSE}/quizzes")}


def test_a_report_that_loses_students_fails_loudly_and_keeps_earlier_results(sandbox_factory,
                                                                              db):
    c = Course(sandbox_factory, db, "new")
    c.map_skills()
    assert c.sync()["state"] == "succeeded"
    quiz = c.new_quizzes()[0]
    key = f"nq-{quiz.assignment_id}"
    before = sorted(map(_row_key, c.results(quiz_id=key)))
    mastery_before = {d["student_id"]: _skill_view(d)
                      for d in mastery.summaries_of_course(c.db, str(COURSE))}
    assert _states(c)[key] == ("read", None)

    c.world.add_attempt(COURSE, quiz.id, c.world.student_ids(COURSE)[0])
    c.desk.drop[quiz.assignment_id] = 3            # Canvas' report leaves out 3 students
    job = c.sync()
    n = len(c.world.student_ids(COURSE))
    assert job["counts"]["new_quiz_reports_incomplete"] == 1
    assert job["counts"]["new_quiz_states"][key] == "incomplete"
    [note] = job["errors"]
    assert quiz.title in note and f"rows for {n - 3} of the {n} students" in note
    assert "(3 missing)" in note and "earlier results are kept" in note
    assert sorted(map(_row_key, c.results(quiz_id=key))) == before
    assert {d["student_id"]: _skill_view(d)
            for d in mastery.summaries_of_course(c.db, str(COURSE))} == mastery_before
    state, message = _states(c)[key]
    assert state == "incomplete" and "3 missing" in message

    del c.desk.drop[quiz.assignment_id]            # the next sync asks again, and reads it
    job = c.sync()
    assert job["errors"] == [] and job["counts"]["new_quiz_states"] == {key: "read"}, job
    assert len(c.results(quiz_id=key)) > len(before)
    assert _states(c)[key] == ("read", None)


def test_a_first_sync_whose_report_loses_students_stores_nothing_of_it(sandbox_factory, db):
    c = Course(sandbox_factory, db, "new")
    quiz = c.new_quizzes()[1]
    c.desk.drop[quiz.assignment_id] = 1
    job = c.sync()
    assert job["counts"]["new_quiz_reports"] == 3 and job["errors"], job
    assert c.results(quiz_id=f"nq-{quiz.assignment_id}") == []
    assert {r["quiz_id"] for r in c.results()} == {
        f"nq-{q.assignment_id}" for q in c.new_quizzes() if q is not quiz}


def test_403_is_a_restricted_quiz_not_a_course_without_new_quizzes(sandbox_factory, db):
    c = Course(sandbox_factory, db, "mixed")
    c.map_skills()
    assert c.sync()["state"] == "succeeded"
    quiz, other = c.new_quizzes()
    key, other_key = f"nq-{quiz.assignment_id}", f"nq-{other.assignment_id}"
    before = sorted(map(_row_key, c.results(source="new")))

    c.desk.restricted.add(quiz.assignment_id)      # the token's enrollment concluded
    job = c.sync(full=True)
    assert job["state"] == "succeeded", job
    assert job["counts"]["new_quiz_reports_restricted"] == 1
    assert job["counts"]["new_quiz_states"] == {key: "restricted", other_key: "read"}
    [note] = job["errors"]
    assert quiz.title in note and "403" in note and "Student Analysis CSV" in note
    assert sorted(map(_row_key, c.results(source="new"))) == before
    state, message = _states(c)[key]
    assert state == "restricted" and "403" in message

    # the whole New Quizzes API refused: the quizzes stay, restricted, with their results
    c.desk.restricted_courses.add(COURSE)
    job = c.sync(full=True)
    assert job["state"] == "succeeded" and job["counts"]["new_quizzes_list_refused"] == 1
    assert any("did not list this course's New Quizzes" in e for e in job["errors"])
    assert sorted(map(_row_key, c.results(source="new"))) == before
    states = _states(c)
    assert states[key][0] == states[other_key][0] == "restricted"
    assert c.results(source="classic")
    summaries = mastery.summaries_of_course(c.db, str(COURSE))
    assert all(d["progress"] is not None for d in summaries)

    c.desk.restricted_courses.clear()
    c.desk.restricted.clear()
    job = c.sync(full=True)
    assert job["errors"] == [] and set(job["counts"]["new_quiz_states"].values()) == {"read"}
    assert {q for q, (s, _) in _states(c).items() if s} == {key, other_key}


def test_a_refused_json_report_is_read_in_its_csv_form(sandbox_factory, db):
    json_course = Course(sandbox_factory, db, "new")
    assert json_course.sync()["errors"] == []
    c = Course(sandbox_factory, _fresh_db(), "new")
    c.desk.refuse_json.update(q.assignment_id for q in c.new_quizzes())
    job = c.sync()
    assert job["errors"] == [] and job["counts"]["new_quiz_reports_csv"] == 4, job
    assert c.desk.formats.count("csv") == 4
    assert sorted(map(_row_key, c.results())) == sorted(map(_row_key, json_course.results()))
    if TEST_MONGODB_URI:
        c.db.client.drop_database(c.db.name)


def test_items_stored_without_entry_ids_are_fetched_again_for_the_report(sandbox_factory, db):
    c = Course(sandbox_factory, db, "new")
    assert c.sync()["state"] == "succeeded"
    db[store.QUESTIONS].update_many({"course_id": str(COURSE)}, {"$set": {"entry_ids": []}})
    quiz = c.new_quizzes()[2]
    sid = c.world.student_ids(COURSE)[3]
    c.world.add_attempt(COURSE, quiz.id, sid)
    c.server.reset_counters()
    job = c.sync()
    assert job["counts"]["incremental"] == 1 and job["errors"] == [], job
    assert c.server.state.count("/items") == 4
    n = len(c.world.work[(quiz.id, sid)].attempts)
    rows = c.results(quiz_id=f"nq-{quiz.assignment_id}", student_id=str(sid), attempt=n)
    assert rows and all(not r["question_id"].startswith("nq-item-") for r in rows)
    assert all(d["entry_ids"] for d in db[store.QUESTIONS].find({"course_id": str(COURSE)}))


# ------------------------------------------------------------------ the CSV upload

def _upload(c, quiz_id, data, name="student_analysis.csv", headers=None):
    return c.client.post(
        f"/achieveup/instructor/course/{COURSE}/new-quizzes/{quiz_id}/student-analysis",
        headers=c.headers if headers is None else headers,
        data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_an_uploaded_student_analysis_csv_gives_the_reports_results(sandbox_factory, db):
    from tests.canvas_sandbox.new_quizzes import report_csv

    reference = Course(sandbox_factory, _fresh_db(), "new")
    assert reference.sync()["errors"] == []
    c = Course(sandbox_factory, db, "new")
    c.map_skills()
    quiz = c.new_quizzes()[0]
    key = f"nq-{quiz.assignment_id}"
    c.desk.restricted.add(quiz.assignment_id)
    job = c.sync()
    assert job["counts"]["new_quiz_states"][key] == "restricted"
    assert c.results(quiz_id=key) == []
    mastery_before = {d["student_id"]: _skill_view(d)
                      for d in mastery.summaries_of_course(c.db, str(COURSE))}

    c.desk.restricted_courses.add(COURSE)       # the API refuses everything: stored items
    r = _upload(c, key, report_csv(c.world, quiz).encode())
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    n = len(c.world.student_ids(COURSE))
    assert body["students"] == n and body["attempts"] == 2 * n
    assert body["results_new"] == body["results"] > 0 and body["items_outside_list"] == 0
    assert sorted(map(_row_key, c.results(quiz_id=key))) == sorted(
        map(_row_key, reference.results(quiz_id=key)))
    run_pending(c.app)
    job = c.get(f"/achieveup/jobs/{body['job_id']}")
    assert job["state"] == "succeeded", job
    after = {d["student_id"]: _skill_view(d)
             for d in mastery.summaries_of_course(c.db, str(COURSE))}
    assert after != mastery_before
    assert _states(c)[key][0] == "uploaded"
    again = _upload(c, key, report_csv(c.world, quiz).encode()).get_json()
    assert again["results_new"] == 0 and again["results_unchanged"] == body["results"]
    c.desk.restricted_courses.clear()
    job = c.sync()                     # still refused: the uploaded results stay, and it says so
    assert job["counts"]["new_quiz_states"][key] == "restricted"
    state, message = _states(c)[key]
    assert state == "restricted" and "uploaded from its Student Analysis CSV" in message
    assert len(c.results(quiz_id=key)) == body["results"]
    if TEST_MONGODB_URI:
        reference.db.client.drop_database(reference.db.name)


def _edit_cell(text: str, row: int, column: int, value: str) -> str:
    """The CSV with one cell replaced (row 1 = the header, columns from 1)."""
    records = list(csv.reader(io.StringIO(text)))
    records[row - 1][column - 1] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue()


@pytest.mark.parametrize("mutate, row, column, words", [
    (lambda t: t.replace("NumberOfCorrect", "Correct", 1), 1, "NumberOfCorrect",
     "NumberOfCorrect"),
    (lambda t: t.replace(",Graded,", ",Graded,,", 1), 2, None, "columns"),
    (lambda t: _edit_cell(t, 2, 2, "Ava"), 2, 2, "Canvas user id"),
    (lambda t: _edit_cell(t, 3, 13, "two"), 3, 13, "number of points"),
    (lambda t: t.encode("utf-16").decode("latin-1"), None, None, "UTF-8"),
])
def test_a_bad_upload_is_a_422_naming_row_and_column_and_loses_nothing(
        sandbox_factory, db, mutate, row, column, words):
    from tests.canvas_sandbox.new_quizzes import report_csv

    c = Course(sandbox_factory, db, "new")
    assert c.sync()["errors"] == []
    quiz = c.new_quizzes()[0]
    before = sorted(map(_row_key, c.results()))
    text = report_csv(c.world, quiz)
    if isinstance(column, str):                     # the column of that header
        column = next(csv.reader(io.StringIO(text))).index(column) + 1
    data = mutate(text)
    r = _upload(c, f"nq-{quiz.assignment_id}",
                data.encode("latin-1") if words == "UTF-8" else data.encode())
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert body["statusCode"] == 422 and body["error"] == "invalid_student_analysis"
    assert words in body["message"]
    assert body.get("details", {}).get("row") == row
    assert body.get("details", {}).get("column") == column
    if column:
        assert f"column {column}" in body["message"]
    assert sorted(map(_row_key, c.results())) == before


def test_upload_refuses_another_quizs_file_classic_ids_and_non_instructors(sandbox_factory, db):
    from tests.canvas_sandbox.new_quizzes import report_csv

    c = Course(sandbox_factory, db, "mixed")
    assert c.sync()["state"] == "succeeded"
    quiz, other = c.new_quizzes()
    before = sorted(map(_row_key, c.results()))
    r = _upload(c, f"nq-{quiz.assignment_id}", report_csv(c.world, other).encode())
    assert r.status_code == 422 and "another quiz" in r.get_json()["message"]
    assert r.get_json()["details"]["column"] == 10
    classic = c.world.course_quizzes(COURSE, "classic")[0]
    r = _upload(c, str(classic.id), report_csv(c.world, quiz).encode())
    assert r.status_code == 422 and r.get_json()["details"] == {"quiz_id": ["Must be an id."]}
    r = _upload(c, "nq-999999", report_csv(c.world, quiz).encode())
    assert r.status_code == 404 and r.get_json()["error"] == "quiz_not_found"
    r = c.client.post(f"/achieveup/instructor/course/{COURSE}/new-quizzes/nq-"
                      f"{quiz.assignment_id}/student-analysis", headers=c.headers,
                      data={"other": "x"}, content_type="multipart/form-data")
    assert r.status_code == 422
    r = _upload(c, f"nq-{quiz.assignment_id}", report_csv(c.world, quiz).encode(), headers={})
    assert r.status_code == 401
    student = c.client.post("/auth/signup", json={
        "name": "Student", "email": f"nqs{next(_emails)}@example.edu",
        "password": "Correct horse battery 9",
        "canvasApiToken": student_token(c.world.student_ids(COURSE)[0])})
    assert student.status_code == 201, student.get_json()
    r = _upload(c, f"nq-{quiz.assignment_id}", report_csv(c.world, quiz).encode(),
                headers={"Authorization": f"Bearer {student.get_json()['token']}"})
    assert r.status_code == 403
    assert sorted(map(_row_key, c.results())) == before


def test_knowgap_incremental_sync_joins_a_new_quiz_report_to_its_items(course):
    """KnowGap's incremental instructor sync does not re-read unchanged quizzes' items; the
    report of a New Quiz with new work is still joined to them (fetched alongside it)."""
    def sync():
        r = post(course.client, "/update-course-db", TEACHER, course_id=COURSE,
                 link=course.server.host)
        assert r.status_code == 200, r.get_json()
        assert "notes" not in r.get_json(), r.get_json()

    sync()
    quiz = course.new_quizzes()[0]
    sid = course.world.student_ids(COURSE)[2]
    course.world.add_attempt(COURSE, quiz.id, sid)
    course.server.reset_counters()
    sync()
    assert course.server.state.count("/reports") == 1
    latest = course.world.work[(quiz.id, sid)].attempts[-1].submission_data
    wrong = {f"nq-{e['question_id']}" for e in latest
             if e["correct"] is False or e["correct"] == "partial"}
    doc = course.db[kg_store.INCORRECT].find_one({"course_id": str(COURSE),
                                                  "student_id": str(sid)})
    entry = doc["quizzes"][f"nq-{quiz.assignment_id}"]
    assert set(entry["incorrect"]) == wrong and entry["attempt"] == len(
        course.world.work[(quiz.id, sid)].attempts)


def test_knowgap_keeps_new_quizzes_canvas_refuses_to_list(course):
    """A 403 on the New Quizzes list is not "the course has no New Quizzes": a full KnowGap
    sync keeps their stored questions and students' wrong answers, and says why."""
    def sync():
        r = post(course.client, "/update-course-db", TEACHER, course_id=COURSE,
                 link=course.server.host)
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    sync()
    keys = {f"nq-{q.assignment_id}" for q in course.new_quizzes()}

    def stored():
        questions = {d["quiz_id"] for d in course.db[kg_store.QUESTIONS].find(
            {"course_id": str(COURSE)})}
        wrong = {q for d in course.db[kg_store.INCORRECT].find({"course_id": str(COURSE)})
                 for q in d.get("quizzes") or {}}
        return questions & keys, wrong & keys

    before = stored()
    assert before == (keys, keys)
    course.desk.restricted_courses.add(COURSE)
    course.db[kg_store.SYNC_STATE].update_many({}, {"$set": {"full_synced_at": None}})
    body = sync()
    assert any("did not list this course's New Quizzes" in n for n in body["notes"])
    assert stored() == before
    course.desk.restricted_courses.clear()
    assert "notes" not in sync() and stored() == before
