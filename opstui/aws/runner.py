"""A background event loop that owns every aiobotocore client.

botocore parses responses synchronously; at 10,000 nodes that is seconds of CPU. Running all AWS I/O on its
own thread's loop keeps the UI loop free to take keystrokes and repaint (the GIL is shared, but the UI thread
still gets its time slices). The UI awaits results with `await runner.run(coro)`; cancelling that await
cancels the work on the AWS loop too.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class AwsLoop:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="opstui-aws", daemon=True)
        self._started = False

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self) -> AwsLoop:
        if not self._started:
            self._thread.start()
            self._started = True
        return self

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the AWS loop and await its result from the caller's loop."""
        self.start()
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return await asyncio.wrap_future(future)

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        self.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _cancel_all(self) -> None:
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self, timeout: float = 5) -> None:
        """Cancel what is still running (an in-flight refresh at quit), then stop the loop and its thread."""
        if not self._started or not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._cancel_all(), self._loop).result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()
