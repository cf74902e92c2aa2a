"""The client's admission window: urgent requests go ahead of the ones already waiting."""
from __future__ import annotations

import asyncio

from knowgap.canvas.throttle import AdaptiveLimiter


def test_urgent_waiters_are_admitted_before_earlier_ones():
    async def scenario():
        limiter = AdaptiveLimiter(2, initial=2)
        held = [await limiter.acquire(), await limiter.acquire()]     # the window is full
        order = []

        async def request(name, urgent=False):
            admitted = await limiter.acquire(urgent)
            order.append(name)
            await asyncio.sleep(0)
            await limiter.release(admitted)

        waiting = [asyncio.create_task(request(f"list-{i}")) for i in range(3)]
        await asyncio.sleep(0)
        waiting.append(asyncio.create_task(request("poll", urgent=True)))
        await asyncio.sleep(0)
        for admitted in held:
            await limiter.release(admitted)
        await asyncio.gather(*waiting)
        return order, limiter.in_flight

    order, in_flight = asyncio.run(scenario())
    assert order[0] == "poll" and sorted(order[1:]) == ["list-0", "list-1", "list-2"]
    assert in_flight == 0


def test_without_urgent_waiters_order_is_first_come():
    async def scenario():
        limiter = AdaptiveLimiter(1, initial=1)
        first = await limiter.acquire()
        order = []

        async def request(name):
            admitted = await limiter.acquire()
            order.append(name)
            await limiter.release(admitted)

        tasks = [asyncio.create_task(request(i)) for i in range(4)]
        await asyncio.sleep(0)
        await limiter.release(first)
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == [0, 1, 2, 3]
