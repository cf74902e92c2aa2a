"""AI suggestion routes against the fake OpenAI server over HTTP: good replies, replies that
break the rules, malformed JSON, 500s and timeouts, and the offline fallback without a key."""
from __future__ import annotations

import itertools
import json
import time

import pytest

from tests.conftest import canvas_settings, make_config
from tests.fakes.openai_server import FakeOpenAIServer, default_responder, extract_task

COURSE = "101"
SKILLS = ["Photosynthesis", "Cellular Respiration", "Genetics", "Enzyme Kinetics"]
PASSWORD = "Str0ngPassw0rd"
_emails = itertools.count()

QUESTIONS = [
    {"id": 11, "text": "<p>Where does <b>photosynthesis</b> take place?</p>",
     "type": "multiple_choice_question", "points": 1},
    {"id": "12", "text": "Explain how cellular respiration produces ATP.", "type": "essay_question"},
    {"id": 13, "text": "Analyze the genetics of a dihybrid cross and justify the ratio."},
]


@pytest.fixture(scope="module")
def openai_server():
    server = FakeOpenAIServer(timeout_sleep_s=5.0).start()
    yield server
    server.stop()


@pytest.fixture
def fake(openai_server):
    openai_server.mode = "ok"
    openai_server.latency_s = 0.0
    openai_server.responder = default_responder
    openai_server.reset()
    yield openai_server
    openai_server.mode = "ok"
    openai_server.responder = default_responder


@pytest.fixture
def config(sandbox, fake):
    return make_config(**canvas_settings(sandbox), openai_api_key="test-key",
                       openai_base_url=fake.base_url, openai_timeout_seconds=1.0)


def signup(client, canvas_token):
    response = client.post("/auth/signup", json={
        "name": "Test User", "email": f"ai{next(_emails)}@example.edu", "password": PASSWORD,
        "canvasApiToken": canvas_token})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


@pytest.fixture
def teacher(client):
    return signup(client, "teacher-token")


@pytest.fixture
def with_matrix(client, teacher):
    response = client.post("/achieveup/matrix/create", headers=teacher, json={
        "course_id": COURSE, "matrix_name": "Biology", "skills": SKILLS})
    assert response.status_code == 201
    return response.get_json()


def analyze(client, headers, questions=QUESTIONS, **extra):
    return client.post("/achieveup/ai/analyze-questions", headers=headers,
                       json={"courseId": COURSE, "questions": questions, **extra})


def assert_items(items, allowed=SKILLS):
    assert isinstance(items, list) and items
    for item in items:
        assert set(item) == {"questionId", "suggestedSkills", "complexity", "confidence",
                             "source"}
        assert isinstance(item["questionId"], str)
        assert item["suggestedSkills"], item
        if allowed is not None:
            assert set(item["suggestedSkills"]) <= set(allowed), item
        assert item["complexity"] in ("low", "medium", "high")
        assert 0 <= item["confidence"] <= 1
        assert item["source"] in ("ai", "heuristic")


# ------------------------------------------------------------------ analyze questions


def test_analyze_with_good_ai_reply(client, teacher, with_matrix, fake):
    response = analyze(client, teacher)
    assert response.status_code == 200
    assert response.headers["X-Suggestion-Source"] == "ai"
    items = response.get_json()
    assert_items(items)
    assert [i["questionId"] for i in items] == ["11", "12", "13"]
    assert all(i["source"] == "ai" and i["complexity"] == "medium" for i in items)
    assert items[0]["suggestedSkills"] == ["Photosynthesis"]
    # the prompt followed the convention and offered the matrix skills
    task, payload = extract_task(fake.requests[-1]["json"])
    assert task == "analyze_questions"
    assert payload["skills"] == SKILLS
    assert payload["questions"][0] == {"id": "11", "text": "Where does photosynthesis take place?",
                                       "type": "multiple_choice_question", "points": 1.0}


