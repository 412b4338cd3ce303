"""Keys: every tab is one key away from anywhere, a modal owns the keyboard, and the user's keymap works."""

from __future__ import annotations

from textual.widgets import Input

from opstui.views.common.confirm import ConfirmScreen
from tests.helpers import loaded, make_app, wait_for


def _active(app) -> str:
    return app.query_one("#tabs").active


async def test_f_keys_switch_tabs_from_a_text_field_without_typing_into_it(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(170, 44)) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"web")
        box = app.query_one("#fleet-filter", Input)
        assert box.has_focus and box.value == "web"
        for key, tab in [("f5", "inventory"), ("f1", "overview"), ("f7", "backup"), ("f4", "run"),
                         ("f6", "monitoring"), ("f8", "logs"), ("f3", "shells"), ("f2", "fleet")]:
            await pilot.press(key)
            try:
                await wait_for(pilot, lambda tab=tab: _active(app) == tab, timeout=5)
            except AssertionError:
                raise AssertionError(f"{key} left the app on {_active(app)}, focus {app.focused!r}") from None
        assert box.value == "web"  # nothing the user typed is lost, and no key was typed into it
    app.close_aws()


async def test_a_modal_owns_the_keyboard_no_palette_and_no_tab_switch(sandbox):
    """Issue: ctrl+p → "Tab: Fleet" under a Run confirmation switched tabs, and the Fleet's enter then
    answered the dialog. While a modal is open only the modal takes keys."""
    app = make_app(sandbox)
    answers: list[bool | None] = []
    async with app.run_test(size=(170, 44)) as pilot:
        await loaded(pilot, app)
        await pilot.press("f4")
        await wait_for(pilot, lambda: _active(app) == "run")
        app.push_screen(ConfirmScreen("Run it?", danger=True), answers.append)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        for key in ("f2", "ctrl+p", "colon", "question_mark", "r", "f1"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmScreen), f"{key} took the keyboard from the modal"
            assert _active(app) == "run", f"{key} switched tabs under the modal"
        assert answers == []  # nothing answered it
        await pilot.press("n")
        await wait_for(pilot, lambda: answers == [False])
        await pilot.press("f2")  # and the keys work again once it is answered
        await wait_for(pilot, lambda: _active(app) == "fleet")
    app.close_aws()


async def test_the_users_keymap_moves_a_command_to_another_key(sandbox):
    app = make_app(sandbox, keymap=(("tab-backup", "f9"),))
    async with app.run_test(size=(170, 44)) as pilot:
        await loaded(pilot, app)
        await pilot.press("f9")
        await wait_for(pilot, lambda: _active(app) == "backup")
        await pilot.press("f7")  # the old key no longer does it
        await pilot.pause(0.2)
        assert _active(app) == "backup"
    app.close_aws()


async def test_an_unknown_keymap_entry_is_named_not_ignored(sandbox):
    app = make_app(sandbox, keymap=(("no-such-command", "f9"),))
    notes: list[str] = []
    async with app.run_test(size=(170, 44)) as pilot:
        original = app.notify

        def record(message, *args, **kwargs):
            notes.append(str(message))
            return original(message, *args, **kwargs)

        app.notify = record  # type: ignore[method-assign]  # the notification is sent in on_mount: see below
        await loaded(pilot, app)
    app.close_aws()
    # on_mount ran before the recorder could be set: read what the app's notifications hold instead
    shown = [str(n.message) for n in app._notifications] + notes
    assert any("keymap: unknown command id(s) no-such-command" in n for n in shown)


def test_no_two_commands_active_together_share_a_key():
    """Global keys, a tab's tab-wide keys and one panel's keys are live at the same time: no key may mean two
    things (the nearer binding would silently win). The log viewer's own keys (scrolling) come first too."""
    from opstui.commands import GLOBAL_COMMANDS, TAB_COMMANDS, commands_of
    from opstui.views.logs.viewer import LogViewer

    clashes = []
    for tab, commands in TAB_COMMANDS.items():
        for panel in {c.panel for c in commands} | {""}:
            seen = {c.key: c.id for c in GLOBAL_COMMANDS if c.key}
            for c in commands:
                if c.key and c.panel in ("", panel):
                    if c.key in seen:
                        clashes.append((tab, panel, c.key, seen[c.key], c.id))
                    seen[c.key] = c.id
    assert clashes == []
    viewer_keys = {k.strip() for b in LogViewer.BINDINGS for k in b.key.split(",")}
    assert [c.id for c in commands_of("logs", "viewer") if c.key in viewer_keys] == []
    wanted = {"logs-search": "F", "logs-search-next": "n", "logs-search-prev": "N", "logs-wrap": "w",
              "logs-event": "J"}
    assert {c.id: c.key for c in commands_of("logs", "viewer") if c.id in wanted} == wanted
