"""The foundation every route relies on: envelope, health, OpenAPI, CORS, config."""
from __future__ import annotations

import pytest

from config import ConfigError, load_config
from tests.conftest import make_config


def assert_envelope(response, status):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) >= {"error", "message", "statusCode"}
    assert body["statusCode"] == status
    assert isinstance(body["message"], str) and body["message"].endswith(".")
    return body


def test_health_reports_database_up(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json()["database"] == "up"


def test_unknown_route_and_wrong_method_use_envelope(client):
    assert_envelope(client.get("/no-such-thing"), 404)
    response = client.post("/health")
    assert_envelope(response, 405)
    assert "GET" in response.headers["Allow"]


def test_request_id_is_echoed(client):
    response = client.get("/health", headers={"X-Request-ID": "abc123"})
    assert response.headers["X-Request-ID"] == "abc123"
    generated = client.get("/health", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert generated != "bad id!" and len(generated) == 32


def test_openapi_document_and_docs(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/health" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_cors_allows_configured_origin_only(client):
    ok = client.get("/health", headers={"Origin": "http://localhost:3000"})
    assert ok.headers.get("Access-Control-Allow-Origin") == "http://localhost:3000"
    other = client.get("/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_oversized_body_is_413(app):
    app.config["MAX_CONTENT_LENGTH"] = 100

    @app.post("/echo")
    def echo():
        from flask import request
        return request.get_json()

    response = app.test_client().post("/echo", data="x" * 1000,
                                      headers={"Content-Type": "application/json"})
    assert_envelope(response, 413)


def test_uncaught_exception_is_500_envelope_without_trace(app):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    body = assert_envelope(app.test_client().get("/boom"), 500)
    assert "secret internals" not in str(body) and "Traceback" not in str(body)


def test_production_refuses_missing_secrets():
    with pytest.raises(ConfigError) as excinfo:
        load_config(environ={"APP_ENV": "production"})
    message = str(excinfo.value)
    for name in ("JWT_SECRET_KEY", "TOKEN_ENCRYPTION_KEY", "MONGODB_URI"):
        assert name in message


def test_invalid_number_setting_is_named():
    with pytest.raises(ConfigError, match="JWT_ACCESS_MINUTES"):
        load_config(environ={"JWT_ACCESS_MINUTES": "soon"})


def test_short_jwt_key_rejected():
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        make_config(jwt_secret_key="short")


def test_database_down_gives_503(config):
    from knowgap import create_app
    from knowgap.core import db as dbmod

    down = dbmod.connect("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300", "x")
    application = create_app(config, db=down)
    response = application.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"
