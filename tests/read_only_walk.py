"""The read-only walk (tests/views/test_read_only_sweep*.py): a read-only app walked over some tabs, every
question answered yes and every form submitted, then the sandbox's count of the calls it served."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from opstui.app import OpsApp
from opstui.aws.clients import is_read_operation
from tests.helpers import loaded, make_app
from tests.sweep import walk_app


async def confirm_everything(app: OpsApp, pilot: Any, screen: Screen) -> None:
    """Yes to every question, submit every form: the worst a user can do."""
    keys = {b.key for b in screen.BINDINGS if hasattr(b, "key")}
    if "y" in keys:
        await pilot.press("y")
    elif any("ctrl+s" in k for k in keys):
        await pilot.press("ctrl+s")
    elif screen.query("#confirm-run"):
        await pilot.click("#confirm-run")


def mutating(calls: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in calls.items() if not is_read_operation(k.split(":", 1)[1])}


async def walk_read_only(sandbox: Any, tabs: tuple[str, ...], *, extras: bool) -> None:
    """The walk over ``tabs`` in a read-only app; ``extras``: also the global commands and the palette's own
    entries beyond the registry (a shell, a region switch and back)."""
    sandbox.clear_calls()
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        fleet = await loaded(pilot, app)
        fleet.table.select_visible()  # the Fleet selection is what backup-now, shells and run take
        walk = await walk_app(app, pilot, confirm_everything, tabs=tabs, global_commands=extras)
        if extras:
            await app.run_action("command('fleet-shell')")
            app.switch(regions=(sandbox.regions[0],))
            await loaded(pilot, app, count=1)
            app.switch(regions=tuple(sandbox.regions))
            await loaded(pilot, app, count=1)
    calls = sandbox.calls()
    assert mutating(calls) == {}, mutating(calls)
    assert len(walk.actions) > 40 and not walk.errors, walk.errors
    assert sum(calls.values()) > 40  # the walk did load every tab and panel it visited
    app.close_aws()
