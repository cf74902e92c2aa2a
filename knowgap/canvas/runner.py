"""Run async Canvas work from synchronous code (Flask views, the job worker) with a deadline.

Why a fresh event loop per call (``asyncio.run``) in the calling thread: gunicorn ``gthread``
workers and the job worker thread have no running loop, each call gets its own loop and its own
``aiohttp`` session, and nothing (sessions, locks, connectors) is ever shared between threads
or loops. Creating a loop costs well under a millisecond, negligible next to one Canvas round
trip. When the caller is itself inside a running loop (rare: async code calling the sync
facade) the work runs on a short-lived helper thread instead, since ``asyncio.run`` cannot
nest.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Awaitable, Callable, TypeVar

from knowgap.canvas.errors import canvas_timeout

T = TypeVar("T")


async def with_deadline(factory: Callable[[], Awaitable[T]], seconds: float | None) -> T:
    if not seconds or seconds <= 0:
        return await factory()
    try:
        return await asyncio.wait_for(factory(), timeout=seconds)
    except asyncio.TimeoutError:
        raise canvas_timeout(seconds) from None


def run_sync(factory: Callable[[], Awaitable[T]], *, timeout: float | None) -> T:
    """Run ``await factory()`` to completion in a fresh loop; ``CanvasUnavailable`` (504) after
    ``timeout`` seconds."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(with_deadline(factory, timeout))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, with_deadline(factory, timeout)).result()
