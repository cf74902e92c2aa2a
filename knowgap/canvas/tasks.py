"""Concurrency helpers for Canvas work: run coroutines together, fail as one."""
from __future__ import annotations

import asyncio


async def gather_all(coros: list) -> list:
    """Run coroutines concurrently; on the first failure cancel the rest and raise it.

    ``asyncio.TaskGroup`` gives the cancel-the-siblings behaviour; unwrapping its
    ``ExceptionGroup`` keeps callers' ``except CanvasError`` (and the error envelope) working.
    """
    tasks: list = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(c) for c in coros]
    except BaseExceptionGroup as group:
        raise first_leaf(group) from None
    return [t.result() for t in tasks]


def first_leaf(group: BaseExceptionGroup) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_leaf(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]
