"""Untrusted text never reaches the user's terminal raw, on any screen, and is never read as markup.

One walk through every tab, panel, command, modal, form and toast (``tests/sweep.py``) against the hostile
scenario, whose names, tags, alarms, topics, files, inventory entries and command output carry escape
sequences, control characters, bidi overrides and Rich/Textual markup. Every frame the app sends to the
terminal is checked where the terminal would get it (``App._display``, the compositor's update):

* no segment text holds a control character other than newline and tab: no ESC, no C1, no bidi override;
* no segment is a hyperlink (an untrusted ``[link=…]`` interpreted would be an OSC 8 link);
* the terminal byte stream built from the update holds no escape sequence but Textual's own CSI ones;
* each markup probe (``[red]MARKUP-RED[/red]`` …) is shown with its tags: a probe word on screen without its
  tag beside it means the markup was interpreted.

A new screen is covered without anyone adding it here: it only has to be reachable from the command registry
or a view's bindings. The exports the walk writes and the command line's output to a terminal are held to
the same rule.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from opstui.views import runcommand
from opstui.views.runcommand.confirm import ConfirmRunScreen
from tests.helpers import loaded, make_app, wait_for
from tests.hostile_watch import (
    BAD,
    HOSTILE_OUTPUT,
    TEXTUAL_ESCAPES,
    TerminalWatch,
    decline,
    own_hostile_sandbox,
)
from tests.sandbox_control import SandboxControl
from tests.sweep import FIRST_HALF, walk_app


@pytest.fixture(scope="module")
def hostile() -> Iterator[SandboxControl]:
    with own_hostile_sandbox() as control:
        yield control


@pytest.mark.timeout(240)
async def test_no_screen_of_the_first_tabs_lets_hostile_text_reach_the_terminal_raw(hostile, tmp_path, monkeypatch):
    """The Overview to Monitoring, the global commands and the palette (the other tabs:
    test_hostile_sweep_rest.py, on another worker)."""
    monkeypatch.setattr(runcommand, "POLL_INTERVAL", 0.2)
    app = make_app(hostile)
    watch = TerminalWatch(app)
    async with app.run_test(size=(200, 50)) as pilot:
        fleet = await loaded(pilot, app)
        app.run_view.export_dir = tmp_path / "runs"
        app.inventory_view.export_dir = tmp_path / "exports"
        # a command whose output attacks the terminal (the output pane, groups, diff, export), its target
        # pasted as a node's name with its raw escape sequences (the hybrid node's: the run's title)
        hybrid = next(n for n in fleet.table.rows if n.instance_id.startswith("mi-"))
        app.show_tab("run")
        view = app.run_view
        await wait_for(pilot, lambda: view.form.commands_area() is not None)
        view.form.commands_area().text = HOSTILE_OUTPUT
        view.form.query_one("#rc-target").value = hybrid.name
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRunScreen))
        await pilot.press(*app.screen.radius.confirmation_word, "enter")
        await wait_for(pilot, lambda: view.run is not None and view.run.finished, timeout=30)
        # a shell on the node whose name carries raw escapes (its tab label and status line)
        app.open_shells([hybrid])
        await wait_for(pilot, lambda: app.shells_view.active is not None)
        # someone else's command, newest in the history, with raw escapes in its text: the walk reopens it
        ssm = boto3.client("ssm", region_name=hostile.regions[0], endpoint_url=hostile.endpoint,
                           **hostile.boto_kwargs())
        ssm.send_command(InstanceIds=[hybrid.instance_id], DocumentName="AWS-RunShellScript",
                         Comment="\x1b]0;pwned\x07 [b]MARKUP-BOLD[/b]",
                         Parameters={"commands": ["echo '\x1b]0;pwned\x07\x1b[2J' [red]MARKUP-RED[/red]"]})
        # and a filter typed with markup: shown as typed
        app.show_tab("fleet")
        await pilot.press("slash", *"[b]MARKUP-BOLD[/b]", "enter")
        walk = await walk_app(app, pilot, decline, tabs=FIRST_HALF)
        # a deep place the walk's quick steps do not wait for: someone else's command reopened from the
        # history (its text is the run's title)
        await app.run_action("command('run-history')")
        history = view.history.commands_table
        await wait_for(pilot, lambda: any("pwned" in " ".join(c.parameters.get("commands", ()))
                                          for c in history.rows))
        history.move_cursor(next(i for i, c in enumerate(history.visible_rows())
                                 if "pwned" in " ".join(c.parameters.get("commands", ()))))
        await view.run_action("open_history")
        await wait_for(pilot, lambda: view.run is not None and "pwned" in view.run.title)
        await pilot.pause(0.3)
        # the palette lists every node by name
        await pilot.press("ctrl+p")
        await pilot.press(*"Shell")
        await pilot.pause(0.5)
        await pilot.press("escape")
        await pilot.pause()
    app.close_aws()
    assert not walk.errors, walk.errors
    assert watch.frames > 200
    assert watch.violations == [], "\n".join(watch.violations)
    # the probes did reach the screen (as text): the check above had something to look at
    assert {"MARKUP-RED", "MARKUP-BOLD"} <= watch.probes_seen, watch.probes_seen
    # the exports the walk wrote are as safe as the screen (JSON escapes control characters itself)
    exports = [p for p in (tmp_path / "runs").glob("*") if p.suffix in (".txt", ".json")]
    exports += list((tmp_path / "exports").glob("*.csv"))
    assert any(p.suffix == ".txt" for p in exports), exports
    for path in exports:
        text = path.read_text(encoding="utf-8")
        assert not BAD.search(text.replace("\r\n", "\n")), (path.name, BAD.search(text))
        if path.suffix == ".json":
            json.loads(text)


def test_opstui_run_to_a_terminal_shows_hostile_output_and_names_literally(hostile):
    """`opstui run` on a terminal: every control character of the nodes' output and names made visible."""
    pid, fd = pty.fork()
    if pid == 0:
        env = {**os.environ, **hostile.env(), "OPSTUI_CONFIG": os.devnull, "TERM": "xterm"}
        os.execve(sys.executable, [sys.executable, "-m", "opstui", "run", "--endpoint-url", hostile.endpoint,
                                   "--region", hostile.regions[0], "--targets", "tag:Role=web", "--yes",
                                   "--max-errors", "100%", "--timeout", "30", "--", HOSTILE_OUTPUT], env)
    out = bytearray()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace")
    assert os.WEXITSTATUS(status) in (0, 1), text
    assert "MARKUP-RED" in text and "pwned" in text  # the output is there, made visible
    # the CLI's own progress line redraws with \r and CSI erase; nothing else may be there
    visible = TEXTUAL_ESCAPES.sub("", text).replace("\r", "")
    assert "\x1b" not in visible and not BAD.search(visible), repr(visible[:400])


def test_opstui_shell_errors_name_hostile_targets_literally(hostile):
    env = {**os.environ, **hostile.env(), "OPSTUI_CONFIG": os.devnull}
    done = subprocess.run([sys.executable, "-m", "opstui", "shell", "--endpoint-url", hostile.endpoint,
                           "--region", hostile.regions[0], "\x1b]0;pwned\x07[red]MARKUP-RED[/red]"],
                          capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    assert "\x1b" not in done.stderr and not BAD.search(done.stderr.replace("\n", "")), repr(done.stderr)
    assert "[red]MARKUP-RED[/red]" in done.stderr
