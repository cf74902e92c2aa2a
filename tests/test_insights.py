"""Insights over HTTP: item analysis, leaderboard privacy, engagement (and its risk factor),
study plans. Every expected value is recomputed here from the Canvas sandbox's own data or
from the stored result rows, never copied from the implementation."""
from __future__ import annotations


import pytest

from achieveup.insights import store as istore
from achieveup.mastery import store
from knowgap import create_app
from knowgap.core.extensions import limiter
from tests.canvas_sandbox import CourseSpec, build_world
from tests.conftest import canvas_settings, make_config
from tests.knowgap_support import TEACHER, post, student_token
from tests.test_mastery_sync import setup_course, signup, sync, synced, teacher  # noqa: F401

COURSE = "101"
CHOICE = ("multiple_choice_question", "true_false_question")



def latest_credits(db, course, quiz_id) -> dict:
    """{question_id: [credit of each student's latest attempt]} from the stored result rows."""
    rows = list(db[store.RESULTS].find({"course_id": course, "quiz_id": quiz_id}))
    latest = {}
    for r in rows:
        latest[r["student_id"]] = max(latest.get(r["student_id"], 0), r["attempt"])
    out: dict = {}
    for r in rows:
        if r["attempt"] == latest[r["student_id"]] and r["credit"] is not None:
            out.setdefault(r["question_id"], []).append(r["credit"])
    return out


