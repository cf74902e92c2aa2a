"""The one place that talks to the OpenAI-compatible chat API.

Every prompt asks for strict JSON and every reply is validated by a marshmallow schema before
anyone uses it. A reply that fails validation is retried once; after that — or with no API key,
an error, or a timeout — callers get ``None`` and answer with their offline fallback, so an AI
outage degrades answers instead of breaking pages.
"""
from __future__ import annotations

import json
import logging

import openai
from marshmallow import Schema, ValidationError

from config import Config
from knowgap.canvas.runner import run_sync

log = logging.getLogger("knowgap.ai")

SYSTEM_PROMPT = ("You are an assistant for a learning platform. Answer with one JSON value "
                 "only, no prose and no code fences, exactly in the format requested.")
ATTEMPTS = 2  # the first answer plus one retry when the answer is not valid


def _messages(task: str, payload: dict, instructions: str) -> list[dict]:
    user = f"TASK: {task}\n{instructions.strip()}\nINPUT:\n{json.dumps(payload, ensure_ascii=False)}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _parse(content: str | None, schema: Schema):
    """The validated value, or None when the reply is not what was asked for."""
    if not content:
        return None
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        return schema.load(json.loads(text))
    except (ValueError, ValidationError) as exc:
        log.info("AI reply rejected: %s", type(exc).__name__)
        return None


def _client_kwargs(config: Config) -> dict:
    return {"api_key": config.openai_api_key, "base_url": config.openai_base_url,
            "timeout": config.openai_timeout_seconds, "max_retries": 0}


def ai_enabled(config: Config) -> bool:
    return bool(config.openai_api_key)


def ask_json(config: Config, task: str, payload: dict, schema: Schema, instructions: str):
    """Ask for JSON and return it validated, or None (no key, failure, or invalid twice).

    The synchronous face of ``ask_json_async`` for Flask views, so both share one code path.
    """
    if not ai_enabled(config):
        return None
    return run_sync(lambda: ask_json_async(config, task, payload, schema, instructions),
                    timeout=None)


async def ask_json_async(config: Config, task: str, payload: dict, schema: Schema,
                         instructions: str, client: openai.AsyncOpenAI | None = None):
    """Async twin of ``ask_json``; pass a shared ``client`` (see ``async_client``) for batches."""
    if not ai_enabled(config):
        return None
    own = client is None
    client = client or async_client(config)
    try:
        for _ in range(ATTEMPTS):
            reply = await client.chat.completions.create(
                model=config.openai_model, messages=_messages(task, payload, instructions),
                temperature=0)
            value = _parse(reply.choices[0].message.content, schema)
            if value is not None:
                return value
    except openai.OpenAIError as exc:
        log.warning("AI call %s failed: %s", task, type(exc).__name__)
    finally:
        if own:
            await client.close()
    return None


def async_client(config: Config) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(**_client_kwargs(config))
