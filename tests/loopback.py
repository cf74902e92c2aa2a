"""An asyncio event loop in a daemon thread, for the fake servers the tests talk to over HTTP.

The Canvas sandbox and the fake OpenAI / YouTube servers each run an aiohttp app on their own
loop, so a test (or the synchronous app under test) can call them like any remote service.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Awaitable, Callable


class LoopThread:
    def __init__(self, name: str):
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, setup: Callable[[], Awaitable[None]], timeout: float = 10.0) -> None:
        """Start the loop and run ``setup()`` on it; its exception (e.g. a bind error) is
        raised here."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self.loop = loop
            try:
                loop.run_until_complete(setup())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller of start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError(f"{self.name} did not start")
        if failure:
            self._thread = None
            raise failure[0]

    def stop(self, shutdown: Callable[[], Awaitable[None]], timeout: float = 10.0) -> None:
        """Run ``shutdown()`` on the loop, then stop the loop and join the thread."""
        if self._thread is None or self.loop is None:
            return
        loop = self.loop
        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=timeout)
            self._thread = None
            self.loop = None
