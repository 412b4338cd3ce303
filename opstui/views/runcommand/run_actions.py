"""What the run panel's keys do with the run it shows: diff, full output, cancel, re-run failed, export.

Functions of the panel and its run (the panel's actions check and refuse, then call these), kept apart so
the panel's module stays about following the run. Cancel and re-run change something in AWS: their registry
commands are ``mutating`` and the panel's actions refuse in read-only mode before getting here.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual.content import Content

from opstui.aws.errors import OpsError
from opstui.private_files import write_private
from opstui.runs.grouping import diff_groups
from opstui.runs.targets import TargetError, plan_for_nodes
from opstui.safe import clean
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.runcommand.active import ActiveRun, RunStarted, request_from_summary, same_group
from opstui.views.runcommand.fields import RunForm
from opstui.views.runcommand.send import confirm_and_send

if TYPE_CHECKING:
    from opstui.views.runcommand.run import RunPanel


def key_under_cursor(panel: RunPanel) -> str | None:
    """The node whose output `f` fetches: the one under the cursor, or the first of the group under it."""
    if panel.grouped:
        group = panel.groups_table.cursor_row
        return group.members[0].key if group is not None and group.members else None
    state = panel.nodes_table.cursor_row
    return state.key if state is not None else None


async def show_diff(panel: RunPanel, run: ActiveRun) -> None:
    """`d`: the group under the cursor against the largest one, in the output pane."""
    group = panel.groups_table.cursor_row
    if not run.groups or group is None:
        panel.app.notify("No groups yet: nodes appear here as they finish.", markup=False)
        return
    base = run.groups[0]
    if group is base or same_group(group, base):
        panel.app.notify("This is the largest group: move to another group to diff it against this one.",
                         markup=False)
        return
    lines = await asyncio.to_thread(diff_groups, base, group)
    panel.output.show_diff(lines)
    panel.output.border_title = Content(f"diff: {clean(base.label, 50)} ({base.size}) → "
                                        f"{clean(group.label, 50)} ({group.size}) · move the cursor to see "
                                        "the output again")


async def full_output(panel: RunPanel, run: ActiveRun) -> None:
    """`f`: GetObject of the node's whole output from the run's S3 bucket (the service truncates at 24,000)."""
    key = key_under_cursor(panel)
    if key is None:
        return
    state = run.states.get(key)
    if state is None or not state.truncated:
        panel.app.notify("This output is complete: nothing more to fetch.", markup=False)
        return

    async def fetch() -> tuple[str, str]:
        await run.tracker.full_output(key)
        return run.tracker.output(key)

    try:
        stdout, stderr = await panel.ctx.run(fetch())
    except OpsError as err:
        panel.app.notify(f"Full output: {clean(err, 300)}", severity="error", markup=False)
        return
    if panel.run is run:
        panel.output.show(stdout, stderr)
        panel.app.notify(f"Full output of {clean(state.name, 60)}: {len(stdout):,} characters.", markup=False)


async def cancel(panel: RunPanel, run: ActiveRun) -> None:
    """`x`: CancelCommand on the nodes that have not finished, once confirmed."""
    if run.finished:
        panel.app.notify("This run has finished: nothing to cancel.", markup=False)
        return
    p = run.progress
    pending = (p.total - p.done) if p else len(run.states)
    question = f"Cancel {run.tracker.document} on the {pending} node(s) that have not finished?"
    if not await panel.app.push_screen_wait(ConfirmScreen(question, yes="Cancel run")):
        return

    async def cancel_all() -> list[str]:
        return await run.tracker.cancel()

    try:
        ids = await panel.ctx.run(cancel_all())
    except OpsError as err:
        panel.app.notify(f"Cancel failed: {clean(err, 300)}", severity="error", markup=False)
        return
    panel.app.notify(f"Cancel requested for {', '.join(ids) or 'nothing (already finished)'}", markup=False)


async def rerun_failed(panel: RunPanel, run: ActiveRun) -> None:
    """`R`: the run's request on its failed nodes (those still in the loaded fleet), blast radius again."""

    async def failed() -> list[str]:
        return run.tracker.failed_keys()

    keys = await panel.ctx.run(failed())
    if not keys:
        panel.app.notify("No failed nodes in this run." + ("" if run.finished else " (still running)"),
                         markup=False)
        return
    by_key = panel.ctx.fleet.by_key()
    nodes = [by_key[k] for k in keys if k in by_key]
    missing = len(keys) - len(nodes)
    if missing:
        panel.app.notify(f"{missing} failed node(s) are not in the loaded fleet and are left out.",
                         severity="warning", markup=False)
    request = run.request or request_from_summary(run.tracker.commands[0])
    try:
        plan = plan_for_nodes(nodes)
    except TargetError as err:
        panel.app.notify(str(err), severity="warning", markup=False)
        return
    rerun = await confirm_and_send(panel, panel.tab.query_one(RunForm), plan, request)
    if rerun is not None:
        panel.post_message(RunStarted(rerun))


async def export(panel: RunPanel, run: ActiveRun) -> None:
    """`e`: the run as JSON and as plain text into the export directory, readable by the user only."""

    async def texts() -> tuple[str, str]:
        return run.tracker.export_json(), run.tracker.export_text()

    as_json, as_text = await panel.ctx.run(texts())
    first = run.tracker.commands[0].command_id if run.tracker.commands else "run"
    document = re.sub(r"[^A-Za-z0-9._-]+", "_", run.tracker.document or "run")[:60]
    stem = f"{datetime.now():%Y%m%d-%H%M%S}-{document}-{first[:8]}"
    directory = panel.export_dir

    def write() -> tuple[Path, Path]:  # private: node output can hold secrets
        json_path, text_path = directory / f"{stem}.json", directory / f"{stem}.txt"
        write_private(json_path, as_json)
        write_private(text_path, as_text)
        return json_path, text_path

    try:
        json_path, text_path = await asyncio.to_thread(write)
    except OSError as err:
        panel.app.notify(f"Export failed: {clean(err, 300)}", severity="error", markup=False)
        return
    panel.last_export = (json_path, text_path)
    panel.app.notify(f"Exported to {json_path} and {text_path.name}", title="Run exported", markup=False,
                     timeout=10)
