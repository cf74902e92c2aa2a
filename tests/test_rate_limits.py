"""Endpoints that can spend the OpenAI / YouTube quota are rate-limited from configuration."""
from __future__ import annotations

from knowgap import create_app
from knowgap.core.extensions import limiter
from tests.conftest import canvas_settings, make_config


def test_support_video_limit_gives_429_envelope_with_retry_after(sandbox, db):
    app = create_app(make_config(**canvas_settings(sandbox), ai_rate_limit="2/minute"), db=db)
    limiter.reset()
    client = app.test_client()
    statuses = [client.post("/get-support-video", json={"risk": "high"}).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.post("/get-support-video", json={"risk": "high"})
    body = limited.get_json()
    assert body["statusCode"] == 429 and body["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    limiter.reset()


def test_ai_suggestion_limit_applies_per_endpoint(sandbox, db):
    app = create_app(make_config(**canvas_settings(sandbox), ai_rate_limit="1/minute"), db=db)
    limiter.reset()
    client = app.test_client()
    token = client.post("/auth/signup", json={
        "name": "Ann", "email": "ann@example.edu", "password": "Passw0rdOK",
        "canvasApiToken": "teacher-token"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"courseId": "101", "courseName": "Biology", "courseCode": "BIO101"}
    assert client.post("/achieveup/ai/suggest-skills", json=body, headers=headers).status_code == 200
    assert client.post("/achieveup/ai/suggest-skills", json=body, headers=headers).status_code == 429
    other = client.post("/achieveup/skills/suggest", json={"question_text": "What is a cell?"},
                        headers=headers)
    assert other.status_code == 200
    limiter.reset()
