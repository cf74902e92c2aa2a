"""A local fake of the OpenAI Chat Completions API, for tests and benchmarks.

A real ``aiohttp.web`` server on ``127.0.0.1:<free port>``, run by its own event loop in a
background thread, so both sync code (the ``openai`` client) and async code (aiohttp) in the
test's thread can call it. Latency is ``asyncio.sleep`` based: concurrent requests overlap,
which is what a benchmark of a concurrent client needs to see.

Usage::

    with FakeOpenAIServer(latency_s=0.05) as fake:
        client = openai.OpenAI(api_key="test", base_url=fake.base_url)   # .../v1
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        fake.mode = "500"            # switch behaviour at runtime
        assert fake.calls == 1

Modes (``fake.mode``):
    "ok"        200, real response shape; content comes from ``fake.responder(request_json)``;
                with ``"stream": true`` the same content as Server-Sent Events (below)
    "malformed" 200, real shape, but the content is not JSON
    "500"       500 with OpenAI's error body (the openai client retries these: pass
                ``max_retries=0`` to see exactly one call)
    "429"       429 rate limit error body with ``retry-after: 0``
    "timeout"   never answers within any sane client timeout (sleeps ``timeout_sleep_s``, 30 s
                by default; ``stop()`` cuts the sleep short)
    "401"       401 invalid_api_key error body
    "drop"      streaming only: half of the chunks, then the connection is cut (no ``[DONE]``)
    "stall"     streaming only: the first chunks, then silence until ``timeout_sleep_s``
A request without ``Authorization: Bearer <something>`` always gets the 401.

Default responder and the prompt convention
-------------------------------------------
The real prompts are written elsewhere; they are expected to contain a line ``TASK: <name>``
and, after a line ``INPUT:``, the payload as JSON (the rest of the prompt is free text). The
default responder (:func:`default_responder`) looks for those in the concatenated message
texts and answers with JSON:

* ``TASK: core_topic``: ``{"topic": "<first 3 content words of the question>"}``; the
  question is ``INPUT.question_text`` / ``question`` / ``text`` (or the raw INPUT text).
* ``TASK: analyze_questions``: ``{"questions": [{"questionId", "suggestedSkills",
  "complexity": "medium", "confidence": 0.8}]}`` for each ``INPUT.questions[{id, text}]``;
  skills are chosen only from ``INPUT.skills`` (those sharing a word with the question, else
  the first skill).
* ``TASK: suggest_skills``: ``{"skills": [{"skill", "description", "relevance"}]}``, five
  skills derived from ``INPUT.course_name``/``courseName`` (or ``INPUT.skills`` if given).
* ``TASK: tutor`` (the tutor's course material message): plain text, not JSON, built from
  ``INPUT`` (the student's answer, the instructor's comments, the correct answer, the topic)
  and the student's last message, about 40 words: a grounded answer a test can check.
* anything else: ``{"task": <name or null>, "echo": <last user message, 200 chars>}``.

Pass ``responder=callable`` (or set ``fake.responder``) to return any other string.

Streaming (``"stream": true``), as the Chat Completions API streams (OpenAI API reference,
"Create chat completion" with ``stream`` and "The chat completion chunk object"; and what the
``openai`` package parses, ``openai/_streaming.py``): ``Content-Type: text/event-stream``,
one ``data: <chat.completion.chunk JSON>`` event per chunk, each followed by a blank line; every
chunk has the same ``id``, ``created`` and ``model``; the first delta is ``{"role":
"assistant", "content": "", "refusal": null}``, then one delta ``{"content": "<piece>"}`` per
piece of the answer (a word with its following space: about a token), then an empty delta with
``finish_reason: "stop"``; with ``stream_options: {"include_usage": true}`` every chunk carries
``"usage": null`` and one more chunk with ``choices: []`` and the ``usage`` totals comes last;
the stream ends with ``data: [DONE]``. ``chunk_delay_s`` is the pause before each piece (the
model's generation speed).
"""
from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from typing import Any, Callable, Optional

from aiohttp import web

from tests.loopback import LoopThread

__all__ = ["BackgroundServer", "FakeOpenAIServer", "default_responder", "extract_task"]


