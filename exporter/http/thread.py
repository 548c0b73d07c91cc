"""The HTTP side's own thread and event loop, and running a coroutine on another thread's loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_in_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
    """Run `coro` on `loop` (another thread's) and wait for it from the caller's loop; cancelling cancels it."""
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


class ServingThread:
    """The HTTP side's own thread and event loop.

    Collectors turn GitHub's answers into metric families on the main loop, tens of
    milliseconds at a stretch for a big org. Served from a loop of its own, a scrape
    waits for them at most one GIL switch interval, never a whole conversion.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="http", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """Run `coro` (e.g. `serve(...)`, `RunningServer.stop()`) on the serving loop."""
        return run_in_loop(self.loop, coro)

    def close(self) -> None:
        """Stop the loop and its thread (stop every server on it first)."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()
