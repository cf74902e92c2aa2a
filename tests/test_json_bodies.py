"""Any body the JSON parser cannot take is a 400 in the envelope (issue 17, finding 7).

The probe sent a 5,000-digit integer and got a 500: Python's parser refuses integer literals
longer than 4,300 digits with a ``ValueError`` that nothing turned into a client error. The
guard (``knowgap/core/json_guard.py`` ``check_json_body``) now parses every JSON body once,
strictly, before any view.
"""
from __future__ import annotations

import pytest

PASSWORD = "Str0ngPassw0rd"
HUGE = "9" * 5000


@pytest.fixture
def teacher(client):
    response = client.post("/auth/signup", json={"name": "T", "email": "t@example.edu",
                                                 "password": PASSWORD,
                                                 "canvasApiToken": "teacher-token"})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def _post(client, path, raw: str, headers=None):
    return client.post(path, data=raw, content_type="application/json", headers=headers or {})


def _stored(app) -> dict:
    db = app.extensions["knowgap"].db
    return {name: db[name].count_documents({}) for name in db.list_collection_names()}


@pytest.mark.parametrize("raw, error", [
    ('{"course_id": "101", "matrix_name": "M", "skills": ["A"], "n": ' + HUGE + "}",
     "number_out_of_range"),
    ('{"course_id": "101", "matrix_name": "M", "skills": ["A"], "n": -' + HUGE + "}",
     "number_out_of_range"),
    ('{"course_id": "101", "matrix_name": "M", "skills": ["A"], "n": 123456789012345678901234}',
     "number_out_of_range"),                 # parses, but no MongoDB can store it
    ('{"course_id": "101", "matrix_name": "M", "skills": ["A"], "n": NaN}', "invalid_json"),
    ('{"course_id": "101", "matrix_name": "M", "skills": ["A"], "n": -Infinity}',
     "invalid_json"),
    ('{"course_id": "101", "matrix_name": ', "invalid_json"),
])
def test_unparseable_bodies_are_400_in_the_envelope(app, client, teacher, raw, error):
    before = _stored(app)
    response = _post(client, "/achieveup/matrix/create", raw, teacher)
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert body["error"] == error and body["statusCode"] == 400 and body["message"]
    assert _stored(app) == before


@pytest.mark.parametrize("path", ["/auth/login", "/get-course-quizzes", "/achieveup/import",
                                  "/update-toggle-risk/101"])
def test_a_5000_digit_integer_anywhere(client, path):
    response = _post(client, path, '{"course_id": "101", "email": "a@b.c", "x": ' + HUGE + "}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "number_out_of_range"


def test_integers_within_64_bits_still_parse(client, teacher):
    response = _post(client, "/achieveup/matrix/create",
                     '{"course_id": "101", "matrix_name": 9223372036854775807, "skills": ["A"]}',
                     teacher)
    assert response.status_code == 422                  # parsed; the schema wants a string
    assert "matrix_name" in response.get_json()["details"]
