"""Skill matrices, course descriptions, import status, question-skill assignments and the
import from a past course — through the HTTP API, against the Canvas sandbox.

The module runs its own sandbox on a tweaked default world: course 102 ("General Chemistry")
gets quiz titles and question texts that match course 101's after normalization, so the
question-skill import has something to find:

- 102's quiz 1 is titled like 101's quiz 1 and its first three questions carry 101's quiz-1
  question texts (re-wrapped in HTML, different case/whitespace);
- 102's quiz 2 is titled "  QUIZ 2:   week 2 REVIEW " and its first question is 101's quiz-2
  question 1;
- 102's quiz 3 is renamed "Final exam" (no counterpart in 101).
"""
from __future__ import annotations

import itertools

import pytest

from tests.canvas_sandbox import SandboxServer, build_world
from tests.conftest import make_config

SOURCE, TARGET = "101", "102"
PASSWORD = "Str0ngPassw0rd"
_emails = itertools.count()


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def world():
    w = build_world()
    src = w.course_quizzes(101)
    tgt = w.course_quizzes(102)
    src_q1, src_q2 = w.questions[src[0].id], w.questions[src[1].id]
    tgt_q1, tgt_q2 = w.questions[tgt[0].id], w.questions[tgt[1].id]
    tgt[0].title = src[0].title
    for i in range(3):
        tgt_q1[i].question_text = f"<div>\n  {src_q1[i].question_text.upper()}&nbsp;</div>"
    tgt[1].title = "  QUIZ 2:   week 2 REVIEW "
    tgt_q2[0].question_text = "<p>" + src_q2[0].question_text + "</p>"
    tgt[2].title = "Final exam"
    return w


@pytest.fixture(scope="module")
def canvas(world):
    server = SandboxServer(world, throttle=False).start()
    yield server
    server.stop()


@pytest.fixture
def config(canvas):
    return make_config(canvas_base_url=canvas.base_url, canvas_allowed_hosts=(canvas.host,))


