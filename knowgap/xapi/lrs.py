"""The LRS's Statement Resource over HTTP (xAPI 1.0.3 Communication 2.1), with aiohttp.

``post`` sends a batch (Communication 2.1.2: "An array of Statements … to be stored"; ``200
OK`` with their ids); ``put`` one statement under its id (2.1.1: ``204 No Content``). Every
answer is classified for the delivery job:

* ``stored`` — 200/204: the LRS has them (also when it already had some of them: an LRS that
  receives a statement id it already has "MUST NOT make any modifications to its state" and
  answers 204 or 409, 2.1.1/2.1.2);
* ``conflict`` — 409: the LRS already has a statement with one of these ids (from an earlier
  try whose answer was lost, or derived again with, e.g., a later timestamp). For a single
  statement that is success: the statement exists. A batch with a conflict is stored by no LRS
  that treats batches atomically, so the job sends its statements one by one;
* ``rejected`` — 400/413/422: the LRS refuses the content; a single statement so refused is
  dead-lettered with the LRS's message;
* ``retry`` — anything else (network errors, timeouts, 401/403/404 from a misconfigured or
  restarting LRS, 408, 429, 5xx): nothing is lost, the batch is tried again later with backoff
  (``Retry-After`` is honoured).

Credentials: HTTP Basic (``XAPI_LRS_USERNAME`` / ``XAPI_LRS_PASSWORD``), never logged.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import aiohttp
import orjson

XAPI_VERSION = "1.0.3"

STORED, CONFLICT, REJECTED, RETRY = "stored", "conflict", "rejected", "retry"


@dataclass(frozen=True)
class Outcome:
    kind: str
    status: int | None
    message: str = ""
    retry_after: float | None = None


def statements_url(endpoint: str) -> str:
    """The Statement Resource under an LRS endpoint (``…/xAPI`` -> ``…/xAPI/statements``)."""
    return endpoint.rstrip("/") + "/statements"


def _problem(item: dict) -> str:
    where = ".".join(str(p) for p in item.get("loc") or [] if p != "body")
    return f"{where}: {item.get('msg')}" if where else str(item.get("msg"))


def _message(status: int | None, body: bytes, fallback: str) -> str:
    """The LRS's own error sentence (``{"detail": …}``, ``{"message": …}``, or its text)."""
    text = body.decode("utf-8", "replace").strip() if body else ""
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for field in ("detail", "message", "error", "errorMessage"):
            value = parsed.get(field)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                value = "; ".join(_problem(v) for v in value[:3])   # FastAPI-style details
            if isinstance(value, str) and value:
                text = value
                break
            if value:
                text = json.dumps(value)
                break
    text = " ".join(text.split())[:400]
    prefix = f"LRS answered {status}" if status else "LRS unreachable"
    return f"{prefix}: {text or fallback}"


def classify(status: int, body: bytes, retry_after: str | None = None) -> Outcome:
    if status in (200, 204):
        return Outcome(STORED, status)
    if status == 409:
        return Outcome(CONFLICT, status, _message(status, body, "conflict"))
    if status in (400, 413, 422):
        return Outcome(REJECTED, status, _message(status, body, "statement refused"))
    wait = None
    if retry_after:
        try:
            wait = max(0.0, float(retry_after))
        except ValueError:
            wait = None
    return Outcome(RETRY, status, _message(status, body, "try again later"), wait)


class LrsClient:
    """One session to the LRS for a delivery run (``async with LrsClient(...) as lrs``)."""

    def __init__(self, endpoint: str, username: str = "", password: str = "",
                 timeout: float = 60.0):
        self.url = statements_url(endpoint)
        self._headers = {"X-Experience-API-Version": XAPI_VERSION,
                         "Content-Type": "application/json"}
        if username or password:
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "LrsClient":
        self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._session is not None:
            await self._session.close()

    async def _send(self, method: str, body: bytes, params: dict | None = None) -> Outcome:
        try:
            async with self._session.request(method, self.url, data=body, params=params,
                                             allow_redirects=False) as response:
                payload = await response.read()
                return classify(response.status, payload, response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
            return Outcome(RETRY, None, _message(None, b"", reason[:300]))

    async def post(self, statements: list[dict]) -> Outcome:
        return await self._send("POST", orjson.dumps(statements))

    async def put(self, statement: dict) -> Outcome:
        return await self._send("PUT", orjson.dumps(statement),
                                params={"statementId": statement["id"]})
