"""How a tab's code runs AWS work: :func:`aws_work` for loaders, :func:`action_work` for everything else.

Both are Textual workers that never take the app down, and both send an unexpected exception (a bug, not an
AWS error: those are ``OpsError`` lines) to :meth:`TabView.worker_failed`, the one place such failures are
shown (a notification and the status line, as literal text) while the refresh goes on. ``Worker.StateChanged``
does not bubble, so the failure is caught inside the worker instead of being listened for.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.worker import Worker

from opstui.aws.errors import OpsError
from opstui.views.common.context import Stale

if TYPE_CHECKING:
    from opstui.views.common.panel import Panel
    from opstui.views.common.tab import TabView


def aws_work(method: Callable[..., Awaitable[None]]) -> Callable[..., Worker[None]]:
    """Run a panel's (or a tab's) async loader as an exclusive worker with the shared bookkeeping.

    Inside, ``await self.fresh(coro)`` runs an aws-layer coroutine on the AWS loop and raises ``Stale`` if
    the profile or regions changed meanwhile; the loader then simply stops, nothing of the old context is
    shown. When the loader returns, ``loads`` counts it and ``loaded`` is set; the tab's header and status
    line are redrawn and its refresh re-armed, also after an error.
    """

    group = method.__name__.lstrip("_")

    @functools.wraps(method)
    def launcher(self: Any, *args: Any) -> Worker[None]:
        generation = self.ctx.generation

        async def body() -> None:
            self.busy = True
            tab: TabView = self.tab  # a TabView's ``tab`` is itself
            tab.render_header()
            ok = False
            try:
                await method(self, *args)
                ok = True
            except Stale:
                return
            except OpsError as err:  # an expected failure: the status line says what and where
                if generation == self.ctx.generation:
                    self.errors = [str(err)]
            except Exception as exc:  # noqa: BLE001 - a bug: shown, and the refresh goes on
                if generation == self.ctx.generation:
                    tab.worker_failed(self, exc)
            finally:
                self.busy = False
                if generation == self.ctx.generation:
                    if ok:
                        self.loads += 1
                        self.loaded = True
                    tab.render_header()
                    tab.render_status()
                    tab.schedule()

        return self.run_worker(body, group=f"{getattr(self, 'NAME', '') or 'tab'}-{group}", exclusive=True,
                               exit_on_error=False)

    return launcher


def action_work(group: str, *, exclusive: bool = True, what: str = "") -> Callable[[Callable[..., Awaitable[None]]], Any]:
    """``@work(group=..., exclusive=..., exit_on_error=False)`` for an async action that is not a load (send,
    cancel, export, a detail fetch, a change): a result of the previous profile or regions (``Stale``) is
    dropped quietly, and an unexpected exception is shown by the tab ("<tab>: <what> failed unexpectedly")
    instead of vanishing into the log. ``OpsError`` s are the action's own to show (they say what failed where).
    """

    def decorate(method: Callable[..., Awaitable[None]]) -> Any:
        @functools.wraps(method)
        async def reported(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                await method(self, *args, **kwargs)
            except Stale:
                return
            except Exception as exc:  # noqa: BLE001 - a bug: shown, the tab goes on
                self.tab.worker_failed(self, exc, doing=what or method.__name__.strip("_").replace("_", " "))

        return work(reported, group=group, exclusive=exclusive, exit_on_error=False)

    return decorate


async def fresh_call(owner: Panel | TabView, coro: Awaitable[Any], generation: int) -> Any:
    return await owner.ctx.fresh(coro, generation)