def signup(client, canvas_token):
    body = {"name": "Test User", "email": f"user{next(_emails)}@example.edu",
            "password": PASSWORD}
    if canvas_token:
        body["canvasApiToken"] = canvas_token
    response = client.post("/auth/signup", json=body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    return {"Authorization": f"Bearer {data['token']}"}, data["user"]


@pytest.fixture
def teacher(client):
    headers, user = signup(client, "teacher-token")
    assert user["role"] == "instructor"
    return headers


@pytest.fixture
def other_teacher(client):
    headers, user = signup(client, "other-teacher-token")
    assert user["role"] == "instructor"
    return headers


@pytest.fixture
def student(client, world):
    headers, user = signup(client, f"student-token-{world.plain_student_id}")
    assert user["role"] == "student"
    return headers


def create(client, headers, course_id=SOURCE, name="Core", skills=("Cells", "Energy"), **extra):
    return client.post("/achieveup/matrix/create", headers=headers,
                       json={"course_id": course_id, "matrix_name": name, "skills": list(skills),
                             **extra})


def assert_envelope(response, status):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["statusCode"] == status
    assert isinstance(body["message"], str) and body["message"].endswith(".")
    return body


# ------------------------------------------------------------------ matrices


def test_matrix_crud(client, teacher):
    assert client.get(f"/achieveup/matrix/course/{SOURCE}", headers=teacher).get_json() == []
    empty = client.get(f"/achieveup/matrix/{SOURCE}", headers=teacher)
    assert empty.status_code == 200 and empty.get_json() == {}

    response = create(client, teacher, skills=["  Cell   Biology ", "Energy"],
                      description="Week 1-4")
    assert response.status_code == 201
    matrix = response.get_json()
    assert set(matrix) == {"_id", "course_id", "matrix_name", "skills", "description",
                           "created_at", "updated_at"}
    assert isinstance(matrix["_id"], str) and matrix["course_id"] == SOURCE
    assert matrix["skills"] == ["Cell Biology", "Energy"]
    assert matrix["created_at"].endswith("Z") and matrix["description"] == "Week 1-4"

    second = create(client, teacher, name="Lab", skills=["Titration"]).get_json()
    listed = client.get(f"/achieveup/matrix/course/{SOURCE}", headers=teacher).get_json()
    assert [m["matrix_name"] for m in listed] == ["Core", "Lab"]
    assert client.get(f"/achieveup/matrix/{SOURCE}", headers=teacher).get_json()["_id"] == matrix["_id"]

    updated = client.put(f"/achieveup/matrix/{matrix['_id']}", headers=teacher,
                         json={"matrix_name": "Core skills", "skills": ["Cells", "Genetics"]})
    assert updated.status_code == 200
    body = updated.get_json()
    assert body["matrix_name"] == "Core skills" and body["skills"] == ["Cells", "Genetics"]
    assert body["updated_at"] >= matrix["updated_at"]

    # renaming onto another matrix's name (any case) is a conflict
    clash = client.put(f"/achieveup/matrix/{second['_id']}", headers=teacher,
                       json={"matrix_name": "CORE SKILLS"})
    assert assert_envelope(clash, 409)["error"] == "duplicate_matrix_name"
    # keeping one's own name (different case) is fine
    same = client.put(f"/achieveup/matrix/{second['_id']}", headers=teacher,
                      json={"matrix_name": "LAB"})
    assert same.status_code == 200 and same.get_json()["matrix_name"] == "LAB"

    deleted = client.delete(f"/achieveup/matrix/delete/{second['_id']}", headers=teacher)
    assert deleted.status_code == 200
    assert deleted.get_json()["matrix_id"] == second["_id"]
    assert deleted.get_json()["message"].endswith(".")
    assert len(client.get(f"/achieveup/matrix/course/{SOURCE}", headers=teacher).get_json()) == 1
    assert_envelope(client.delete(f"/achieveup/matrix/delete/{second['_id']}", headers=teacher), 404)
    assert_envelope(client.put("/achieveup/matrix/not-an-object-id", headers=teacher,
                               json={"skills": ["x"]}), 404)


def test_duplicate_name_is_409_ignoring_case(client, teacher):
    assert create(client, teacher, name="Core").status_code == 201
    for name in ("Core", "core", "  CORE  "):
        body = assert_envelope(create(client, teacher, name=name), 409)
        assert "already exists" in body["message"]
    # the same name in another course is fine
    assert create(client, teacher, course_id=TARGET, name="Core").status_code == 201


@pytest.mark.parametrize("payload, field", [
    ({"skills": ["ok", "   "]}, "skills"),
    ({"skills": ["x" * 101]}, "skills"),
    ({"skills": [f"s{i}" for i in range(201)]}, "skills"),
    ({"skills": ["Algebra", "algebra "]}, "skills"),
    ({"skills": "Algebra"}, "skills"),
    ({"skills": [1, 2]}, "skills"),
    ({"matrix_name": "   "}, "matrix_name"),
    ({"course_id": {"$ne": 1}}, "course_id"),
    ({"course_id": "$where"}, "course_id"),
    ({"extra": 1}, "extra"),
])
def test_create_validation_is_422(client, teacher, payload, field):
    body = {"course_id": SOURCE, "matrix_name": "M", "skills": ["A"], **payload}
    response = client.post("/achieveup/matrix/create", headers=teacher, json=body)
    data = assert_envelope(response, 422)
    assert field in data["details"]


def test_duplicate_skill_message_names_the_skill(client, teacher):
    response = create(client, teacher, skills=["Algebra", "ALGEBRA"])
    data = assert_envelope(response, 422)
    assert "Algebra" in " ".join(data["details"]["skills"])
    # the 200-skill / 100-character limits are inclusive
    assert create(client, teacher, name="Big", skills=[f"s{i}" for i in range(200)]).status_code == 201
    assert create(client, teacher, name="Long", skills=["y" * 100]).status_code == 201


def test_update_validation(client, teacher):
    mid = create(client, teacher).get_json()["_id"]
    assert_envelope(client.put(f"/achieveup/matrix/{mid}", headers=teacher, json={}), 422)
    assert_envelope(client.put(f"/achieveup/matrix/{mid}", headers=teacher,
                               json={"skills": ["A", "a"]}), 422)
    # the web app may echo the whole matrix back
    matrix = client.get(f"/achieveup/matrix/{SOURCE}", headers=teacher).get_json()
    matrix["skills"] = ["Cells"]
    assert client.put(f"/achieveup/matrix/{mid}", headers=teacher, json=matrix).status_code == 200


def test_ownership_and_roles(client, teacher, other_teacher, student):
    mid = create(client, teacher).get_json()["_id"]
    # another instructor (teaches course 999 only)
    for response in (
        client.get(f"/achieveup/matrix/course/{SOURCE}", headers=other_teacher),
        client.get(f"/achieveup/matrix/{SOURCE}", headers=other_teacher),
        create(client, other_teacher, name="Mine"),
        client.put(f"/achieveup/matrix/{mid}", headers=other_teacher, json={"skills": ["x"]}),
        client.delete(f"/achieveup/matrix/delete/{mid}", headers=other_teacher),
        client.get(f"/achieveup/course-description/{SOURCE}", headers=other_teacher),
        client.get(f"/achieveup/import-status/{SOURCE}", headers=other_teacher),
        client.post("/achieveup/skills/assign", headers=other_teacher,
                    json={"course_id": SOURCE, "question_skills": {}}),
        client.get(f"/achieveup/skills/assignments?course_id={SOURCE}", headers=other_teacher),
    ):
        assert assert_envelope(response, 403)["error"] == "not_course_instructor"
    # importing from a course one does not teach
    response = client.post("/achieveup/matrix/import", headers=other_teacher,
                           json={"source_course_id": SOURCE, "target_course_id": "999"})
    assert_envelope(response, 403)
    # students are refused by role
    for response in (
        client.get(f"/achieveup/matrix/course/{SOURCE}", headers=student),
        create(client, student, name="Mine"),
        client.delete(f"/achieveup/matrix/delete/{mid}", headers=student),
    ):
        assert assert_envelope(response, 403)["error"] == "forbidden_role"
    # no token at all
    assert_envelope(client.get(f"/achieveup/matrix/course/{SOURCE}"), 401)
    # the matrix survived
    assert len(client.get(f"/achieveup/matrix/course/{SOURCE}", headers=teacher).get_json()) == 1


def test_bad_course_id_in_path_is_422(client, teacher):
    assert_envelope(client.get("/achieveup/matrix/course/$ne", headers=teacher), 422)


# ------------------------------------------------------------------ matrix import


def test_matrix_import_skips_identical_and_suffixes_conflicts(client, teacher):
    create(client, teacher, name="Core", skills=["Cells", "Energy"])
    create(client, teacher, name="Lab", skills=["Pipetting"])
    create(client, teacher, course_id=TARGET, name="core", skills=["energy", "CELLS"])
    create(client, teacher, course_id=TARGET, name="Lab", skills=["Titration"])

    response = client.post("/achieveup/matrix/import", headers=teacher,
                           json={"source_course_id": SOURCE, "target_course_id": TARGET})
    assert response.status_code == 200
    body = response.get_json()
    assert body["imported_count"] == 1
    assert [m["matrix_name"] for m in body["matrices"]] == ["Lab (imported)"]
    assert body["matrices"][0]["course_id"] == TARGET
    assert "skipped 1" in body["message"]

    again = client.post("/achieveup/matrix/import", headers=teacher,
                        json={"source_course_id": SOURCE, "target_course_id": TARGET}).get_json()
    assert again["imported_count"] == 0          # importing twice is harmless
    names = [m["matrix_name"] for m in
             client.get(f"/achieveup/matrix/course/{TARGET}", headers=teacher).get_json()]
    assert names == ["core", "Lab", "Lab (imported)"]

    status = client.get(f"/achieveup/import-status/{TARGET}", headers=teacher).get_json()
    assert status == {"target_course_id": TARGET, "source_course_id": SOURCE,
                      "matrices_imported": True, "assignments_imported": False}
    assert_envelope(client.post("/achieveup/matrix/import", headers=teacher,
                                json={"source_course_id": SOURCE, "target_course_id": SOURCE}), 422)


def test_import_status_defaults(client, teacher):
    response = client.get(f"/achieveup/import-status/{SOURCE}", headers=teacher)
    assert response.status_code == 200
    assert response.get_json() == {"target_course_id": SOURCE, "matrices_imported": False,
                                   "assignments_imported": False}


# ------------------------------------------------------------------ course description


def test_course_description(client, teacher, other_teacher):
    url = f"/achieveup/course-description/{SOURCE}"
    assert client.get(url, headers=teacher).get_json() == {
        "course_id": SOURCE, "description": "", "updated_at": None}
    saved = client.put(url, headers=teacher, json={"description": "  Cells and $energy.  "})
    assert saved.status_code == 200
    body = saved.get_json()
    assert body["description"] == "Cells and $energy." and body["updated_at"].endswith("Z")
    assert client.get(url, headers=teacher).get_json() == body
    assert client.put(url, headers=teacher, json={"description": "x" * 12_000}).status_code == 200
    assert_envelope(client.put(url, headers=teacher, json={"description": "x" * 12_001}), 422)
    assert_envelope(client.put(url, headers=teacher, json={"description": None}), 422)
    assert_envelope(client.put(url, headers=other_teacher, json={"description": "x"}), 403)


# ------------------------------------------------------------------ question skills


def test_assign_and_read_skills(client, teacher):
    create(client, teacher, name="Core", skills=["Cells", "Energy"])
    create(client, teacher, name="Lab", skills=["Pipetting"])
    response = client.post("/achieveup/skills/assign", headers=teacher, json={
        "course_id": SOURCE,
        "question_skills": {"100001": ["cells", "Pipetting"], "100002": ["Energy"],
                            "100003": ["Energy", "ENERGY "]}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["assigned"] == 3

    url = "/achieveup/skills/assignments"
    everything = client.get(f"{url}?course_id={SOURCE}", headers=teacher).get_json()
    assert everything == {"course_id": SOURCE, "question_skills": {
        "100001": ["Cells", "Pipetting"], "100002": ["Energy"], "100003": ["Energy"]}}
    some = client.get(f"{url}?course_id={SOURCE}&question_id=100001&question_id=100003"
                      "&question_id=999999", headers=teacher).get_json()
    assert some["question_skills"] == {"100001": ["Cells", "Pipetting"], "100003": ["Energy"]}

    # an empty list removes the mapping
    client.post("/achieveup/skills/assign", headers=teacher,
                json={"course_id": SOURCE, "question_skills": {"100002": []}})
    assert "100002" not in client.get(f"{url}?course_id={SOURCE}",
                                      headers=teacher).get_json()["question_skills"]
    # nothing in another course
    assert client.get(f"{url}?course_id={TARGET}", headers=teacher).get_json() == {
        "course_id": TARGET, "question_skills": {}}


def test_assign_unknown_skills_is_400_naming_them(client, teacher):
    create(client, teacher, skills=["Cells"])
    response = client.post("/achieveup/skills/assign", headers=teacher, json={
        "course_id": SOURCE, "question_skills": {"1": ["Cells", "Quantum Gravity"],
                                                 "2": ["Astrology"]}})
    body = assert_envelope(response, 400)
    assert body["error"] == "unknown_skills"
    assert "Quantum Gravity" in body["message"] and "Astrology" in body["message"]
    assert body["details"]["unknown_skills"] == ["Quantum Gravity", "Astrology"]
    # nothing was written
    assert client.get(f"/achieveup/skills/assignments?course_id={SOURCE}",
                      headers=teacher).get_json()["question_skills"] == {}


@pytest.mark.parametrize("payload", [
    {"course_id": SOURCE, "question_skills": {"$gt": ["Cells"]}},
    {"course_id": SOURCE, "question_skills": {"a b": ["Cells"]}},
    {"course_id": SOURCE, "question_skills": {"1": "Cells"}},
    {"course_id": SOURCE, "question_skills": {"1": ["Cells", "  "]}},
    {"course_id": {"$ne": 1}, "question_skills": {}},
    {"course_id": SOURCE},
])
def test_assign_validation(client, teacher, payload):
    assert_envelope(client.post("/achieveup/skills/assign", headers=teacher, json=payload), 422)


def test_removing_skills_from_matrices_prunes_assignments(client, teacher):
    core = create(client, teacher, name="Core", skills=["Cells", "Energy"]).get_json()
    lab = create(client, teacher, name="Lab", skills=["Pipetting", "Cells"]).get_json()
    client.post("/achieveup/skills/assign", headers=teacher, json={
        "course_id": SOURCE, "question_skills": {"1": ["Cells", "Energy"], "2": ["Pipetting"]}})
    client.put(f"/achieveup/matrix/{core['_id']}", headers=teacher, json={"skills": ["Cells"]})
    url = f"/achieveup/skills/assignments?course_id={SOURCE}"
    assert client.get(url, headers=teacher).get_json()["question_skills"] == {
        "1": ["Cells"], "2": ["Pipetting"]}
    client.delete(f"/achieveup/matrix/delete/{lab['_id']}", headers=teacher)
    assert client.get(url, headers=teacher).get_json()["question_skills"] == {"1": ["Cells"]}


# ------------------------------------------------------------------ import from a past course


def _assign_source_skills(client, teacher, world):
    src = world.course_quizzes(101)
    q1, q2 = world.questions[src[0].id], world.questions[src[1].id]
    mapping = {str(q1[0].id): ["Cells", "Energy"], str(q1[1].id): ["Genetics"],
               str(q1[2].id): [],                     # matched, but nothing to copy
               str(q2[0].id): ["Energy"],
               str(q1[5].id): ["Cells"]}              # no counterpart in the target
    response = client.post("/achieveup/skills/assign", headers=teacher,
                           json={"course_id": SOURCE, "question_skills": mapping})
    assert response.status_code == 200, response.get_json()


def test_skills_import_matches_normalized_titles_and_texts(client, teacher, world):
    create(client, teacher, name="Core", skills=["Cells", "Energy", "Genetics"])
    _assign_source_skills(client, teacher, world)

    response = client.post("/achieveup/skills/import", headers=teacher,
                           json={"source_course_id": SOURCE, "target_course_id": TARGET})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"imported_count": 3, "matched_quizzes": 2,
                                   "matched_questions": 4}

    # the target had no matrix: the source's were imported first
    matrices = client.get(f"/achieveup/matrix/course/{TARGET}", headers=teacher).get_json()
    assert [m["matrix_name"] for m in matrices] == ["Core"]
    tgt = world.course_quizzes(102)
    t1, t2 = world.questions[tgt[0].id], world.questions[tgt[1].id]
    got = client.get(f"/achieveup/skills/assignments?course_id={TARGET}",
                     headers=teacher).get_json()["question_skills"]
    assert got == {str(t1[0].id): ["Cells", "Energy"], str(t1[1].id): ["Genetics"],
                   str(t2[0].id): ["Energy"]}
    status = client.get(f"/achieveup/import-status/{TARGET}", headers=teacher).get_json()
    assert status == {"target_course_id": TARGET, "source_course_id": SOURCE,
                      "matrices_imported": True, "assignments_imported": True}


def test_skills_import_only_copies_skills_of_the_target_matrices(client, teacher, world):
    create(client, teacher, name="Core", skills=["Cells", "Energy", "Genetics"])
    _assign_source_skills(client, teacher, world)
    create(client, teacher, course_id=TARGET, name="Chem", skills=["energy", "Bonds"])
    tgt = world.course_quizzes(102)
    t1 = world.questions[tgt[0].id]
    client.post("/achieveup/skills/assign", headers=teacher,
                json={"course_id": TARGET, "question_skills": {str(t1[0].id): ["Bonds"]}})

    body = client.post("/achieveup/skills/import", headers=teacher,
                       json={"source_course_id": SOURCE, "target_course_id": TARGET}).get_json()
    assert body == {"imported_count": 2, "matched_quizzes": 2, "matched_questions": 4}
    got = client.get(f"/achieveup/skills/assignments?course_id={TARGET}",
                     headers=teacher).get_json()["question_skills"]
    t2 = world.questions[tgt[1].id]
    # existing skills are kept, imported ones added in the target's spelling
    assert got == {str(t1[0].id): ["Bonds", "energy"], str(t2[0].id): ["energy"]}
    names = [m["matrix_name"] for m in
             client.get(f"/achieveup/matrix/course/{TARGET}", headers=teacher).get_json()]
    assert names == ["Chem"]           # the target had a matrix: nothing imported


def test_skills_import_requires_teaching_both(client, other_teacher):
    response = client.post("/achieveup/skills/import", headers=other_teacher,
                           json={"source_course_id": SOURCE, "target_course_id": "999"})
    assert_envelope(response, 403)
