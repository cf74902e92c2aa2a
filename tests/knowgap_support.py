"""Helpers shared by the KnowGap test modules.

``config`` overrides conftest's: the app (conftest ``app``/``client``) then talks to the Canvas
sandbox and to the fake OpenAI/YouTube servers (conftest ``openai_fake``/``youtube_fake``)
over real HTTP. Import with ``from tests.knowgap_support import config, post, ...``.
"""
from __future__ import annotations

import pytest

from tests.conftest import ai_settings, canvas_settings, make_config

TEACHER = "teacher-token"


def kg_config(sandbox, ai=None, yt=None, **overrides):
    settings = dict(canvas_settings(sandbox), **ai_settings(ai, yt))
    settings.update(overrides)
    return make_config(**settings)


@pytest.fixture
def config(sandbox, openai_fake, youtube_fake):
    return kg_config(sandbox, openai_fake, youtube_fake)


def post(client, path, token=None, **body):
    if token is not None:
        body["access_token"] = token
    return client.post(path, json=body)


def student_token(student_id) -> str:
    return f"student-token-{student_id}"


def sync(client, course_id, token=TEACHER, **extra):
    response = post(client, "/update-course-db", token, course_id=course_id, **extra)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