def test_ai_skills_outside_the_matrix_are_dropped(client, teacher, with_matrix, fake):
    def responder(request):
        _, payload = extract_task(request)
        return json.dumps({"questions": [
            {"questionId": 11, "suggestedSkills": ["photosynthesis", "Invented Skill"],
             "complexity": "LOW", "confidence": 7},
            {"questionId": "12", "suggestedSkills": ["Quantum Chromodynamics"],
             "complexity": "high", "confidence": 0.9},
            # question 13 is missing from the reply
        ]})

    fake.responder = responder
    response = analyze(client, teacher)
    assert response.headers["X-Suggestion-Source"] == "ai"
    items = response.get_json()
    assert_items(items)
    first, second, third = items
    assert first == {"questionId": "11", "suggestedSkills": ["Photosynthesis"],
                     "complexity": "low", "confidence": 1.0, "source": "ai"}
    # no valid skill from the AI: the heuristic answers for that question
    assert second["source"] == "heuristic"
    assert second["suggestedSkills"][0] == "Cellular Respiration"
    assert third["source"] == "heuristic" and third["suggestedSkills"][0] == "Genetics"


@pytest.mark.parametrize("mode, expected_calls", [("malformed", 2), ("500", 1), ("401", 1)])
def test_analyze_falls_back_when_ai_fails(client, teacher, with_matrix, fake, mode,
                                          expected_calls):
    fake.mode = mode
    response = analyze(client, teacher)
    assert response.status_code == 200
    assert response.headers["X-Suggestion-Source"] == "heuristic"
    items = response.get_json()
    assert_items(items)
    assert all(i["source"] == "heuristic" for i in items)
    assert [i["suggestedSkills"][0] for i in items] == ["Photosynthesis", "Cellular Respiration",
                                                        "Genetics"]
    assert fake.calls == expected_calls


def test_reply_with_wrong_shape_is_retried_then_ignored(client, teacher, with_matrix, fake):
    fake.responder = lambda request: json.dumps({"answer": "Photosynthesis"})
    response = analyze(client, teacher)
    assert response.headers["X-Suggestion-Source"] == "heuristic"
    assert fake.calls == 2


def test_analyze_times_out_quickly_and_falls_back(client, teacher, with_matrix, fake):
    fake.mode = "timeout"
    started = time.monotonic()
    response = analyze(client, teacher)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.headers["X-Suggestion-Source"] == "heuristic"
    assert_items(response.get_json())
    assert elapsed < 4.0


def test_large_batches_are_split_and_asked_concurrently(client, teacher, with_matrix, fake):
    fake.latency_s = 0.3
    questions = [{"id": i, "text": f"Question {i} about genetics and enzyme kinetics"}
                 for i in range(1, 46)]
    started = time.monotonic()
    response = analyze(client, teacher, questions=questions)
    elapsed = time.monotonic() - started
    items = response.get_json()
    assert len(items) == 45 and all(i["source"] == "ai" for i in items)
    assert fake.calls == 3 and fake.max_in_flight >= 2
    assert elapsed < 0.9 * 3


def test_without_api_key_the_heuristic_answers(sandbox, db, fake):
    from knowgap import create_app

    app = create_app(make_config(**canvas_settings(sandbox)), db=db)
    client = app.test_client()
    headers = signup(client, "teacher-token")
    client.post("/achieveup/matrix/create", headers=headers, json={
        "course_id": COURSE, "matrix_name": "Biology", "skills": SKILLS})
    response = analyze(client, headers)
    assert response.headers["X-Suggestion-Source"] == "heuristic"
    assert_items(response.get_json())
    course = client.post("/achieveup/ai/suggest-skills", headers=headers, json={
        "courseId": COURSE, "courseName": "Introduction to Biology", "courseCode": "BIO-101"})
    assert course.headers["X-Suggestion-Source"] == "heuristic"
    assert course.get_json() and all(i["source"] == "heuristic" for i in course.get_json())
    assert fake.calls == 0


def test_analyze_with_one_matrix_only(client, teacher, with_matrix, fake):
    other = client.post("/achieveup/matrix/create", headers=teacher, json={
        "course_id": COURSE, "matrix_name": "Lab", "skills": ["Microscopy"]}).get_json()
    response = analyze(client, teacher, matrixId=other["_id"])
    items = response.get_json()
    assert_items(items, allowed=["Microscopy"])
    assert extract_task(fake.requests[-1]["json"])[1]["skills"] == ["Microscopy"]
    # a matrix of another course is not usable here
    foreign = client.post("/achieveup/matrix/create", headers=teacher, json={
        "course_id": "102", "matrix_name": "Chem", "skills": ["Bonds"]}).get_json()
    assert analyze(client, teacher, matrixId=foreign["_id"]).status_code == 404


