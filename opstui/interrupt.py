"""ctrl+c for the command-line tools (`opstui run`, `opstui shell -- COMMAND`, `opstui logs tail --follow`): the
first one asks the running work to stop and clean up (cancel the command, terminate the session, end the Live
Tail session), a second one stops at once.

Why not only asyncio.run's own SIGINT handling: it cancels the main task and relies on that CancelledError
reaching our code. Twice in the suite, on a loaded machine, a CLI went on polling for 30 s after SIGINT, as if
the cancellation had been absorbed on the way (a library catching it in a race; the cause was not found). So
the first ctrl+c also sets :attr:`Interrupt.fired`, which the loops check on every round: the work stops either
way. The handler is installed with ``loop.add_signal_handler``, which wakes the loop through its wakeup file
descriptor whichever thread the signal lands on.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator


class Interrupt:
    """One per run: ``with Interrupt.installed() as stop: ...``; ``stop.fired`` is set by the first ctrl+c."""

    def __init__(self, task: asyncio.Task[object] | None) -> None:
        self.task = task
        self.fired = asyncio.Event()

    def _first(self) -> None:
        self.fired.set()
        loop = asyncio.get_running_loop()
        loop.remove_signal_handler(signal.SIGINT)
        # the second ctrl+c raises KeyboardInterrupt in the main thread: asyncio.run ends, the CLI exits 130
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def pause(self, seconds: float) -> None:
        """asyncio.sleep(seconds) that ends early on ctrl+c."""
        waiter = asyncio.ensure_future(self.fired.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    def settle(self) -> None:
        """After ctrl+c was handled: forget the cancellation it asked for, so the clean-up can await."""
        task = asyncio.current_task()
        if task is not None:
            while task.cancelling():
                task.uncancel()

    @contextlib.contextmanager
    def absorbed(self) -> Iterator[None]:
        """Inside: the cancellation a ctrl+c caused ends the block quietly (and is forgotten, so the clean-up
        after it can await); any other cancellation goes on. After the block, ``fired`` says which it was."""
        try:
            yield
        except asyncio.CancelledError:
            if not self.fired.is_set():
                raise
            self.settle()

    @classmethod
    @contextlib.contextmanager
    def installed(cls) -> Iterator[Interrupt]:
        """Install on the running loop (a no-op where signals can't be handled: not the main thread)."""
        stop = cls(asyncio.current_task())
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, stop._first)
            added = True
        except (NotImplementedError, RuntimeError, ValueError):
            added = False
        try:
            yield stop
        finally:
            if added and not stop.fired.is_set():
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(signal.SIGINT)
                    signal.signal(signal.SIGINT, signal.default_int_handler)


__all__ = ["Interrupt"]
