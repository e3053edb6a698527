"""Blocking work (the store, hashing) run off the event loop, for the API's hot path.

Starlette's `run_in_threadpool` (anyio) hands each call to a worker thread through a
`queue.Queue` and a capacity limiter: a lock, a condition and several checkpoints per
call, about a tenth of a signed call's CPU in a profile. `asyncio`'s `run_in_executor`
on a `ThreadPoolExecutor` hands it over through a C queue. The calling task's context
variables go with the call, as with anyio.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: As many threads as anyio's default limiter allows: requests waiting on the database
#: (SQLite's writer, PostgreSQL's locks) must not hold up the others.
THREADS = 40

_executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="chamberlain-call")


async def run_blocking(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`func(*args, **kwargs)` in a worker thread; the event loop serves others meanwhile."""
    context = contextvars.copy_context()
    call = partial(context.run, func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_executor, call)