class BackgroundServer:
    """Runs an ``aiohttp.web.Application`` in a private event loop on a background thread.

    Subclasses implement :meth:`build_app` and call :meth:`_log` from their handlers. Thread
    safety: the request log is guarded by a lock; ``mode``/``latency_s`` are plain attributes
    read by handlers on each request (atomic enough for tests).
    """

    MODES: tuple[str, ...] = ("ok",)

    def __init__(self, *, latency_s: float = 0.0, mode: str = "ok", timeout_sleep_s: float = 30.0):
        self.latency_s = float(latency_s)
        self.timeout_sleep_s = float(timeout_sleep_s)
        self.mode = mode
        self.host = "127.0.0.1"
        self.port: Optional[int] = None
        self._lock = threading.Lock()
        self._requests: list[dict] = []
        self._runtime = LoopThread(type(self).__name__)
        self._runner: Optional[web.AppRunner] = None
        self._stopping: Optional[asyncio.Event] = None
        self._in_flight = 0
        self.max_in_flight = 0

    # -- mode ---------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in self.MODES:
            raise ValueError(f"unknown mode {value!r}; expected one of {self.MODES}")
        self._mode = value

    # -- lifecycle ------------------------------------------------------------------------
    def build_app(self) -> web.Application:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def root_url(self) -> str:
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> "BackgroundServer":
        if not self._runtime.running:
            self._runtime.start(self._serve)
        return self

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = self.build_app()
        app.middlewares.append(self._track_in_flight)
        # shutdown_timeout: do not wait long for handlers still sleeping ("timeout" mode).
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()

    @web.middleware
    async def _track_in_flight(self, request, handler):
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return await handler(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def stop(self) -> None:
        async def shutdown():
            if self._stopping is not None:
                self._stopping.set()
            if self._runner is not None:
                await self._runner.cleanup()

        self._runtime.stop(shutdown)
        self._runner = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- helpers for handlers -----------------------------------------------------------
    async def _delay(self) -> None:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)

    async def _hang(self) -> None:
        """Sleep ``timeout_sleep_s`` or until the server stops, whichever is first."""
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=self.timeout_sleep_s)
        except asyncio.TimeoutError:
            pass

    def _log(self, request: web.Request, body: Any, status: Optional[int] = None) -> dict:
        entry = {
            "time": time.time(),
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "headers": {k: v for k, v in request.headers.items()},
            "json": body,
            "mode": self.mode,
            "status": status,
        }
        with self._lock:
            self._requests.append(entry)
        return entry

    # -- inspection -----------------------------------------------------------------------
    @property
    def calls(self) -> int:
        """Number of requests received (any path, any outcome)."""
        with self._lock:
            return len(self._requests)

    @property
    def requests(self) -> list[dict]:
        """Copy of the request log: ``[{time, method, path, query, headers, json, mode, status}]``."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def reset(self) -> None:
        """Clear the log and the concurrency high-water mark."""
        with self._lock:
            self._requests.clear()
            self.max_in_flight = self._in_flight


# ---------------------------------------------------------------------------------------------
# Default responder
# ---------------------------------------------------------------------------------------------

_TASK = re.compile(r"^\s*TASK:\s*([A-Za-z0-9_\-]+)\s*$", re.MULTILINE)
_INPUT = re.compile(r"^\s*INPUT:\s*$", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#\-]*")
_STOP = frozenset("""a an the and or of to in on at by for with from is are was were be been what which
who whom when where why how does do did this that these those it its following best correct
true false explain describe define list name identify give choose select statement question
about into than then there their your you can will would should""".split())


def _message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def extract_task(request_json: dict) -> tuple[Optional[str], Any]:
    """``(task name or None, INPUT payload)`` from a chat request, per the convention above.
    The payload is the parsed JSON after ``INPUT:`` (raw text if it does not parse; None if
    there is no ``INPUT:`` line)."""
    text = "\n".join(_message_text(m) for m in request_json.get("messages") or [] if isinstance(m, dict))
    m = _TASK.search(text)
    task = m.group(1) if m else None
    payload = None
    inp = None
    for inp in _INPUT.finditer(text):
        pass  # the last INPUT: line wins (system prompts may mention the convention)
    if inp is not None:
        raw = text[inp.end():].strip()
        try:
            payload, _ = json.JSONDecoder().raw_decode(raw)
        except ValueError:
            payload = raw
    return task, payload


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text or "") if w.lower() not in _STOP]


def default_responder(request_json: dict) -> str:
    """Deterministic JSON answers for the known tasks (see the module docstring)."""
    task, payload = extract_task(request_json)
    data = payload if isinstance(payload, dict) else {}

    if task == "core_topic":
        question = data.get("question_text") or data.get("question") or data.get("text")
        if question is None:
            question = payload if isinstance(payload, str) else ""
        words = _content_words(re.sub(r"<[^>]+>", " ", str(question)))[:3]
        return json.dumps({"topic": " ".join(w.lower() for w in words) or "general review"})

    if task == "analyze_questions":
        skills = [s for s in data.get("skills") or [] if isinstance(s, str)]
        out = []
        for q in data.get("questions") or []:
            if not isinstance(q, dict):
                continue
            text = str(q.get("text") or q.get("question_text") or "").lower()
            words = set(w.lower() for w in _content_words(text))
            picked = [s for s in skills if words & set(w.lower() for w in _content_words(s))]
            if not picked and skills:
                picked = skills[:1]
            out.append({
                "questionId": q.get("id", q.get("questionId")),
                "suggestedSkills": picked[:3],
                "complexity": "medium",
                "confidence": 0.8,
            })
        return json.dumps({"questions": out})

    if task == "suggest_skills":
        given = [s for s in data.get("skills") or [] if isinstance(s, str)]
        if given:
            names = given[:10]
        else:
            course = data.get("course_name") or data.get("courseName") or data.get("name") or "Course"
            base = " ".join(_content_words(str(course))[:3]) or "Course"
            names = [f"{base} Fundamentals", f"{base} Terminology", f"Applied {base}",
                     f"{base} Problem Solving", "Critical Thinking"]
        return json.dumps({"skills": [
            {"skill": n, "description": f"Ability in {n}.", "relevance": round(0.9 - 0.05 * i, 2)}
            for i, n in enumerate(names)
        ]})

    last_user = ""
    for m in request_json.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "user":
            last_user = _message_text(m)

    if task == "tutor":
        mine = "; ".join(data.get("your_answer") or []) or "an answer"
        right = "; ".join(data.get("correct_answers") or []) or "(not released)"
        notes = " ".join(data.get("answer_comments") or [])
        return (f"You asked: {last_user[:80]} You chose {mine}, but the answer is {right}. "
                f"{notes} {data.get('incorrect_comments') or ''} Review "
                f"{data.get('topic') or 'the concept'} and try explaining it in your own words. "
                "What would you answer now?")
    return json.dumps({"task": task, "echo": last_user[:200]})


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------

def _openai_error(status: int, message: str, type_: str, code: Optional[str]) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": type_, "param": None, "code": code}}, status=status
    )


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


class FakeOpenAIServer(BackgroundServer):
    """Fake ``POST /v1/chat/completions``. ``base_url`` is ``http://127.0.0.1:PORT/v1``."""

    MODES = ("ok", "malformed", "500", "429", "timeout", "401", "drop", "stall")

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        mode: str = "ok",
        responder: Optional[Callable[[dict], str]] = None,
        timeout_sleep_s: float = 30.0,
        chunk_delay_s: float = 0.0,
    ):
        super().__init__(latency_s=latency_s, mode=mode, timeout_sleep_s=timeout_sleep_s)
        self.responder: Callable[[dict], str] = responder or default_responder
        self.chunk_delay_s = float(chunk_delay_s)

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    async def _chat(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        entry = self._log(request, body)
        mode = self.mode

        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[len("Bearer "):].strip():
            entry["status"] = 401
            return _openai_error(401, "You didn't provide an API key.", "invalid_request_error", None)

        if mode == "timeout":
            await self._hang()
            entry["status"] = 504
            return _openai_error(504, "fake timeout elapsed", "server_error", None)

        await self._delay()

        if mode == "401":
            entry["status"] = 401
            return _openai_error(401, "Incorrect API key provided: test.", "invalid_request_error",
                                 "invalid_api_key")
        if mode == "500":
            entry["status"] = 500
            return _openai_error(500, "The server had an error while processing your request.",
                                 "server_error", None)
        if mode == "429":
            entry["status"] = 429
            resp = _openai_error(429, "Rate limit reached for requests.", "requests", "rate_limit_exceeded")
            resp.headers["retry-after"] = "0"
            return resp

        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
            entry["status"] = 400
            return _openai_error(400, "'model' and 'messages' are required.", "invalid_request_error", None)
        if body.get("stream"):
            entry["status"] = 200
            return await self._stream(request, body, self.responder(body), mode)
        if mode in ("drop", "stall"):
            mode = "ok"                          # only a stream can be cut or stall

        if mode == "malformed":
            content = 'Sure! Here is the JSON you asked for: {"topic": "unterminated'
        else:
            content = self.responder(body)
        prompt_text = " ".join(_message_text(m) for m in body["messages"] if isinstance(m, dict))
        prompt_tokens, completion_tokens = _tokens(prompt_text), _tokens(content)
        entry["status"] = 200
        return web.json_response({
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        })

    async def _stream(self, request: web.Request, body: dict, content: str,
                      mode: str) -> web.StreamResponse:
        """The answer as chat.completion.chunk events (see the module docstring)."""
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-cache"})
        await resp.prepare(request)
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": body["model"],
                "system_fingerprint": "fp_fake"}
        usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def send(choices: list, **extra) -> None:
            chunk = {**base, "choices": choices, **extra}
            if usage and "usage" not in chunk:
                chunk["usage"] = None
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())

        def delta(value: dict, finish=None) -> list:
            return [{"index": 0, "delta": value, "logprobs": None, "finish_reason": finish}]

        pieces = re.findall(r"\S+\s*|\s+", content) or [""]
        await send(delta({"role": "assistant", "content": "", "refusal": None}))
        for i, piece in enumerate(pieces):
            if mode == "drop" and i >= max(1, len(pieces) // 2):
                request.transport.close()        # cut mid-body: no final chunk, no [DONE]
                return resp
            if mode == "stall" and i >= min(3, len(pieces)):
                await self._hang()
                return resp
            if self.chunk_delay_s > 0:
                await asyncio.sleep(self.chunk_delay_s)
            await send(delta({"content": piece}))
        await send(delta({}, "stop"))
        if usage:
            prompt = " ".join(_message_text(m) for m in body["messages"] if isinstance(m, dict))
            p, c = _tokens(prompt), _tokens(content)
            await send([], usage={"prompt_tokens": p, "completion_tokens": c,
                                  "total_tokens": p + c})
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