def item_analysis(client, headers, quiz_id, course=COURSE):
    r = client.get(f"/achieveup/instructor/courses/{course}/quizzes/{quiz_id}/item-analysis",
                   headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# ------------------------------------------------------------------ item analysis


def test_item_analysis_of_a_synced_quiz(client, teacher, synced, canvas_world):
    quiz = canvas_world.course_quizzes(101)[0]
    body = item_analysis(client, teacher, quiz.id)
    questions = [q for q in canvas_world.questions[quiz.id]
                 if q.question_type != "text_only_question"]
    assert [i["question_id"] for i in body["items"]] == [str(q.id) for q in questions]
    assert body["attempt_basis"] == "latest" and body["source"] == "classic"
    assert body["students"] == len(canvas_world.student_ids(101))
    assert body["group_size"] == round(0.27 * body["students"])
    credits = latest_credits(synced, COURSE, str(quiz.id))
    for item in body["items"]:
        graded = credits.get(item["question_id"], [])
        assert item["students"] == len(graded)
        if graded:
            assert item["difficulty"] == pytest.approx(sum(graded) / len(graded), abs=1e-3)
        assert item["check"] == any(f["code"] in {"negative_discrimination",
                                                  "low_discrimination", "nobody_correct"}
                                    for f in item["flags"])
        assert all(f["message"].strip() for f in item["flags"])
    assert body["questions_to_check"] == sum(i["check"] for i in body["items"])

    # distractor shares against the answers the sandbox's students picked (latest attempt)
    by_id = {i["question_id"]: i for i in body["items"]}
    choice_questions = [q for q in questions if q.question_type in CHOICE]
    assert choice_questions
    for q in choice_questions:
        picks: dict = {}
        for sid in canvas_world.student_ids(101):
            work = canvas_world.work.get((quiz.id, sid))
            entry = next(e for e in work.latest.submission_data if e["question_id"] == q.id)
            picks[str(entry["answer_id"])] = picks.get(str(entry["answer_id"]), 0) + 1
        choices = by_id[str(q.id)]["choices"]
        assert {c["answer_id"] for c in choices} == {str(a["id"]) for a in q.answers}
        assert {c["answer_id"]: c["picked"] for c in choices if c["picked"]} == picks
        assert {c["answer_id"] for c in choices if c["correct"]} == {
            str(a["id"]) for a in q.answers if a["weight"] == 100}
        for c in choices:
            never = any(f["code"] == "never_picked" for f in c["flags"])
            assert never == (not c["correct"] and c["picked"] == 0)


def test_sync_keeps_answer_choices_and_rewrites_nothing_unchanged(client, app, teacher, synced,
                                                                  canvas_world):
    quiz = canvas_world.course_quizzes(101)[0]

    def stored_answers():
        return {d["question_id"]: d["answers"] for d in synced[store.QUESTIONS].find(
            {"course_id": COURSE, "quiz_id": str(quiz.id)})}

    first = stored_answers()
    for q in canvas_world.questions[quiz.id]:
        assert [(a["id"], a["correct"]) for a in first[str(q.id)]] == [
            (str(a["id"]), a["weight"] == 100) for a in q.answers]
    job = sync(client, app, teacher)                 # incremental, nothing new in Canvas
    assert job["counts"]["incremental"] == 1, job
    assert job["counts"]["item_responses_written"] == 0
    assert job["counts"]["quiz_submissions_written"] == 0
    assert stored_answers() == first                 # kept through the previous snapshot


def test_item_analysis_errors(client, teacher, synced, canvas_world):
    other_course_quiz = canvas_world.course_quizzes(102)[0].id
    r = client.get(f"/achieveup/instructor/courses/101/quizzes/{other_course_quiz}"
                   "/item-analysis", headers=teacher)
    assert r.status_code == 404 and r.get_json()["error"] == "quiz_not_found"
    r = client.get("/achieveup/instructor/courses/101/quizzes/a%20b/item-analysis",
                   headers=teacher)
    assert r.status_code == 422
    student = signup(client, "student-token-1001")
    quiz = canvas_world.course_quizzes(101)[0].id
    r = client.get(f"/achieveup/instructor/courses/101/quizzes/{quiz}/item-analysis",
                   headers=student)
    assert r.status_code == 403


def own_course(sandbox_factory, db, world):
    """Course 301 of ``world`` on a private sandbox and app, mapped and synced once."""
    server = sandbox_factory(world, throttle=False)
    app = create_app(make_config(**canvas_settings(server)), db=db)
    limiter.reset()
    client = app.test_client()
    teacher = signup(client, "teacher-token")
    setup_course(client, app, teacher, world, course="301")
    assert sync(client, app, teacher, course="301")["state"] == "succeeded"
    return app, client, teacher


def test_item_responses_follow_new_attempts_and_rebuild_from_results(sandbox_factory, db):
    world = build_world([CourseSpec(301, "Retakes", "RT-1", 9, 2, 5, attempts=1)], seed=3)
    app, client, teacher = own_course(sandbox_factory, db, world)
    quiz = world.course_quizzes(301)[0]
    first = item_analysis(client, teacher, quiz.id, course="301")
    retaker = world.student_ids(301)[0]
    world.add_attempt(301, quiz.id, retaker, improvement=0.9)
    job = sync(client, app, teacher, course="301")
    assert job["state"] == "succeeded" and job["counts"]["incremental"] == 1, job
    second = item_analysis(client, teacher, quiz.id, course="301")
    credits = latest_credits(db, "301", str(quiz.id))
    for before, after in zip(first["items"], second["items"]):
        assert after["students"] == before["students"]          # still one answer each
        if before["students"]:
            assert after["attempts"] == before["attempts"] + 1  # the retake counts
        graded = credits.get(after["question_id"], [])
        if graded:
            assert after["difficulty"] == pytest.approx(sum(graded) / len(graded), abs=1e-3)
    # results synced before the read model existed (no documents, no version): it is built
    # from the stored rows
    db[istore.RESPONSES].delete_many({})
    db[store.VERSIONS].update_many({}, {"$unset": {istore.VERSION: ""}})
    assert item_analysis(client, teacher, quiz.id, course="301")["items"] == second["items"]
    assert db[istore.RESPONSES].count_documents({"course_id": "301"}) > 0


def test_export_has_the_item_analysis(client, teacher, synced, canvas_world):
    quiz = canvas_world.course_quizzes(101)[0]
    items = item_analysis(client, teacher, quiz.id)["items"]
    data = client.get(f"/achieveup/export/{COURSE}?format=json", headers=teacher).get_json()
    exported = [i for i in data["items"] if i["quiz_id"] == str(quiz.id)]
    assert [(i["question_id"], i["difficulty"], i["point_biserial"], i["check"])
            for i in exported] == [(i["question_id"], i["difficulty"], i["point_biserial"],
                                    i["check"]) for i in items]
    quizzes = {i["quiz_id"] for i in data["items"]}
    assert quizzes == {str(q.id) for q in canvas_world.course_quizzes(101)}
    text = client.get(f"/achieveup/export/{COURSE}?format=csv",
                      headers=teacher).data.decode("utf-8-sig")
    assert sum(1 for line in text.splitlines() if line.startswith("items,")) == len(data["items"])
    # the export is still a valid import (its items are derived data and ignored)
    r = client.post("/achieveup/import", json={"course_id": "102", "data": data}, headers=teacher)
    assert r.status_code == 200, r.get_json()


# ------------------------------------------------------------------ leaderboard


def _board(client, headers, course=COURSE):
    return client.get(f"/achieveup/leaderboard/{course}", headers=headers)


def test_leaderboard_lists_only_students_who_opted_in(client, teacher, synced, canvas_world):
    s1001, s1002 = signup(client, "student-token-1001"), signup(client, "student-token-1002")
    names = {sid: canvas_world.users[sid].name for sid in (1001, 1002)}
    assert client.get("/achieveup/leaderboard-preferences", headers=s1001).get_json() == {
        "student_id": "1001", "leaderboard_opt_in": False}

    body = _board(client, s1001).get_json()
    assert body["enabled"] is True and body["entries"] == []          # nobody opted in
    assert body["ranked"] == len(canvas_world.student_ids(101))
    mine = body["you"]
    assert mine["listed"] is False and mine["opted_in"] is False and mine["rank"] >= 1

    r = client.put("/achieveup/leaderboard-preferences", headers=s1002,
                   json={"leaderboard_opt_in": True})
    assert r.status_code == 200 and r.get_json()["leaderboard_opt_in"] is True
    seen = _board(client, s1001).get_json()
    assert [e["name"] for e in seen["entries"]] == [names[1002]]
    assert seen["entries"][0]["you"] is False
    assert set(seen["entries"][0]) == {"rank", "name", "badges", "mastery", "skills_mastered",
                                       "you"}                        # no ids of others
    assert seen["you"] == mine                                       # own rank unchanged
    staff = _board(client, teacher).get_json()
    assert [e["name"] for e in staff["entries"]] == [names[1002]] and staff["you"] is None
    assert names[1001] not in str(staff) and names[1001] not in str(seen)

    # ranks over the whole course, from the badges and mastery in the summaries
    summaries = {d["student_id"]: d for d in synced[store.MASTERY].find({"course_id": COURSE})}
    key = {sid: (len(d["badges"]), d["progress"], d["skills_mastered"])
           for sid, d in summaries.items()}
    better = sum(1 for k in key.values() if k > key["1002"])
    assert seen["entries"][0]["rank"] == better + 1
    assert seen["entries"][0]["badges"] == key["1002"][0]

    own = _board(client, s1002).get_json()
    assert own["entries"][0]["you"] is True and own["you"]["listed"] is True

    client.put("/achieveup/leaderboard-preferences", headers=s1002,
               json={"leaderboard_opt_in": False})
    assert _board(client, s1001).get_json()["entries"] == []


def test_leaderboard_never_shows_another_course(client, teacher, synced):
    student = signup(client, "student-token-1001")       # enrolled in 101 and 999, not 102
    r = _board(client, student, course="102")
    assert r.status_code == 403 and r.get_json()["error"] == "not_in_course"
    other = signup(client, "other-teacher-token")          # teaches 999 only
    assert _board(client, other).status_code == 403
    assert _board(client, student, course="999").status_code == 200


def test_instructor_turns_the_leaderboard_off(client, teacher, synced):
    student = signup(client, "student-token-1001")
    client.put("/achieveup/leaderboard-preferences", headers=student,
               json={"leaderboard_opt_in": True})
    path = f"/achieveup/instructor/courses/{COURSE}/leaderboard"
    assert client.put(path, headers=student, json={"enabled": False}).status_code == 403
    assert client.put(path, headers=teacher, json={"enabled": "no"}).status_code == 422
    r = client.put(path, headers=teacher, json={"enabled": False})
    assert r.status_code == 200 and r.get_json() == {"course_id": COURSE, "enabled": False}
    assert _board(client, student).get_json() == {"course_id": COURSE, "enabled": False,
                                                  "ranked": 0, "entries": [], "you": None}
    staff = _board(client, teacher).get_json()
    assert staff["enabled"] is False and len(staff["entries"]) == 1   # a preview for staff
    client.put(path, headers=teacher, json={"enabled": True})
    assert len(_board(client, student).get_json()["entries"]) == 1


# ------------------------------------------------------------------ engagement


@pytest.fixture
def late_course(sandbox_factory, db):
    """Course 301: quiz 1 due an hour after it opened (every submission is late), about a
    third of the (student, quiz) pairs never submitted (missing)."""
    world = build_world([CourseSpec(301, "Late", "LATE-1", 8, 3, 4, missing_ratio=0.3)], seed=5)
    first = world.course_quizzes(301)[0]
    first.due_at = first.unlock_at + 3600
    world.touch()
    _, client, teacher = own_course(sandbox_factory, db, world)
    return world, client, teacher


def expected_engagement(world, sid) -> dict:
    quizzes = world.course_quizzes(301)
    works = {q.id: world.work.get((q.id, sid)) for q in quizzes}
    late = sum(1 for q in quizzes if works[q.id] and works[q.id].latest.submitted_at > q.due_at)
    done = sum(1 for w in works.values() if w)
    latest = max(w.latest.submitted_at for w in world.work.values() if w.course_id == 301)
    own = max((w.latest.submitted_at for w in works.values() if w), default=None)
    return {"on_time": done - late, "late": late, "missing": len(quizzes) - done,
            "attempts": sum(len(w.attempts) for w in works.values() if w),
            "days": None if own is None else (latest - own) / 86400}


def test_engagement_explains_late_and_missing_quizzes(late_course):
    world, client, teacher = late_course
    r = client.get("/achieveup/instructor/courses/301/engagement", headers=teacher)
    assert r.status_code == 200, r.get_json()
    students = r.get_json()["students"]
    assert {s["student_id"] for s in students} == {str(s) for s in world.student_ids(301)}
    indices = [s["index"] for s in students]
    assert indices == sorted(indices)                            # least engaged first
    assert sum(e["late"] for e in map(lambda s: expected_engagement(world, s),
                                      world.student_ids(301))) > 0
    for s in students:
        want = expected_engagement(world, int(s["student_id"]))
        factors = {f["name"]: f for f in s["factors"]}
        assert factors["on_time"]["detail"] == (
            f"{want['on_time']} of 3 quizzes on time, {want['late']} late, "
            f"{want['missing']} missing")
        assert factors["on_time"]["performance"] == pytest.approx(
            (want["on_time"] + 0.5 * want["late"]) / 3, abs=1e-3)
        assert factors["participation"]["value"] == round(want["attempts"] / 3, 2)
        if want["days"] is None:
            assert factors["recency"]["value"] is None
        else:
            assert factors["recency"]["value"] == round(want["days"], 1)
        assert "videos" not in factors                           # no KnowGap videos here
        assert sum(f["points"] for f in s["factors"]) == pytest.approx(s["index"], abs=0.2)
        assert sum(f["weight"] for f in s["factors"]) == pytest.approx(1.0, abs=0.01)


def test_engagement_routes_ownership_and_risk_factor(late_course):
    world, client, teacher = late_course
    sid, other = world.student_ids(301)[:2]
    student = signup(client, student_token(sid))
    own = client.get(f"/achieveup/engagement/{sid}/301", headers=student)
    assert own.status_code == 200, own.get_json()
    listed = next(s for s in client.get("/achieveup/instructor/courses/301/engagement",
                                        headers=teacher).get_json()["students"]
                  if s["student_id"] == str(sid))
    assert {k: v for k, v in own.get_json().items() if k != "course_id"} == listed
    assert client.get(f"/achieveup/engagement/{other}/301", headers=student).status_code == 403
    assert client.get("/achieveup/instructor/courses/301/engagement",
                      headers=student).status_code == 403
    # KnowGap's at-risk prediction lists engagement as one more factor
    r = post(client, "/get-risk", TEACHER, course_id="301", student_id=str(sid))
    assert r.status_code == 200, r.get_json()
    factors = {f["name"]: f for f in r.get_json()["factors"]}
    assert factors["engagement"]["value"] == listed["index"]
    assert abs(sum(f["contribution"] for f in factors.values())
               - r.get_json()["risk_index"]) < 0.01


# ------------------------------------------------------------------ study plan


def test_study_plan_of_a_student(client, app, teacher, synced, canvas_world):
    student = signup(client, "student-token-1001")
    r = client.get("/achieveup/study-plan/1001/101", headers=student)
    assert r.status_code == 200, r.get_json()
    plan = r.get_json()
    summary = synced[store.MASTERY].find_one({"_id": store.summary_id(synced, "101", "1001")})
    open_skills = [e["skill"] for e in summary["skills"]
                   if e["questions_attempted"] > 0 and not e["mastered"]]
    assert sorted(s["skill"] for s in plan["skills"]) == sorted(open_skills)
    p = [s["p_mastery"] for s in plan["skills"]]
    assert p == sorted(p)                                              # weakest first
    assert sorted(plan["mastered"]) == sorted(e["skill"] for e in summary["skills"] if e["mastered"])

    # every listed question was missed in the latest attempt, maps to the skill, and the
    # order follows the class' difficulty (easier first)
    qskills = {d["question_id"]: d["skills"]
               for d in synced[store.QUESTION_SKILLS].find({"course_id": COURSE})}
    listed = 0
    for skill in plan["skills"]:
        diffs = [q["difficulty"] for q in skill["questions"]]
        assert diffs == sorted(diffs, reverse=True)
        assert [q["step"] for q in skill["questions"]] == list(range(1, len(diffs) + 1))
        for q in skill["questions"]:
            listed += 1
            assert skill["skill"] in qskills[q["question_id"]]
            work = canvas_world.work[(int(q["quiz_id"]), 1001)]
            entry = next(e for e in work.latest.submission_data
                         if str(e["question_id"]) == q["question_id"])
            assert entry["correct"] is not True and q["credit"] < 1
            quiz_items = {i["question_id"]: i for i in item_analysis(
                client, teacher, q["quiz_id"])["items"]}
            assert q["difficulty"] == quiz_items[q["question_id"]]["difficulty"]
    assert listed > 0

    # instructors read their students' plans; students only their own
    assert client.get("/achieveup/study-plan/1001/101", headers=teacher).get_json()["skills"] \
        == plan["skills"]
    assert client.get("/achieveup/study-plan/1002/101", headers=student).status_code == 403
    other = signup(client, "other-teacher-token")
    assert client.get("/achieveup/study-plan/1001/101", headers=other).status_code == 403


def test_study_plan_shows_the_knowgap_video_of_a_missed_question(client, app, teacher, synced):
    student = signup(client, "student-token-1001")
    plan = client.get("/achieveup/study-plan/1001/101", headers=student).get_json()
    target = next(q for s in plan["skills"] for q in s["questions"])
    assert target["video"] is None
    # KnowGap: the course synced, the instructor sets a video, the student watches it
    assert post(client, "/update-course-db", TEACHER, course_id=COURSE).status_code == 200
    r = post(client, "/update-video-link", TEACHER, course_id=COURSE,
             quiz_id=target["quiz_id"], question_id=target["question_id"],
             new_link="https://youtu.be/dQw4w9WgXcQ")
    assert r.status_code == 200, r.get_json()
    link = r.get_json()["video"]["link"]
    again = client.get("/achieveup/study-plan/1001/101", headers=student).get_json()
    shown = next(q for s in again["skills"] for q in s["questions"]
                 if q["question_id"] == target["question_id"])
    assert shown["video"]["link"] == link and shown["video_watched"] is False
    r = post(client, "/set-video-watched", student_token(1001), course_id=COURSE,
             student_id="1001", video_link="https://youtu.be/dQw4w9WgXcQ", watched=True)
    assert r.status_code == 200, r.get_json()
    again = client.get("/achieveup/study-plan/1001/101", headers=student).get_json()
    shown = next(q for s in again["skills"] for q in s["questions"]
                 if q["question_id"] == target["question_id"])
    assert shown["video_watched"] is True
    # ... and counts as a recommended video watched in the student's engagement
    factors = {f["name"]: f for f in client.get("/achieveup/engagement/1001/101",
                                                headers=student).get_json()["factors"]}
    assert factors["videos"]["detail"] == "1 of 1 recommended videos watched"


# ------------------------------------------------------------------ New Quizzes


def test_new_quizzes_get_the_same_insights_as_classic_quizzes(sandbox_factory):
    """Same seed, same work, once served as Classic Quizzes and once as New Quizzes: item
    analysis, engagement and study plans must agree (only the ids differ). New Quizzes' items
    carry answer choices for choice, multi-answer and true/false items only, so the
    distractor tables are compared where both engines have them."""
    from knowgap.core import db as dbmod
    from tests.test_new_quizzes import COURSE as NQ_COURSE, Course

    choice_codes = {"unused_distractors", "distractor_attracts_strong_students"}

    def view(engine):
        c = Course(sandbox_factory, dbmod.connect("", f"insights_{engine}"), engine)
        c.map_skills()
        assert c.sync()["state"] == "succeeded"
        quizzes = sorted(c.get(f"/canvas/instructor/courses/{NQ_COURSE}/quizzes"),
                         key=lambda q: c._position(q["id"]))
        stats, choices = [], []
        for quiz in quizzes:
            body = c.get(f"/achieveup/instructor/courses/{NQ_COURSE}/quizzes/{quiz['id']}"
                         "/item-analysis")
            assert body["source"] == engine and body["students"] > 0
            for i in body["items"]:
                stats.append((i["students"], i["attempts"], i["difficulty"],
                              i["point_biserial"], i["upper_lower"],
                              [f["code"] for f in i["flags"] if f["code"] not in choice_codes]))
                choices.append(i["choices"] and [
                    (ch["text"], ch["correct"], ch["picked"], ch["upper_share"],
                     [f["code"] for f in ch["flags"]]) for ch in i["choices"]])
        sid = c.world.student_ids(NQ_COURSE)[0]
        engagement = c.get(f"/achieveup/instructor/courses/{NQ_COURSE}/engagement")
        plan = c.get(f"/achieveup/study-plan/{sid}/{NQ_COURSE}")
        return {"stats": stats, "choices": choices,
                "engagement": sorted((s["student_id"], s["index"], s["level"])
                                     for s in engagement["students"]),
                "plan": [(s["skill"], [(q["question_text"], q["difficulty"])
                                       for q in s["questions"]]) for s in plan["skills"]]}

    classic, new = view("classic"), view("new")
    assert classic["stats"] == new["stats"]
    both = [(a, b) for a, b in zip(classic["choices"], new["choices"]) if b]
    assert len(both) >= 4 and all(a == b for a, b in both)
    assert classic["engagement"] == new["engagement"] and classic["engagement"][0][1] is not None
    assert classic["plan"] == new["plan"] and classic["plan"]
