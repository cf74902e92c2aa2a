"""The AI JSON client against a local OpenAI-compatible server over HTTP."""
from __future__ import annotations

import asyncio
import json

from marshmallow import Schema, fields

from knowgap.ai.client import ask_json, ask_json_async
from tests.conftest import ai_settings, make_config


class TopicReply(Schema):
    topic = fields.String(required=True)


def _config(openai_fake, **overrides):
    return make_config(**{**ai_settings(openai_fake), **overrides})


def test_valid_reply_is_returned_and_prompt_carries_task(openai_fake):
    value = ask_json(_config(openai_fake), "core_topic", {"question": "What is osmosis?"},
                     TopicReply(), "Return {\"topic\": str}.")
    assert isinstance(value["topic"], str) and value["topic"]
    sent = openai_fake.requests[-1]["json"]["messages"][-1]["content"]
    assert sent.startswith("TASK: core_topic") and "What is osmosis?" in sent


def test_malformed_reply_retried_once_then_none(openai_fake):
    openai_fake.mode = "malformed"
    assert ask_json(_config(openai_fake), "core_topic", {}, TopicReply(), "") is None
    assert openai_fake.calls == 2


def test_reply_failing_schema_is_rejected(openai_fake):
    openai_fake.responder = lambda request: json.dumps({"unexpected": 1})
    assert ask_json(_config(openai_fake), "core_topic", {}, TopicReply(), "") is None


def test_server_error_and_timeout_give_none(openai_fake):
    openai_fake.mode = "500"
    assert ask_json(_config(openai_fake), "core_topic", {}, TopicReply(), "") is None
    openai_fake.mode = "timeout"
    assert ask_json(_config(openai_fake, openai_timeout_seconds=0.3), "core_topic", {},
                    TopicReply(), "") is None


def test_no_key_makes_no_call(openai_fake):
    config = make_config(openai_base_url=openai_fake.base_url)
    assert ask_json(config, "core_topic", {}, TopicReply(), "") is None
    assert openai_fake.calls == 0


def test_async_calls_overlap(openai_fake):
    openai_fake.latency_s = 0.3
    config = _config(openai_fake)

    async def many():
        return await asyncio.gather(*[
            ask_json_async(config, "core_topic", {"question": f"q{i}"}, TopicReply(), "")
            for i in range(6)])

    values = asyncio.run(many())
    assert all(v and v["topic"] for v in values)
    # Overlap seen by the server itself, not by a wall-clock bound that a loaded machine breaks.
    assert openai_fake.max_in_flight >= 2
