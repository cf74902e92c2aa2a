"""AchieveUp course sync -> mastery -> badges -> analytics, end to end against the sandbox."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from achieveup.mastery import store
from knowgap.core.tenancy import key, where
from knowgap.jobs.worker import run_pending
from tests.conftest import sandbox_db

COURSE = "101"
SKILLS = ["Cells", "Energy", "Genetics"]
_emails = itertools.count()


def signup(client, token):
    body = {"name": "T User", "email": f"m{next(_emails)}@example.edu",
            "password": "Correct horse battery 9", "canvasApiToken": token}
    r = client.post("/auth/signup", json=body)
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


@pytest.fixture
def teacher(client):
    return signup(client, "teacher-token")


def setup_course(client, app, teacher, world, course=COURSE):
    r = client.post("/achieveup/matrix/create", headers=teacher,
                    json={"course_id": course, "matrix_name": "Core", "skills": SKILLS})
    assert r.status_code == 201, r.get_json()
    db = sandbox_db(app)
    i = 0
    for quiz in world.course_quizzes(int(course)):
        for q in world.questions[quiz.id]:
            db[store.QUESTION_SKILLS].insert_one(where(db, course_id=course,
                                                       question_id=str(q.id),
                                                       quiz_id=str(quiz.id),
                                                       skills=[SKILLS[i % 3]]))
            i += 1
    return db


def sync(client, app, teacher, course=COURSE):
    r = client.post(f"/achieveup/instructor/course/{course}/force-sync", headers=teacher)
    assert r.status_code == 202, r.get_json()
    job_id = r.get_json()["job_id"]
    run_pending(app)
    return client.get(f"/achieveup/jobs/{job_id}", headers=teacher).get_json()


@pytest.fixture
def synced(client, app, teacher, canvas_world):
    """Course 101 with the skills mapped and synced once; the database."""
    db = setup_course(client, app, teacher, canvas_world)
    assert sync(client, app, teacher)["state"] == "succeeded"
    return db


def snapshot_state(db):
    summaries = sorted((d["_id"], d["skills"], d["progress"]) for d in db[store.MASTERY].find())
    badges = sorted((d["_id"], d["level"], str(d["earned_at"])) for d in db[store.BADGES].find())
    return summaries, badges


def test_sync_end_to_end_idempotent_and_analytics_shape(client, app, teacher, canvas_world):
    db = setup_course(client, app, teacher, canvas_world)
    job = sync(client, app, teacher)
    assert job["state"] == "succeeded", job
    assert job["progress"] == 1.0 and job["counts"]["results_new"] > 0
    n = db[store.RESULTS].count_documents({"course_id": COURSE})
    first = snapshot_state(db)
    assert first[0] and first[1], "mastery and badges expected"
    assert any(skills[0]["score"] > 0 for _, skills, _ in first[0])  # non-zero scores

    job2 = sync(client, app, teacher)
    assert job2["state"] == "succeeded" and job2["counts"]["badges_awarded"] == 0
    assert db[store.RESULTS].count_documents({"course_id": COURSE}) == n
    assert snapshot_state(db) == first

    body = client.get(f"/achieveup/instructor/courses/{COURSE}/student-analytics",
                      headers=teacher).get_json()
    assert set(body) == {"students", "skillDistribution", "averageScores"}
    assert len(body["students"]) == len(canvas_world.student_ids(101))
    s = body["students"][0]
    assert set(s) == {"id", "name", "progress", "skillsMastered", "badgesEarned", "riskLevel",
                      "totalQuestionsAttempted", "skillBreakdown"}
    assert isinstance(s["id"], str) and s["riskLevel"] in {"low", "medium", "high"}
    assert set(s["skillBreakdown"]) == set(SKILLS)
    for item in s["skillBreakdown"].values():
        base = {"score", "level", "questionsAttempted", "questionsCorrect", "model", "evidence",
                "explanation"}
        assert base <= set(item)
        assert set(item) - base in (set(), {"badgeLevel", "badgeEarnedAt"})
        # the default model: every graded attempt counts (at least one per question)
        assert item["model"] == "recency" and item["evidence"] >= item["questionsAttempted"]
        assert item["explanation"].endswith(f"so {item['score']:g}.")
    assert set(body["averageScores"]) == set(SKILLS)
    assert any(v > 0 for v in body["averageScores"].values())

    dash = client.get("/achieveup/instructor/dashboard", headers=teacher).get_json()
    # students enrolled in Canvas in the teacher's courses (101 and 102), synced or not
    enrolled = set(canvas_world.student_ids(101)) | set(canvas_world.student_ids(102))
    assert dash["students"] == len(enrolled) and dash["totalSkillMatrices"] == 1
    sid = s["id"]
    prog = client.get(f"/achieveup/progress/{sid}/{COURSE}", headers=teacher).get_json()
    assert set(prog["skill_progress"]) == set(SKILLS) and prog["last_updated"]
    graphs = client.get(f"/achieveup/graphs/individual/{sid}?course_id={COURSE}",
                        headers=teacher).get_json()
    assert set(graphs) == {"timeSeriesData", "performance", "distribution", "trends", "radar",
                           "summary"}
    assert graphs["timeSeriesData"]


def test_attempt_policy_keep_latest_vs_highest(client, app, teacher):
    from achieveup.mastery.service import compute_course
    db = sandbox_db(app)
    db[store.MATRICES].insert_one(where(db, course_id="7", matrix_name="M", name_lower="m",
                                        skills=["S"], instructor_id="x"))
    db[store.QUESTION_SKILLS].insert_one(where(db, course_id="7", question_id="1",
                                               skills=["S"]))
    db[store.QUIZZES].insert_one(where(db, _id=key(db, "7", "9"), course_id="7", quiz_id="9",
                                       scoring_policy="keep_latest"))
    db[store.SETTINGS].insert_one(where(db, _id=key(db, "7"), course_id="7",
                                        mastery_model="percentage"))
    rows = [["9", "1", 1, "2024-09-01T00:00:00Z", 1.0, 1], ["9", "1", 2, "2024-09-02T00:00:00Z",
                                                             0.0, 1]]
    db[store.EVIDENCE].insert_one(store.evidence_doc(db, "7", "5", rows, store.utcnow()))
    latest = compute_course(db, app.config, "7")[0]["skills"][0]
    assert latest["score"] == 0.0 and latest["evidence_count"] == 2
    db[store.QUIZZES].update_one({"_id": key(db, "7", "9")},
                                 {"$set": {"scoring_policy": "keep_highest"}})
    assert compute_course(db, app.config, "7")[0]["skills"][0]["score"] == 100.0


def test_interrupted_sync_keeps_previous_mastery(client, app, teacher, canvas_world, sandbox):
    db = setup_course(client, app, teacher, canvas_world)
    assert sync(client, app, teacher)["state"] == "succeeded"
    before = snapshot_state(db)
    sandbox.inject("401", count=50, path="students/submissions")
    job = sync(client, app, teacher, course=COURSE) if False else None
    r = client.post(f"/achieveup/instructor/course/{COURSE}/force-sync?full=true",
                    headers=teacher)
    job_id = r.get_json()["job_id"]
    run_pending(app)
    job = client.get(f"/achieveup/jobs/{job_id}", headers=teacher).get_json()
    assert job["state"] == "failed" and job["reason"] and job["errors"]
    assert snapshot_state(db) == before


def test_ownership_403s(client, app, teacher, canvas_world):
    setup_course(client, app, teacher, canvas_world)
    other = signup(client, "other-teacher-token")
    assert client.post(f"/achieveup/instructor/course/{COURSE}/force-sync",
                       headers=other).status_code == 403
    assert client.get(f"/achieveup/instructor/courses/{COURSE}/student-analytics",
                      headers=other).status_code == 403
    assert client.get(f"/achieveup/export/{COURSE}", headers=other).status_code == 403
    sync(client, app, teacher)
    ids = canvas_world.student_ids(101)
    student = signup(client, f"student-token-{ids[1]}")
    assert client.get(f"/achieveup/progress/{ids[2]}/{COURSE}", headers=student).status_code == 403
    assert client.get(f"/achieveup/progress/{ids[1]}/{COURSE}", headers=student).status_code == 200
    assert client.get(f"/achieveup/badges/{ids[2]}", headers=student).status_code == 403


def test_badges_public_share_ob_and_revocation(client, app, teacher, canvas_world):
    db = setup_course(client, app, teacher, canvas_world)
    sync(client, app, teacher)
    badge = db[store.BADGES].find_one({"course_id": COURSE})
    sid = badge["student_id"]
    student = signup(client, f"student-token-{sid}")
    earned = client.get(f"/achieveup/badges/student/{sid}/earned", headers=student).get_json()
    assert earned["total_badges"] >= 1 and earned["badges"][0]["badge_level"]
    assert client.get(f"/achieveup/public/badges/student/{sid}/earned").get_json()[
        "total_badges"] == 0
    assert client.get(f"/achieveup/public/badges/assertions/{badge['public_id']}").status_code == 404
    other_student = signup(client, f"student-token-{canvas_world.student_ids(101)[-1]}")
    if str(canvas_world.student_ids(101)[-1]) != sid:
        assert client.put(f"/achieveup/badges/{badge['public_id']}/share", json={"public": True},
                          headers=other_student).status_code == 403
    r = client.put(f"/achieveup/badges/{badge['public_id']}/share", json={"public": True},
                   headers=student)
    assert r.status_code == 200, r.get_json()
    pub = client.get(f"/achieveup/public/badges/student/{sid}/earned").get_json()
    assert pub["total_badges"] == 1
    a = client.get(f"/achieveup/public/badges/assertions/{badge['public_id']}").get_json()
    assert a["type"] == "Assertion" and a["recipient"]["identity"].startswith("sha256$")
    assert len(a["recipient"]["salt"]) == 32 and a["recipient"]["salt"] != "test-salt"
    assert a["verification"]["type"] == "HostedBadge"
    cls = client.get(a["badge"].replace("http://localhost:5001", "")).get_json()
    assert cls["type"] == "BadgeClass" and cls["criteria"]["narrative"]
    # remove the skill from the matrix -> revoked -> 410
    m = db[store.MATRICES].find_one({"course_id": COURSE})
    db[store.MATRICES].update_one({"_id": m["_id"]}, {"$set": {"skills": [
        s for s in SKILLS if s != badge["skill"]]}})
    r = client.post("/achieveup/badges/generate", json={"course_id": COURSE}, headers=teacher)
    assert r.status_code == 200 and isinstance(r.get_json(), list)
    assert client.get(f"/achieveup/public/badges/assertions/{badge['public_id']}").status_code == 410


def test_export_formats_and_neutralization(client, app, teacher, canvas_world):
    db = setup_course(client, app, teacher, canvas_world)
    db[store.MATRICES].insert_one(where(db, course_id=COURSE, matrix_name="=HYPERLINK(1)",
                                        name_lower="=hyperlink(1)", skills=["@evil", "-x"],
                                        instructor_id="x"))
    sync(client, app, teacher)
    r = client.get(f"/achieveup/export/{COURSE}?format=json", headers=teacher)
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    assert r.headers["Content-Disposition"].endswith('.json"')
    data = r.get_json()
    assert data["mastery"] and data["badges"] and len(data["matrices"]) == 2
    r = client.get(f"/achieveup/export/{COURSE}?format=csv", headers=teacher)
    assert r.headers["Content-Type"].startswith("text/csv")
    text = r.data.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and "'@evil" in text and ",=HYPERLINK" not in text
    r = client.get(f"/achieveup/export/{COURSE}?format=xlsx", headers=teacher)
    assert r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    import io
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["Summary", "matrices", "question_skills", "mastery", "badges", "items"]
    items = list(wb["items"].iter_rows(values_only=True))
    assert items[0][:3] == ("quiz_id", "quiz_title", "question_id")
    assert len(items) - 1 == len(data["items"]) > 0
    values = [c.value for row in wb["matrices"].iter_rows() for c in row]
    assert "'=HYPERLINK(1)" in values and "'-x" in values
    assert client.get(f"/achieveup/export/{COURSE}?format=pdf", headers=teacher).status_code == 422


def test_import_round_trip_idempotent_and_invalid(client, app, teacher, canvas_world):
    db = setup_course(client, app, teacher, canvas_world)
    data = client.get(f"/achieveup/export/{COURSE}?format=json", headers=teacher).get_json()
    r = client.post("/achieveup/import", json={"course_id": "102", "data": data}, headers=teacher)
    assert r.status_code == 200, r.get_json()
    again = client.post("/achieveup/import", json={"course_id": "102", "data": data},
                        headers=teacher)
    assert again.status_code == 200
    b = client.get("/achieveup/export/102?format=json", headers=teacher).get_json()
    assert b["matrices"] == data["matrices"] and b["question_skills"] == data["question_skills"]
    assert db[store.MATRICES].count_documents({"course_id": "102"}) == 1
    before = (db[store.MATRICES].count_documents({}), db[store.QUESTION_SKILLS].count_documents({}))
    bad = dict(data, question_skills=data["question_skills"] + [
        {"question_id": "1", "skills": ["Nope"]}])
    r = client.post("/achieveup/import", json={"course_id": "102", "data": bad}, headers=teacher)
    assert r.status_code == 422 and r.get_json()["details"]
    bad2 = dict(data, matrices=[{"matrix_name": "X", "skills": [{"$ne": 1}]}])
    assert client.post("/achieveup/import", json={"course_id": "102", "data": bad2},
                       headers=teacher).status_code == 422
    assert (db[store.MATRICES].count_documents({}),
            db[store.QUESTION_SKILLS].count_documents({})) == before


def test_import_rolls_back_on_write_failure(app):
    from achieveup.exchange.service import import_data
    db = sandbox_db(app)
    data = {"schema": "achieveup.course-export", "version": 1, "course_id": "1",
            "matrices": [{"matrix_name": "A", "skills": ["x", "y"]}],
            "question_skills": [{"question_id": "5", "skills": ["x"]},
                                {"question_id": "6", "skills": ["y"]}]}
    with pytest.raises(RuntimeError):
        import_data(db, "2", "u", data, _fail_after=2)
    assert db[store.MATRICES].count_documents({}) == 0
    assert db[store.QUESTION_SKILLS].count_documents({}) == 0


def test_knowgap_risk_reads_achieveup_skill_mastery(client, app, teacher, canvas_world):
    from achieveup.mastery.summaries import skills_of, summary_of
    from achieveup.pipeline import skill_mastery_average

    db = setup_course(client, app, teacher, canvas_world)
    student = str(canvas_world.student_ids(int(COURSE))[0])
    assert skill_mastery_average(db, COURSE, student) is None       # nothing synced yet
    assert sync(client, app, teacher)["state"] == "succeeded"
    scores = [e["score"] for e in skills_of(summary_of(db, COURSE, student))
              if e["evidence_count"]]
    assert scores
    assert skill_mastery_average(db, COURSE, student) == pytest.approx(sum(scores) / len(scores))


def test_incremental_sync_of_unchanged_course_is_cheap_and_idempotent(client, app, teacher,
                                                                       canvas_world, sandbox):
    db = setup_course(client, app, teacher, canvas_world)
    sandbox.reset_counters()
    first = sync(client, app, teacher)
    first_requests = sandbox.state.total_requests
    assert first["state"] == "succeeded" and first["counts"]["incremental"] == 0
    n = db[store.RESULTS].count_documents({"course_id": COURSE})
    before = snapshot_state(db)
    state = store.sync_state(db, COURSE)
    assert state["course_record"]["name"] and state["quiz_signatures"]

    sandbox.reset_counters()
    second = sync(client, app, teacher)
    second_requests = sandbox.state.total_requests
    assert second["state"] == "succeeded" and second["counts"]["incremental"] == 1, second
    # the floor: the Classic and New Quizzes lists (to see changed quizzes) and one
    # submissions page since the cursor; the default course is small, so the ratio is checked
    # on a bigger course in test_incremental_sync_picks_up_new_attempt
    assert second_requests <= 3 < first_requests, (first_requests, second_requests)
    assert second["counts"]["badges_awarded"] == 0
    assert db[store.RESULTS].count_documents({"course_id": COURSE}) == n
    assert snapshot_state(db) == before
    assert store.sync_state(db, COURSE)["course_name"] == state["course_name"]

    # ?full=true still re-reads everything
    sandbox.reset_counters()
    r = client.post(f"/achieveup/instructor/course/{COURSE}/force-sync?full=true",
                    headers=teacher)
    job_id = r.get_json()["job_id"]
    run_pending(app)
    job = client.get(f"/achieveup/jobs/{job_id}", headers=teacher).get_json()
    assert job["state"] == "succeeded" and job["counts"]["incremental"] == 0
    assert sandbox.state.total_requests > 0.5 * first_requests
    assert snapshot_state(db) == before

    # an outdated last full sync forces a full one
    db[store.SYNC_STATE].update_one({"_id": key(db, COURSE)}, {"$set": {
        "last_full_sync_at": store.utcnow() - dt.timedelta(hours=25)}})
    assert sync(client, app, teacher)["counts"]["incremental"] == 0


def test_incremental_sync_picks_up_new_attempt(sandbox_factory, db):
    from achieveup.mastery.summaries import skills_of, summary_of
    from knowgap import create_app
    from knowgap.core.extensions import limiter
    from tests.conftest import canvas_settings, make_config

    from tests.canvas_sandbox import CourseSpec, build_world

    # own world (the shared one stays unchanged), with enough quizzes for a realistic ratio
    server = sandbox_factory(build_world([CourseSpec(
        int(COURSE), "Introduction to Biology", "BIO-101", n_students=30, n_quizzes=24,
        n_questions_per_quiz=4)], seed=7))
    app = create_app(make_config(**canvas_settings(server)), db=db)
    app.config["TESTING"] = True
    limiter.reset()
    client = app.test_client()
    teacher = signup(client, "teacher-token")
    world = server.world
    db = setup_course(client, app, teacher, world)
    server.reset_counters()
    assert sync(client, app, teacher)["state"] == "succeeded"
    first_requests = server.state.total_requests
    n = db[store.RESULTS].count_documents({"course_id": COURSE})
    before = snapshot_state(db)
    server.reset_counters()
    job = sync(client, app, teacher)
    second_requests = server.state.total_requests
    assert job["counts"]["incremental"] == 1 and snapshot_state(db) == before
    assert second_requests <= 0.1 * first_requests, (first_requests, second_requests)
    print(f"requests: full sync {first_requests}, unchanged incremental {second_requests}")

    student = world.student_ids(int(COURSE))[0]
    quiz = world.course_quizzes(int(COURSE))[0]
    evidence = sum(e["evidence_count"] for e in skills_of(summary_of(db, COURSE,
                                                                          str(student))))

    world.add_attempt(int(COURSE), quiz.id, student)
    server.reset_counters()
    job = sync(client, app, teacher)
    print(f"requests: incremental with one new attempt {server.state.total_requests}")
    assert job["state"] == "succeeded" and job["counts"]["incremental"] == 1, job
    assert job["counts"]["results_new"] == len(world.questions[quiz.id])
    assert db[store.RESULTS].count_documents({"course_id": COURSE}) == n + len(
        world.questions[quiz.id])
    after = sum(e["evidence_count"] for e in skills_of(summary_of(db, COURSE, str(student))))
    assert after > evidence
    limiter.reset()
