"""Run async Canvas work from synchronous code (Flask views, job handlers).

Why not the shared ``CanvasGateway``: KnowGap needs only a handful of calls, most of them
personal (``/users/self``, the caller's own enrollment, the caller's own submissions), and its
sync streams whole courses that are not worth caching. ``CanvasAccess.run(fn)`` has the same
shape as ``CanvasGateway.run`` (``fn(client)`` is an async function of a ``CanvasClient``), so
functions written for one work with the other (``risk_for_student`` accepts either).
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from knowgap.canvas.client import CanvasClient
from knowgap.canvas.errors import canvas_timeout
from knowgap.canvas.hosts import canvas_base_url


class CanvasAccess:
    """A Canvas origin + token pair; ``run`` opens one client session per call."""

    def __init__(self, base_url: str | None, token: str, config, *, deadline: float | None = None):
        self.base_url = canvas_base_url(base_url, config)     # refused before any request
        self._token = token
        self.config = config
        self.deadline = deadline

    def __repr__(self) -> str:          # never show the token
        return f"CanvasAccess({self.base_url!r})"

    def run(self, fn: Callable[[CanvasClient], Awaitable[Any]], *, deadline: float | None = None):
        limit = deadline if deadline is not None else self.deadline

        async def main():
            async with CanvasClient(self.base_url, self._token, config=self.config) as client:
                if limit:
                    try:
                        return await asyncio.wait_for(fn(client), timeout=limit)
                    except asyncio.TimeoutError:
                        raise canvas_timeout(limit) from None
                return await fn(client)

        return asyncio.run(main())
