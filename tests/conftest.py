"""Shared fixtures: an app on a fresh database per test.

Tests use the in-process engine; when TEST_MONGODB_URI is set they use that real server
instead, each test in its own throw-away database.
"""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import load_config, new_encryption_key  # noqa: E402
from knowgap.core import db as dbmod  # noqa: E402
from knowgap.core.extensions import limiter  # noqa: E402

TEST_MONGODB_URI = os.environ.get("TEST_MONGODB_URI", "")


def make_config(**overrides):
    settings = dict(
        app_env="test",
        mongodb_uri="",
        jwt_secret_key="test-jwt-secret-key-that-is-long-enough-0123456789",
        token_encryption_key=new_encryption_key(),
        badge_salt="test-salt",
        bcrypt_rounds=4,
        auth_rate_limit="1000/minute",
        run_worker_thread=False,
        log_level="WARNING",
        canvas_max_retries=3,
        canvas_timeout_seconds=10.0,
    )
    settings.update(overrides)
    return load_config(environ={}, **settings)


@pytest.fixture
def db():
    if TEST_MONGODB_URI:
        name = f"test_{uuid.uuid4().hex[:12]}"
        database = dbmod.connect(TEST_MONGODB_URI, name)
        yield database
        database.client.drop_database(name)
    else:
        yield dbmod.connect("", "test")


@pytest.fixture
def config():
    return make_config()


@pytest.fixture
def app(config, db):
    from knowgap import create_app

    application = create_app(config, db=db)
    application.config["TESTING"] = True
    limiter.reset()
    yield application
    limiter.reset()


@pytest.fixture
def client(app):
    return app.test_client()
