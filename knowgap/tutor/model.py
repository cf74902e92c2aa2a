"""The tutor's model: a streamed chat completion through the ``openai`` package.

One synchronous ``openai.OpenAI`` client per process and configuration (its HTTP connection
pool is shared by every request thread), ``stream=True`` with ``stream_options.include_usage``
so the last chunk reports the tokens used. Retries are off (``max_retries=0``): a student is
waiting, and a retry after half an answer was shown would repeat it.

Time: ``tutor_timeout_seconds`` bounds the wait for every read (connect, first chunk, each next
chunk) and the whole answer (checked between chunks), so a stalled model costs a student at most
that long. Every failure becomes a ``ModelError`` with a code and a sentence for the student;
what was streamed before it is kept by the caller.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterator

import openai

_clients: dict[tuple, openai.OpenAI] = {}
_lock = threading.Lock()


class ModelError(Exception):
    """The model did not (completely) answer. ``status`` is the HTTP status a JSON client gets."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def client_for(config) -> openai.OpenAI:
    key = (config.openai_api_key, config.openai_base_url, config.tutor_timeout_seconds)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = openai.OpenAI(
                api_key=config.openai_api_key, base_url=config.openai_base_url,
                timeout=config.tutor_timeout_seconds, max_retries=0)
        return client


TIMEOUT = ("tutor_timeout", "The AI tutor took too long to answer. Your message is saved; send "
           "it again, or ask a shorter question.", 504)


def _error(exc: Exception, streamed: bool) -> ModelError:
    if isinstance(exc, openai.RateLimitError):
        return ModelError("tutor_model_busy", "The AI tutor is handling too many requests right "
                          "now. Your message is saved; send it again in a minute.", 503)
    if isinstance(exc, openai.APITimeoutError):
        return ModelError(*TIMEOUT)
    if streamed:
        return ModelError("tutor_answer_cut_off", "The AI tutor's answer was cut off. What you "
                          "saw is kept; send your message again for a full answer.", 502)
    return ModelError("tutor_model_unavailable", "The AI tutor is not reachable right now. "
                      "Your message is saved; try again in a few minutes.", 502)


def stream_answer(config, messages: list[dict], usage: Usage) -> Iterator[str]:
    """The answer's text pieces as the model produces them; fills ``usage`` when reported.
    Raises ``ModelError`` (after any pieces already yielded)."""
    deadline = time.monotonic() + config.tutor_timeout_seconds
    streamed = False
    finished = False
    stream = None
    try:
        stream = client_for(config).chat.completions.create(
            model=config.openai_model, messages=messages, stream=True,
            stream_options={"include_usage": True}, temperature=0.3,
            max_tokens=config.tutor_max_answer_tokens)
        for chunk in stream:
            if chunk.usage is not None:
                usage.prompt_tokens = chunk.usage.prompt_tokens
                usage.completion_tokens = chunk.usage.completion_tokens
            for choice in chunk.choices or ():
                if choice.finish_reason:
                    finished = True
                text = choice.delta.content if choice.delta else None
                if text:
                    streamed = True
                    yield text
            if time.monotonic() > deadline:
                raise ModelError(*TIMEOUT)
    except openai.OpenAIError as exc:
        raise _error(exc, streamed) from None
    finally:
        if stream is not None:
            stream.close()
    if not finished:              # the stream ended without the model's last chunk
        raise _error(RuntimeError("no finish_reason"), True)
