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
#: A fixed Ed25519 key (32 bytes, url-safe base64), like the fixed JWT secret below.
TEST_SIGNING_KEY = "dGVzdC1iYWRnZS1zaWduaW5nLWtleS0wMTIzNDU2Nzg"


def make_config(**overrides):
    settings = dict(
        app_env="test",
        mongodb_uri="",
        jwt_secret_key="test-jwt-secret-key-that-is-long-enough-0123456789",
        token_encryption_key=new_encryption_key(),
        badge_salt="test-salt",
        badge_signing_key=TEST_SIGNING_KEY,
        badge_verify_rate_limit="1000/minute",
        bcrypt_rounds=4,
        auth_rate_limit="1000/minute",
        ai_rate_limit="1000/minute",
        run_worker_thread=False,
        log_level="WARNING",
        canvas_max_retries=3,
        canvas_timeout_seconds=10.0,
    )
    settings.update(overrides)
    return load_config(environ={}, **settings)


@pytest.fixture(autouse=True)
def tenancy_audit():
    """Fails a test whose application code queried tenant records without their Canvas host
    (``tests/tenancy_audit.py``; the embedded engine only)."""
    if TEST_MONGODB_URI:
        yield None
        return
    from tests.tenancy_audit import Audit

    audit = Audit()
    audit.start()
    try:
        yield audit
    finally:
        audit.stop()
    problems = sorted(set(audit.problems))
    assert not problems, "queries without their Canvas host:\n" + "\n".join(problems[:30])


@pytest.fixture
def db():
    if TEST_MONGODB_URI:
        name = f"test_{uuid.uuid4().hex[:12]}"
        database = dbmod.connect(TEST_MONGODB_URI, name)
        yield database
        database.client.drop_database(name)
    else:
        yield dbmod.connect("", "test")


@pytest.fixture(scope="session")
def _sandbox_server():
    from tests.canvas_sandbox import SandboxServer, build_world

    server = SandboxServer(build_world(seed=7)).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(_sandbox_server):
    """The shared Canvas sandbox, with faults, counters and throttle reset for each test.

    Tests that change the world (new attempts) should start their own server with
    ``sandbox_factory`` so other tests keep seeing the default data.
    """
    state = _sandbox_server.state
    state.clear_faults()
    state.latency_s = 0.0
    state.throttle_enabled = True
    state.reset_throttle()
    state.reset_counters()
    _sandbox_server.reports.reset()
    yield _sandbox_server
    state.clear_faults()


@pytest.fixture
def canvas_world(sandbox):
    return sandbox.world


@pytest.fixture
def sandbox_factory():
    from tests.canvas_sandbox import SandboxServer, build_world

    started = []

    def start(world=None, **kwargs):
        server = SandboxServer(world or build_world(seed=7), **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def canvas_settings(server) -> dict:
    """Config pointing at a sandbox: its base URL, and its host *and port* allowed (an
    allow-list entry without a port admits the default port only)."""
    return {"canvas_base_url": server.base_url, "canvas_allowed_hosts": (server.host,)}


@pytest.fixture
def config(sandbox):
    return make_config(**canvas_settings(sandbox))


def sandbox_db(app):
    """The app's database scoped to its configured Canvas host (the sandbox): what the routes
    of a user of that Canvas read and write (``knowgap.core.tenancy``)."""
    from knowgap.canvas.hosts import default_host
    from knowgap.core.tenancy import scoped

    services = app.extensions["knowgap"]
    return scoped(services.db, default_host(services.config))


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


@pytest.fixture
def openai_fake():
    from tests.fakes.openai_server import FakeOpenAIServer

    with FakeOpenAIServer(timeout_sleep_s=5) as server:
        yield server


@pytest.fixture
def youtube_fake():
    from tests.fakes.youtube_server import FakeYouTubeServer

    with FakeYouTubeServer(timeout_sleep_s=5) as server:
        yield server


def ai_settings(openai_server=None, youtube_server=None) -> dict:
    """Config overrides pointing the AI and video clients at the local fakes."""
    settings: dict = {}
    if openai_server is not None:
        settings.update(openai_api_key="test-key", openai_base_url=openai_server.base_url,
                        openai_timeout_seconds=1.0)
    if youtube_server is not None:
        settings.update(youtube_api_key="test-key", youtube_base_url=youtube_server.base_url)
    return settings
