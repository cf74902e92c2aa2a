"""Adaptive concurrency for Canvas's per-token leaky bucket (an AIMD window + a hard cap).

How Canvas throttles: each request is charged an up-front cost (50 units by default) while it
runs and its real cost when it ends; the bucket leaks 10 units/s and a request that would push
it past the high-water mark (600) gets ``403 Forbidden (Rate Limit Exceeded)`` (or ``429``).
Every response says how much room is left in ``X-Rate-Limit-Remaining``. So about
600 / 50 = 12 requests may be in flight on an idle token, and fewer as the real costs pile up.

``AdaptiveLimiter`` keeps a window ``limit`` of requests allowed in flight for one client:
- each response's ``remaining`` (which already deducts the up-front cost of everything in
  flight) says whether another request would fit: the window grows by one while there is room
  for two more (additive increase), holds with room for one, and shrinks by a quarter once per
  round of requests when there is none (multiplicative decrease);
- a throttled response halves the window (multiplicative decrease), at most once per round of
  requests so a burst of 403s from one wave does not collapse it to 1.

``TokenSlots`` is the hard cap: at most ``maximum`` requests in flight per token in this process,
across clients, threads and event loops (two gateway calls of the same user in two gunicorn
threads share one Canvas bucket). It is a thread-safe counter polled by the async side because
asyncio primitives cannot be shared across event loops.
"""
from __future__ import annotations

import asyncio
import math
import threading

# Canvas's default up-front cost per request (canvas-lms ``request_throttle.up_front_cost``).
DEFAULT_UPFRONT_COST = 50.0


class AdaptiveLimiter:
    def __init__(self, maximum: int, *, initial: int | None = None,
                 upfront_cost: float = DEFAULT_UPFRONT_COST):
        self.maximum = max(1, int(maximum))
        self.limit = float(min(self.maximum, initial if initial else max(1, self.maximum // 2)))
        self.upfront_cost = upfront_cost
        self.in_flight = 0
        self.peak_in_flight = 0
        self._started = 0            # requests admitted so far (epoch counter)
        self._last_cut = -1          # _started value when the window was last halved
        self._cond = asyncio.Condition()
        self._active: set[int] = set()   # admission numbers of requests in flight

    async def acquire(self) -> int:
        """Wait for room in the window; returns the admission number (for ``on_throttle``)."""
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < max(1, int(self.limit)))
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self._started += 1
            self._active.add(self._started)
            return self._started

    async def release(self, admitted: int) -> None:
        async with self._cond:
            self.in_flight -= 1
            self._active.discard(admitted)
            self._cond.notify_all()

    def on_response(self, remaining: float | None, admitted: int) -> None:
        """Adjust the window from one successful response's ``X-Rate-Limit-Remaining``.

        ``remaining`` already deducts the up-front cost of every request Canvas sees in flight,
        ours included, so it answers directly "could one more request start now?":
        - room for two more or better: additive increase (+1);
        - room for one: hold;
        - no room: multiplicative decrease (x0.75), once per round of requests.
        """
        if remaining is None or remaining >= 2 * self.upfront_cost:
            self.limit = min(self.maximum, self.limit + 1)
        elif remaining < self.upfront_cost and admitted > self._last_cut:
            self.limit = max(1.0, math.floor(self.limit * 0.75))
            self._last_cut = self._started

    def on_throttle(self, admitted: int) -> None:
        """A request admitted as number ``admitted`` was throttled: halve once per wave."""
        if admitted > self._last_cut:
            self.limit = max(1.0, math.floor(self.limit / 2))
            self._last_cut = self._started


class TokenSlots:
    """Process-wide in-flight counter per token fingerprint (hard cap across clients)."""

    _lock = threading.Lock()
    _counts: dict[str, int] = {}

    @classmethod
    def try_acquire(cls, key: str, maximum: int) -> bool:
        with cls._lock:
            n = cls._counts.get(key, 0)
            if n >= maximum:
                return False
            cls._counts[key] = n + 1
            return True

    @classmethod
    def release(cls, key: str) -> None:
        with cls._lock:
            n = cls._counts.get(key, 0) - 1
            if n > 0:
                cls._counts[key] = n
            else:
                cls._counts.pop(key, None)

    @classmethod
    async def acquire(cls, key: str, maximum: int) -> None:
        delay = 0.002
        while not cls.try_acquire(key, maximum):
            await asyncio.sleep(delay)
            delay = min(0.05, delay * 2)

    @classmethod
    def in_flight(cls, key: str) -> int:
        with cls._lock:
            return cls._counts.get(key, 0)
