"""Mutable, thread-safe runtime state of a sandbox server: knobs, faults, throttle, counters.

Why a separate object: the server runs its own event loop in a background thread while tests
and benchmarks poke it from the main thread (inject a fault, read counters, turn throttling
off).  Everything that both sides touch lives here behind one ``threading.RLock``; critical
sections are a few dictionary updates, so the lock never blocks the loop noticeably.

Knobs (plain attributes, safe to assign at any time):
    latency_s        per-request delay (``asyncio.sleep``, so concurrent requests overlap)
    throttle_enabled reject requests when the bucket would overflow (accounting and the
                     ``X-Rate-Limit-Remaining`` header continue when disabled)
    throttle_status  403 (classic Canvas, body ``403 Forbidden (Rate Limit Exceeded)``) or 429
                     (newer docs, with ``Retry-After``)
    high_water, upfront_cost, outflow_per_s   Canvas defaults 600 / 50 / 10 per second
    cost_base, cost_per_item   actual cost charged at completion: base + per_item * items.
                     Canvas charges the request's CPU + database seconds; list pages commonly
                     report well under one unit, so the default (0.1 + 0.004 per item: 0.5
                     for a full 100-row page) is on the expensive side of realistic
    hang_s           how long a ``"timeout"`` fault hangs (then answers 504)

Faults: ``inject(kind, count=1, path=None, delay_s=None)`` queues a rule applied to the next
``count`` requests whose path+query contains ``path``.  Kinds: ``"500"``, ``"502"``, ``"503"``,
``"504"``, ``"401"`` (invalid token), ``"403"``/``"429"``/``"throttle"`` (rate-limit response),
``"timeout"`` (hang ``delay_s`` or ``hang_s``, released early by ``stop()``), ``"malformed_json"``
(real status and headers, body truncated), ``"reset"`` (connection aborted with RST).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass

FAULT_KINDS = frozenset({"500", "502", "503", "504", "401", "403", "429", "throttle",
                         "timeout", "malformed_json", "reset"})


@dataclass
class FaultRule:
    kind: str
    remaining: int
    path: str | None = None
    delay_s: float | None = None


class SandboxState:
    def __init__(self, *, latency_s: float = 0.0, throttle: bool = True, throttle_status: int = 403,
                 high_water: float = 600.0, upfront_cost: float = 50.0, outflow_per_s: float = 10.0,
                 cost_base: float = 0.1, cost_per_item: float = 0.004, hang_s: float = 30.0,
                 log_limit: int = 100_000) -> None:
        self.lock = threading.RLock()
        self.latency_s = latency_s
        self.throttle_enabled = throttle
        self.throttle_status = throttle_status
        self.high_water = high_water
        self.upfront_cost = upfront_cost
        self.outflow_per_s = outflow_per_s
        self.cost_base = cost_base
        self.cost_per_item = cost_per_item
        self.hang_s = hang_s
        self._faults: list[FaultRule] = []
        self._buckets: dict[str, list[float]] = {}       # token -> [level, last_update]
        self._log: deque[dict] = deque(maxlen=log_limit)
        self.reset_counters()

    # ------------------------------------------------------------------ faults
    def inject(self, kind: str, count: int = 1, path: str | None = None,
               delay_s: float | None = None) -> None:
        """Make the next ``count`` requests matching ``path`` (substring of path+query) fail."""
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        with self.lock:
            self._faults.append(FaultRule(kind, count, path, delay_s))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> list[FaultRule]:
        with self.lock:
            return [FaultRule(f.kind, f.remaining, f.path, f.delay_s) for f in self._faults]

    def take_fault(self, path_qs: str) -> FaultRule | None:
        """Consume one use of the first matching rule (first injected, first applied)."""
        with self.lock:
            for rule in self._faults:
                if rule.remaining > 0 and (rule.path is None or rule.path in path_qs):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._faults.remove(rule)
                    return FaultRule(rule.kind, 1, rule.path, rule.delay_s)
        return None

    # ------------------------------------------------------------------ throttle
    def _leak(self, token: str, now: float) -> list[float]:
        b = self._buckets.setdefault(token, [0.0, now])
        b[0] = max(0.0, b[0] - (now - b[1]) * self.outflow_per_s)
        b[1] = now
        return b

    def reserve(self, token: str) -> tuple[bool, float, float]:
        """Charge the up-front cost.  Returns (allowed, remaining, retry_after_s)."""
        now = time.monotonic()
        with self.lock:
            b = self._leak(token, now)
            if self.throttle_enabled and b[0] + self.upfront_cost > self.high_water:
                excess = b[0] + self.upfront_cost - self.high_water
                return False, self.high_water - b[0], excess / self.outflow_per_s
            b[0] += self.upfront_cost
            return True, self.high_water - b[0], 0.0

    def settle(self, token: str, cost: float) -> float:
        """Credit the up-front cost back and charge the actual cost; returns remaining."""
        with self.lock:
            b = self._leak(token, time.monotonic())
            b[0] = max(0.0, b[0] - self.upfront_cost) + cost
            return self.high_water - b[0]

    def request_cost(self, items: int) -> float:
        return round(self.cost_base + self.cost_per_item * items, 4)

    def bucket_level(self, token: str) -> float:
        with self.lock:
            return self._leak(token, time.monotonic())[0]

    def reset_throttle(self) -> None:
        """Empty every bucket (e.g. between tests)."""
        with self.lock:
            self._buckets.clear()

    # ------------------------------------------------------------------ counters
    def reset_counters(self) -> None:
        with self.lock:
            self.total_requests = 0
            self._by_path: Counter[str] = Counter()
            self._by_status: Counter[int | str] = Counter()
            self.throttled = 0
            self._in_flight: Counter[str] = Counter()
            self._max_in_flight: Counter[str] = Counter()
            self._log.clear()

    def begin(self, token: str, path: str) -> None:
        with self.lock:
            self.total_requests += 1
            self._by_path[path] += 1
            self._in_flight[token] += 1
            if self._in_flight[token] > self._max_in_flight[token]:
                self._max_in_flight[token] = self._in_flight[token]

    def end(self, token: str, entry: dict) -> None:
        with self.lock:
            self._in_flight[token] -= 1
            self._by_status[entry["status"]] += 1
            if entry.get("throttled"):
                self.throttled += 1
            self._log.append(entry)

    @property
    def requests_by_path(self) -> dict[str, int]:
        with self.lock:
            return dict(self._by_path)

    @property
    def status_counts(self) -> dict:
        with self.lock:
            return dict(self._by_status)

    @property
    def max_in_flight(self) -> dict[str, int]:
        """Highest number of simultaneous requests seen per token (raw token string)."""
        with self.lock:
            return dict(self._max_in_flight)

    @property
    def in_flight(self) -> dict[str, int]:
        with self.lock:
            return {k: v for k, v in self._in_flight.items() if v}

    @property
    def request_log(self) -> list[dict]:
        """Copies of ``{method, path, query, token, user_id, status, fault, throttled, cost,
        remaining, started, duration_s}`` in completion order."""
        with self.lock:
            return [dict(e) for e in self._log]

    def count(self, path_substring: str) -> int:
        """Requests whose path contains ``path_substring``."""
        with self.lock:
            return sum(n for p, n in self._by_path.items() if path_substring in p)

    def snapshot(self) -> dict:
        with self.lock:
            return {"total_requests": self.total_requests, "throttled": self.throttled,
                    "requests_by_path": dict(self._by_path), "status_counts": dict(self._by_status),
                    "max_in_flight": dict(self._max_in_flight),
                    "pending_faults": len(self._faults)}
