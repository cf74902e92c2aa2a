"""Concurrency control for Canvas's per-token leaky bucket: a bucket model + a hard cap.

How Canvas throttles: each request is charged an up-front cost (50 units by default) while it
runs and its real cost when it ends; the bucket leaks 10 units/s and a request that would push
it past the high-water mark (600) gets ``403 Forbidden (Rate Limit Exceeded)`` (or ``429``).
Every response says how much room is left (``X-Rate-Limit-Remaining``, which already deducts
the up-front cost of everything in flight) and what it cost (``X-Request-Cost``). So about
600 / 50 = 12 requests may be in flight on an idle token, and fewer as real costs pile up: with
``C`` units settled in the bucket, ``floor((600 - C) / 50)`` fit.

``AdaptiveLimiter`` keeps ``room`` = high-water mark minus the settled level, i.e. the units
available for our requests in flight, and admits a request only while
``50 x (in flight + 1) <= room - margin``; ``limit`` is that number of requests (≤ ``maximum``):
- calibration: the first response gives ``room = remaining + 50 x (our other requests in
  flight)``; no assumption about the high-water mark is needed;
- then every response lowers ``room`` by its exact ``X-Request-Cost`` and the leak (10 units/s,
  Canvas's default outflow) raises it again. Counting costs instead of re-deriving ``room`` from
  every ``remaining`` is what avoids 403s: responses are read out of order and new requests
  may start between a request's settlement and the moment its headers are read, so a
  per-response estimate is sometimes one request too optimistic, which is one 403;
- observations still correct the model: a response with nothing else in flight is exact
  (the model is reset to it), and an observation well below the model (another client using
  the same token) lowers it;
- a throttled response sets ``room`` from its ``remaining`` and our requests admitted before it,
  and never leaves the window above what is in flight, so the retry waits for one of ours to
  finish (returning its up-front cost) instead of sleeping. Without ``X-Rate-Limit-Remaining``
  (not Canvas) the window grows by one per response and halves on a throttle.

``TokenSlots`` is the hard cap: at most ``maximum`` requests in flight per token in this process,
across clients, threads and event loops (two gateway calls of the same user in two gunicorn
threads share one Canvas bucket). It is a thread-safe counter polled by the async side because
asyncio primitives cannot be shared across event loops.
"""
from __future__ import annotations

import asyncio
import math
import threading
import time

# Canvas defaults (canvas-lms ``request_throttle``): up-front cost per request, outflow per second.
DEFAULT_UPFRONT_COST = 50.0
DEFAULT_OUTFLOW_PER_S = 10.0
DEFAULT_MARGIN = 2.0             # units kept free below the computed room


class AdaptiveLimiter:
    def __init__(self, maximum: int, *, initial: int | None = None,
                 upfront_cost: float = DEFAULT_UPFRONT_COST,
                 outflow_per_s: float = DEFAULT_OUTFLOW_PER_S, margin: float = DEFAULT_MARGIN):
        self.maximum = max(1, int(maximum))
        self.limit = float(min(self.maximum, initial if initial else max(1, self.maximum // 2)))
        self.upfront_cost = upfront_cost
        self.outflow_per_s = outflow_per_s
        self.margin = margin
        self.room: float | None = None      # bucket units available to our in-flight requests
        self._room_at = 0.0
        self._room_cap = 0.0                 # the largest room ever observed (the leak's ceiling)
        self.in_flight = 0
        self.peak_in_flight = 0
        self._started = 0            # requests admitted so far (admission numbers)
        self._cond = asyncio.Condition()
        self._active: set[int] = set()   # admission numbers of requests in flight
        self._urgent = 0                 # waiting requests that go first (``acquire``)

    # ------------------------------------------------------------------ admission
    async def acquire(self, urgent: bool = False) -> int:
        """Wait for room in the window; returns the admission number. Waiting requests are
        admitted in order, ``urgent`` ones (a chain Canvas makes us wait on, such as a report's
        polls) before all others."""
        async with self._cond:
            if urgent:
                self._urgent += 1
            try:
                await self._cond.wait_for(lambda: self.in_flight < max(1, int(self.limit))
                                          and (urgent or not self._urgent))
            finally:
                if urgent:
                    self._urgent -= 1
                    if not self._urgent:
                        self._cond.notify_all()
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

    def others(self, admitted: int) -> int:
        """Our other requests in flight now."""
        return len(self._active) - (admitted in self._active)

    def admitted_before(self, admitted: int) -> int:
        """Our requests in flight that were admitted (so sent) before ``admitted``."""
        return sum(1 for a in self._active if a < admitted)

    # ------------------------------------------------------------------ bucket model
    def _leaked_room(self, now: float) -> float:
        assert self.room is not None
        gained = max(0.0, now - self._room_at) * self.outflow_per_s
        return min(max(self._room_cap, self.room), self.room + gained)

    def _set_room(self, room: float, now: float) -> None:
        self.room, self._room_at = room, now
        fits = math.floor((room - self.margin) / self.upfront_cost)
        self.limit = float(max(1, min(self.maximum, fits)))

    def on_response(self, remaining: float | None, admitted: int, cost: float | None = None,
                    others: int | None = None) -> None:
        """Update the model from a successful response.

        ``remaining``/``cost``: its ``X-Rate-Limit-Remaining`` / ``X-Request-Cost``;
        ``others``: our other requests in flight when its headers arrived (default: now).
        """
        if remaining is None:                        # no throttle headers: plain AIMD growth
            self.limit = min(self.maximum, self.limit + 1)
            return
        now = time.monotonic()
        others = self.others(admitted) if others is None else others
        observed = remaining + self.upfront_cost * others
        self._room_cap = max(self._room_cap, observed)
        if self.room is None or cost is None or others == 0:
            room = observed                          # calibration, or an exact observation
        else:
            room = self._leaked_room(now) - cost
            if observed < room - 1.5 * self.upfront_cost:
                room = observed                      # someone else is spending this bucket
        self._set_room(room, now)

    def on_throttle(self, admitted: int, remaining: float | None = None) -> None:
        """A request (admission number ``admitted``) was refused with 403/429."""
        now = time.monotonic()
        others = self.others(admitted)
        if remaining is not None:
            observed = remaining + self.upfront_cost * self.admitted_before(admitted)
            room = observed if self.room is None else min(self._leaked_room(now), observed)
            self._set_room(room, now)
        else:
            self.limit = max(1.0, math.floor(self.limit / 2))
        if others:                                   # wait for one of ours to finish
            self.limit = float(max(1, min(self.limit, others)))


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
