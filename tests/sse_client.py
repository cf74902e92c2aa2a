"""Reading Server-Sent Events over real HTTP with aiohttp's streaming client.

``read_events`` posts to a live server and parses the ``text/event-stream`` body as it arrives
(WHATWG HTML, "Server-sent events", the event stream format: lines ``field: value``, an event
ends at a blank line, ``data`` lines of one event are joined with newlines), recording when
each event came so tests can tell a stream from a buffered answer.
"""
from __future__ import annotations

import asyncio
import json
import time

import aiohttp


async def _read(url: str, body: dict, headers: dict, timeout: float) -> dict:
    events, started = [], time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.post(url, json=body, headers={"Accept": "text/event-stream",
                                                         **headers}) as resp:
            out = {"status": resp.status, "content_type": resp.headers.get("Content-Type", ""),
                   "events": events, "headers": dict(resp.headers)}
            if not out["content_type"].startswith("text/event-stream"):
                out["json"] = await resp.json(content_type=None)
                return out
            name, data = "message", []
            async for raw in resp.content:
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if data:
                        events.append({"event": name, "data": json.loads("\n".join(data)),
                                       "at": time.perf_counter() - started})
                    name, data = "message", []
                elif line.startswith(":"):
                    continue
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        name = value
                    elif field == "data":
                        data.append(value)
    return out


def read_events(url: str, body: dict, headers: dict | None = None, timeout: float = 30.0) -> dict:
    """``{status, content_type, events: [{event, data, at}], json?}`` of one POST."""
    return asyncio.run(_read(url, body, headers or {}, timeout))


def read_json(method: str, url: str, body: dict | None = None, headers: dict | None = None,
              timeout: float = 120.0) -> tuple[int, object]:
    """``(status, JSON body)`` of one plain request to a live server."""
    async def go():
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            async with http.request(method, url, json=body, headers=headers or {}) as resp:
                return resp.status, await resp.json(content_type=None)

    return asyncio.run(go())