def test_course_without_matrix_gets_free_suggestions(client, teacher, fake):
    fake.mode = "500"
    items = analyze(client, teacher).get_json()
    assert_items(items, allowed=None)
    fake.mode = "ok"
    fake.responder = lambda r: json.dumps({"questions": [
        {"questionId": q["id"], "suggestedSkills": ["Light Reactions"], "complexity": "low",
         "confidence": 0.6} for q in extract_task(r)[1]["questions"]]})
    items = analyze(client, teacher).get_json()
    assert all(i["suggestedSkills"] == ["Light Reactions"] and i["source"] == "ai" for i in items)


@pytest.mark.parametrize("questions", [
    [],
    [{"id": i, "text": "x"} for i in range(201)],
    [{"id": 1, "text": "x" * 10_001}],
    [{"id": {"$ne": 1}, "text": "x"}],
    [{"id": 1}],
])
def test_analyze_input_bounds(client, teacher, questions):
    response = analyze(client, teacher, questions=questions)
    assert response.status_code == 422
    assert response.get_json()["statusCode"] == 422


def test_analyze_limits_are_inclusive(client, teacher, with_matrix, fake):
    fake.mode = "500"
    questions = [{"id": i, "text": "y" * 10_000} for i in range(200)]
    response = analyze(client, teacher, questions=questions)
    assert response.status_code == 200 and len(response.get_json()) == 200


def test_ai_routes_check_role_and_course(client, teacher, fake):
    other = signup(client, "other-teacher-token")
    assert analyze(client, other).status_code == 403
    assert client.post("/achieveup/skills/suggest", headers=other, json={
        "question_text": "What is ATP?", "course_id": COURSE}).status_code == 403
    assert client.post("/achieveup/ai/suggest-skills", headers=other, json={
        "courseId": COURSE, "courseName": "Bio", "courseCode": "B"}).status_code == 403
    student_id = sandbox_student(client)
    assert analyze(client, student_id).status_code == 403
    assert client.post("/achieveup/questions/analyze", headers=student_id, json={
        "questions": [{"id": 1, "text": "x"}]}).status_code == 403
    assert client.post("/achieveup/ai/suggest-skills", json={
        "courseName": "Bio", "courseCode": "B"}).status_code == 401


def sandbox_student(client):
    return signup(client, "student-token-1001")


# ------------------------------------------------------------------ questions/analyze


def test_questions_analyze_accepts_canvas_shaped_questions(client, teacher, with_matrix, fake):
    response = client.post("/achieveup/questions/analyze", headers=teacher, json={
        "course_id": COURSE,
        "questions": [{"id": 7, "question_text": "<p>Which enzyme kinetics model fits?</p>",
                       "question_type": "multiple_choice_question", "points_possible": 2,
                       "quiz_id": 20001},
                      {"id": 8, "text": "Genetics of eye colour"}]})
    assert response.status_code == 200, response.get_json()
    assert response.headers["X-Suggestion-Source"] == "ai"
    items = response.get_json()
    assert_items(items)
    assert items[0]["suggestedSkills"] == ["Enzyme Kinetics"]
    assert items[1]["suggestedSkills"] == ["Genetics"]
    # without a course the suggestions are free-form
    fake.mode = "malformed"
    free = client.post("/achieveup/questions/analyze", headers=teacher, json={
        "questions": [{"id": 1, "text": "What is the time complexity of binary search?"}]})
    assert free.headers["X-Suggestion-Source"] == "heuristic"
    assert_items(free.get_json(), allowed=None)


# ------------------------------------------------------------------ skills/suggest


