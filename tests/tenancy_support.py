"""Two Canvas hosts with overlapping ids, for the tenancy tests and the authorization matrix.

Host A and host B are two sandboxes on two loopback ports, as two institutions on
``*.instructure.com`` are two Canvas installations: both have course 101, taught by user 1 and
taken by students 1001…, with the same course, quiz, question and user ids (the sandbox numbers
them the same way) but different content (another seed). Canvas tokens belong to one Canvas,
so host B's are prefixed ``b-`` (``b-teacher-token``, ``b-student-token-1001``) and host A
rejects them, as a real Canvas rejects another institution's tokens.

One database serves both. KnowGap callers pick their Canvas with ``link``; AchieveUp users get
theirs from their account: a user who signs up through an app configured for host B
(``CANVAS_BASE_URL``) has B's ``canvas_base_url`` and may then call either app, as with one
multi-campus deployment sharing a database.
"""
from __future__ import annotations

import itertools

from config import new_encryption_key
from tests.canvas_sandbox import SandboxServer, build_world
from tests.conftest import make_config

PASSWORD = "Str0ngPassw0rd"
#: The apps of one deployment share their secrets (the JWT key is fixed by ``make_config``).
TOKEN_KEY = new_encryption_key()
B_PREFIX = "b-"
_emails = itertools.count()


def foreign_world(seed: int = 8):
    """Host B's world: same ids as ``build_world(seed=7)``, other content, its own tokens."""
    world = build_world(seed=seed)
    world.tokens = {B_PREFIX + token: uid for token, uid in world.tokens.items()}
    return world


def two_host_config(home: SandboxServer, other: SandboxServer, **overrides):
    """Config of an app whose ``CANVAS_BASE_URL`` is ``home``; both hosts are allowed."""
    return make_config(canvas_base_url=home.base_url, token_encryption_key=TOKEN_KEY,
                       canvas_allowed_hosts=(home.host, other.host), **overrides)


def signup(client, canvas_token: str, name: str = "User") -> tuple[str, dict]:
    email = f"tenant{next(_emails)}@example.edu"
    response = client.post("/auth/signup", json={"name": name, "email": email,
                                                 "password": PASSWORD,
                                                 "canvasApiToken": canvas_token})
    assert response.status_code == 201, response.get_json()
    return email, {"Authorization": f"Bearer {response.get_json()['token']}"}


def host_db(db, server: SandboxServer):
    """``db`` as the Canvas of ``server`` sees it."""
    from knowgap.canvas.hosts import canvas_host
    from knowgap.core.tenancy import scoped

    return scoped(db, canvas_host(server.base_url))


def start_pair():
    """(host A, host B), started; stop both when done."""
    a = SandboxServer(build_world(seed=7), throttle=False).start()
    b = SandboxServer(foreign_world(), throttle=False).start()
    return a, b
