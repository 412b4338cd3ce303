"""Workers of the Run Command tab that are not loads: sending, cancelling, exporting, following a node's output.

``aws_work`` (views/common/tab.py) is for loaders: busy mark, counter, generation check, refresh. An action
needs none of that, but it needs the same failure path: Textual's ``@work(exit_on_error=False)`` only logs
an unexpected exception, so a bug in "send" or "export" would look like a key that does nothing. Here it
reaches :meth:`TabView.worker_failed` (a notification and the status line), as a loader's would, and a
result of the previous profile or regions (``Stale``, from ``ctx.fresh``) is dropped quietly.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from textual import work

from opstui.views.common.context import Stale


def action_work(group: str, *, exclusive: bool = True) -> Callable[[Callable[..., Awaitable[None]]], Any]:
    """``@work(group=..., exclusive=..., exit_on_error=False)`` for a panel's async action, whose unexpected
    exception is shown by the tab instead of vanishing into the log."""

    def decorate(method: Callable[..., Awaitable[None]]) -> Any:
        @functools.wraps(method)
        async def reported(self: Any, *args: Any) -> None:
            try:
                await method(self, *args)
            except Stale:  # the profile or regions changed meanwhile: nothing of the old context is shown
                return
            except Exception as exc:  # noqa: BLE001 - a bug: shown, the tab goes on
                self.tab.worker_failed(self, exc)

        return work(reported, group=group, exclusive=exclusive, exit_on_error=False)

    return decorate
