"""Drive every tab, panel, command and modal of the app, the way the palette and the keys can reach them.

The UI-wide tests (read-only: no mutating call reaches the sandbox; hostile text: nothing raw reaches the
terminal) use this one walk, so a new tab, panel or command is covered as soon as it is in the command
registry (``opstui/commands.py``) or in a view's bindings: nobody has to remember to add it to a test.

Commands are run through ``app.run_action`` with the registry's action string: that is the palette's path,
which does not consult ``check_action``, so a greyed-out action must refuse by itself. Tabs with panels are
walked once per panel. After each step, whatever modal opened is handled by ``on_modal`` and then closed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from textual.screen import Screen

from opstui import commands as registry
from opstui.app import OpsApp

TAB_COMMANDS: dict[str, tuple[registry.AppCommand, ...]] = registry.TAB_COMMANDS
#: Each UI-wide walk is split in two test files, so two xdist workers share it (one walk of every tab takes a
#: minute or more): these tabs, then every other tab -- a new tab lands in the second half by itself.
FIRST_HALF: tuple[str, ...] = ("overview", "fleet", "shells", "run", "inventory", "monitoring")
SECOND_HALF: tuple[str, ...] = tuple(t for t in TAB_COMMANDS if t not in FIRST_HALF)
#: view bindings that go one level in: run first in each panel, so the commands also meet what is inside
OPENERS = ("open", "open_history", "panel_action('open')")


def panel_names(app: OpsApp, tab: str) -> tuple[str, ...]:
    """The panels of a tab, from the tab itself (each panel is walked with every command of its tab): a new
    tab or panel is walked as soon as it exists."""
    return tuple(cls.NAME for cls in getattr(type(app.tab(tab)), "PANELS", ()))

ModalHandler = Callable[[OpsApp, Any, Screen], Awaitable[None]]


def action_name(cmd: registry.AppCommand) -> str:
    return cmd.action


@dataclass
class Walk:
    """What the walk did: actions run, modals met (by class name), errors raised by an action."""

    actions: list[str] = field(default_factory=list)
    modals: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def settle(pilot: Any, delay: float = 0.03) -> None:
    """Let the app process what the step posted (not Pilot.pause(): its wait for an idle CPU waits up to a
    second whenever the AWS thread is parsing, and the walk does not assert on each step anyway)."""
    await pilot.pause(delay)


async def close_modals(app: OpsApp, pilot: Any, on_modal: ModalHandler, walk: Walk) -> None:
    """Hand each modal to ``on_modal`` (it may answer it), then make sure none is left open."""
    for _ in range(4):
        if len(app.screen_stack) <= 1:
            return
        screen = app.screen
        walk.modals.append(type(screen).__name__)
        await on_modal(app, pilot, screen)
        await settle(pilot)
        if app.screen is screen and len(app.screen_stack) > 1:
            await pilot.press("escape")
            await settle(pilot)
    while len(app.screen_stack) > 1:
        app.pop_screen()
        await settle(pilot)


async def run(app: OpsApp, pilot: Any, action: str, on_modal: ModalHandler, walk: Walk, target: Any = None) -> None:
    walk.actions.append(action)
    import os
    import time
    t0 = time.monotonic()
    try:
        await (target or app).run_action(action)
    except Exception as exc:  # noqa: BLE001 - the walk reports every failure, it does not stop at the first
        walk.errors.append(f"{action}: {type(exc).__name__}: {exc}")
    await settle(pilot)
    await close_modals(app, pilot, on_modal, walk)
    if os.environ.get("SWEEP_DEBUG"):
        print(f"{time.monotonic() - t0:.2f} {action}", flush=True)


async def walk_app(app: OpsApp, pilot: Any, on_modal: ModalHandler, *, tabs: tuple[str, ...] | None = None,
                   global_commands: bool = True) -> Walk:
    """Every tab (in registry order; or only ``tabs``), every panel, every registry command and every view
    binding; then the global commands unless told not to."""
    walk = Walk()
    for tab, cmds in TAB_COMMANDS.items():
        if tabs is not None and tab not in tabs:
            continue
        app.show_tab(tab)
        await settle(pilot, 0.3)
        view = app.tab(tab)
        registry_actions = {action_name(c) for c in cmds}
        local = [b.action for b in view.BINDINGS
                 if b.action not in registry_actions and not b.action.startswith(tuple(registry_actions))]
        panel_cmds = [c for c in cmds if action_name(c) in panel_names(app, tab)] or [None]
        others = [c for c in cmds if c.action and c not in panel_cmds]  # run where they live, via the app
        done: set[str] = set()
        openers = [a for a in local if a in OPENERS]
        closers = [a for a in local if a not in OPENERS]
        for panel in panel_cmds:
            if panel is not None:
                await run(app, pilot, panel.app_action, on_modal, walk)
                await settle(pilot, 0.25)  # its first load
            for action in openers:  # one level in (a job's detail, a vault's points, a bucket's objects) first
                await run(app, pilot, action, on_modal, walk, target=view)
                await settle(pilot, 0.15)
            for cmd in others:
                # in a panel, the commands of that panel (check_action not False: shown, greyed or not)
                if panel is not None and view.check_action(action_name(cmd), ()) is False:
                    continue
                done.add(cmd.action)
                await run(app, pilot, cmd.app_action, on_modal, walk)
                app.show_tab(tab)  # a command may have jumped elsewhere (the Fleet's c, the Overview's enter)
            for action in closers:
                await run(app, pilot, action, on_modal, walk, target=view)
        for cmd in others:  # hidden in every panel, yet the palette offers it: it must cope
            if cmd.action not in done:
                await run(app, pilot, cmd.app_action, on_modal, walk)
                app.show_tab(tab)
    for cmd in registry.GLOBAL_COMMANDS if global_commands else ():
        if cmd.id != "quit" and not cmd.id.startswith("tab-"):
            await run(app, pilot, cmd.action, on_modal, walk)
    return walk
