"""Batches through worker processes, results in order, with a bounded number in flight.

Cleaning a batch needs no other batch, so large datasets use every core. At most `window` batches
are in flight, so memory stays bounded however large the input; small inputs run in this process
(starting workers costs more than it saves). Workers come from a forkserver, never a fork of a
process that may be running UI threads.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
_STATE: dict[str, Any] = {}


def default_workers() -> int:
    """Worker processes for a large input: every core (TUNEUI_WORKERS overrides, 1 = no workers)."""
    env = os.environ.get("TUNEUI_WORKERS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _init(setup: Callable[..., Any], args: tuple) -> None:
    _STATE["worker"] = setup(*args)


def _call(item: Any) -> Any:
    return _STATE["worker"](item)


def ordered_map(setup: Callable[..., Callable[[T], R]], args: tuple, items: Iterable[T], workers: int,
                window: int | None = None) -> Iterator[R]:
    """`setup(*args)` builds the per-process function once; yields its result for every item, in order."""
    if workers <= 1:
        fn = setup(*args)
        for item in items:
            yield fn(item)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("forkserver")
    window = window or 2 * workers
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(setup, args)) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(_call, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
