"""New Quizzes end to end: Canvas sandbox (New Quizzes API, reports flow) -> syncs -> mastery,
badges, analytics, export, KnowGap videos and risk, next to Classic Quizzes in one course.

Each test runs its own sandbox (worlds are mutated) and app. Skills are mapped through the web
app's own routes (quiz list -> questions -> ``/achieveup/skills/assign``), so a New Quiz's
``nq-`` ids travel the path the skill assignment page uses.
"""
from __future__ import annotations

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
    return CourseSpec(COURSE, "Mixed Biology", "BIO-301", n_students=kw.pop("n_students", 8),
                      n_quizzes=4, n_questions_per_quiz=8, attempts=2, engine=engine, **kw)


class Course:
    """A private sandbox with one course, an app on a fresh database, a signed-up teacher."""

    def __init__(self, factory, db, engine="mixed", *, ai=None, yt=None, **overrides):
        self.world = build_world([spec(engine)], seed=11)
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
            "skills": {sid: _skill_view(d) for sid, d in summaries.items()},
            "risk": {sid: (d["risk_level"], d["risk_index"]) for sid, d in summaries.items()},
            "progress": {sid: d["progress"] for sid, d in summaries.items()},
            "badges": badges, "videos": videos,
        }
        if TEST_MONGODB_URI:
            db.client.drop_database(db.name)
    classic, new = views["classic"], views["new"]
    assert classic["skills"] and classic["badges"] and any(classic["videos"].values())
    for key in ("skills", "risk", "progress", "badges", "videos"):
        assert new[key] == classic[key], key


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