def test_skills_suggest_returns_matrix_skill_names(client, teacher, with_matrix, fake):
    response = client.post("/achieveup/skills/suggest", headers=teacher, json={
        "question_text": "Which molecule carries genetics information?", "course_id": COURSE})
    assert response.status_code == 200
    assert response.headers["X-Suggestion-Source"] == "ai"
    assert response.get_json() == ["Genetics"]
    fake.mode = "500"
    response = client.post("/achieveup/skills/suggest", headers=teacher, json={
        "question_text": "Describe how chloroplasts perform photosynthesis.",
        "course_id": COURSE})
    assert response.headers["X-Suggestion-Source"] == "heuristic"
    assert response.get_json()[0] == "Photosynthesis"
    assert set(response.get_json()) <= set(SKILLS)


def test_skills_suggest_without_course(client, teacher, fake):
    fake.mode = "500"
    response = client.post("/achieveup/skills/suggest", headers=teacher, json={
        "question_text": "What is the time complexity of binary search?",
        "course_context": "Data structures and algorithms"})
    assert response.status_code == 200
    names = response.get_json()
    assert names and all(isinstance(n, str) and n for n in names)
    assert client.post("/achieveup/skills/suggest", headers=teacher,
                       json={"question_text": ""}).status_code == 422


# ------------------------------------------------------------------ course skills


def test_suggest_course_skills_ai(client, teacher, fake):
    response = client.post("/achieveup/ai/suggest-skills", headers=teacher, json={
        "courseId": COURSE, "courseName": "Introduction to Biology", "courseCode": "BIO-101",
        "courseDescription": "Cells, energy and genetics."})
    assert response.status_code == 200
    assert response.headers["X-Suggestion-Source"] == "ai"
    items = response.get_json()
    assert len(items) == 5
    for item in items:
        assert set(item) == {"skill", "description", "relevance", "source"}
        assert item["source"] == "ai" and 0 <= item["relevance"] <= 1
    task, payload = extract_task(fake.requests[-1]["json"])
    assert task == "suggest_skills"
    assert payload["course_name"] == "Introduction to Biology"
    assert payload["course_description"] == "Cells, energy and genetics."


def test_suggest_course_skills_uses_stored_description(client, teacher, fake):
    client.put(f"/achieveup/course-description/{COURSE}", headers=teacher,
               json={"description": "Photosynthesis and respiration."})
    client.post("/achieveup/ai/suggest-skills", headers=teacher, json={
        "courseId": COURSE, "courseName": "Bio", "courseCode": "BIO-101"})
    payload = extract_task(fake.requests[-1]["json"])[1]
    assert payload["course_description"] == "Photosynthesis and respiration."


@pytest.mark.parametrize("mode", ["malformed", "500", "timeout"])
def test_suggest_course_skills_fallback(client, teacher, fake, mode):
    fake.mode = mode
    response = client.post("/achieveup/ai/suggest-skills", headers=teacher, json={
        "courseId": COURSE, "courseName": "Introduction to Biology", "courseCode": "BIO-101",
        "courseDescription": "Photosynthesis, cellular respiration and Mendelian genetics."})
    assert response.status_code == 200
    assert response.headers["X-Suggestion-Source"] == "heuristic"
    items = response.get_json()
    assert len(items) >= 5
    assert all(i["source"] == "heuristic" and 0 <= i["relevance"] <= 1 for i in items)


def test_suggest_course_skills_cleans_ai_output(client, teacher, fake):
    fake.responder = lambda r: json.dumps({"skills": [
        {"skill": "  Cell   Biology ", "description": "Cells.", "relevance": 1.7},
        {"skill": "cell biology", "description": "dup", "relevance": 0.5},
        {"skill": "Genetics", "relevance": -1},
    ]})
    items = client.post("/achieveup/ai/suggest-skills", headers=teacher, json={
        "courseName": "Bio", "courseCode": "B"}).get_json()
    assert [(i["skill"], i["relevance"]) for i in items] == [("Cell Biology", 1.0),
                                                            ("Genetics", 0.0)]
    assert items[1]["description"]
    fake.responder = lambda r: json.dumps({"skills": []})
    response = client.post("/achieveup/ai/suggest-skills", headers=teacher, json={
        "courseName": "Bio", "courseCode": "B"})
    assert response.headers["X-Suggestion-Source"] == "heuristic" and response.get_json()
