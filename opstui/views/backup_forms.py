"""The Backup tab's forms: create a plan (the seed's flow, one form), upload a file, download an object.

Each form checks its input before anything is sent and shows a message under the field that needs fixing;
the form stays open with everything typed. The values live in a dict the view owns, so a form closed with
esc and opened again shows what was typed. The plan form sends itself (a worker on the modal): when AWS
refuses (a missing vault, a duplicate name, read-only), the reason appears in the form, and nothing is lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from opstui.aws.backup import EC2_ALL, check_plan_form, schedule_words
from opstui.aws.backup_models import BackupPlan, PlanSpec
from opstui.aws.errors import OpsError
from opstui.aws.s3 import download_path_problem, key_problem, upload_path_problem
from opstui.safe import clean
from opstui.views.common.safe_input import SafeInput

DOWNLOAD_DIR = Path.home() / "opstui-downloads"

FORM_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 92; max-width: 95%; height: auto; max-height: 95%; border: thick $accent;
    background: $surface; padding: 0 1; }}
{name} .bf-label {{ text-style: bold; padding: 1 0 0 0; }}
{name} .bf-help {{ color: $text-muted; }}
{name} .bf-problem {{ color: $error; text-style: bold; height: auto; }}
{name} Input, {name} Select {{ width: 100%; }}
{name} #bf-error {{ color: $error; text-style: bold; height: auto; padding: 1 0 0 0; }}
{name} #bf-readonly {{ display: none; background: $warning; color: $background; padding: 0 1; margin: 1 0 0 0; }}
{name}.-read-only #bf-readonly {{ display: block; }}
{name} #bf-buttons {{ height: auto; align-horizontal: right; padding: 1 0 0 0; }}
{name} Button {{ margin-left: 2; }}
"""


class PlanFormScreen(ModalScreen[BackupPlan | None]):
    """Name, daily time (UTC), keep N days, copy to region, resource type EC2: one CreateBackupPlan and one
    CreateBackupSelection. ctrl+s (or the button) checks and sends; esc closes, keeping what was typed."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("ctrl+s", "create", "Create")]
    DEFAULT_CSS = FORM_CSS.format(name="PlanFormScreen")
    FIELDS = ("name", "time", "keep", "copy")

    def __init__(self, values: dict[str, str], regions: list[str], existing: dict[str, list[str]],
                 create: Callable[[PlanSpec], Awaitable[BackupPlan]], read_only: bool) -> None:
        super().__init__()
        self.values = values
        self.regions = regions
        self.existing = existing
        self.create = create
        self.read_only = read_only
        self.sending = False
        self.problems: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        v = self.values
        with Vertical() as box:
            box.border_title = "New backup plan (the seed's flow: daily, keep N days, copy, all EC2)"
            yield Static("READ-ONLY: creating a plan is disabled (opstui was started with --read-only).",
                         id="bf-readonly")
            yield Label("Region of the plan", classes="bf-label")
            yield Select([(r, r) for r in self.regions], allow_blank=False, value=v.get("region") or self.regions[0],
                         id="pf-region")
            yield Label("Plan name", classes="bf-label")
            yield SafeInput(v.get("name", ""), placeholder="e.g. daily-ec2 (letters, digits, - _ .)", id="pf-name")
            yield Static("", classes="bf-problem", id="pf-name-problem")
            yield Label("Daily at (UTC, HH:MM)", classes="bf-label")
            yield SafeInput(v.get("time", "05:00"), placeholder="05:00", id="pf-time")
            yield Static("", classes="bf-help", id="pf-time-words")
            yield Static("", classes="bf-problem", id="pf-time-problem")
            yield Label("Keep recovery points for (days)", classes="bf-label")
            yield SafeInput(v.get("keep", "35"), placeholder="35", id="pf-keep")
            yield Static("", classes="bf-problem", id="pf-keep-problem")
            yield Label("Copy to region (vault Default there; empty: no copy)", classes="bf-label")
            yield SafeInput(v.get("copy", ""), placeholder="e.g. ap-northeast-3", id="pf-copy")
            yield Static("", classes="bf-problem", id="pf-copy-problem")
            yield Label("Resources", classes="bf-label")
            yield Static(Content(f"resource type EC2: every EC2 instance of the region ({EC2_ALL}), role "
                                 "AWSBackupDefaultServiceRole; start within 1 hour, complete within 3 hours, "
                                 "into vault Default"), classes="bf-help")
            yield Static("", id="bf-error")
            with Horizontal(id="bf-buttons"):
                yield Button("Cancel (esc)", id="pf-cancel")
                yield Button("Create plan (ctrl+s)", variant="primary", id="pf-create")

    def on_mount(self) -> None:
        if self.read_only:
            self.add_class("-read-only")
            self.query_one("#pf-create", Button).disabled = True
        self._time_words()
        self.query_one("#pf-name", Input).focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        field = (event.input.id or "").removeprefix("pf-")
        if field in self.FIELDS:
            self.values[field] = event.value
            if field in self.problems:  # the message goes once the field is edited
                self.problems.pop(field)
                self.query_one(f"#pf-{field}-problem", Static).update("")
        if field == "time":
            self._time_words()

    @on(Select.Changed, "#pf-region")
    def _region(self, event: Select.Changed) -> None:
        self.values["region"] = str(event.value)

    def _time_words(self) -> None:
        _, problems = check_plan_form("x", self.values.get("time", "05:00"), "1", "", "EC2", region="r")
        words = ""
        if "time" not in problems:
            hh, mm = self.values.get("time", "05:00").strip().split(":")
            words = schedule_words(f"cron({int(mm)} {int(hh)} ? * * *)", "Etc/UTC")
        self.query_one("#pf-time-words", Static).update(Content(words))

    @on(Input.Submitted)
    @on(Button.Pressed, "#pf-create")
    def _submit(self) -> None:
        self.action_create()

    @on(Button.Pressed, "#pf-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    def check(self) -> PlanSpec | None:
        """Check every field; show a message under each one that needs fixing."""
        region = self.values.get("region") or self.regions[0]
        spec, problems = check_plan_form(
            self.values.get("name", ""), self.values.get("time", "05:00"), self.values.get("keep", "35"),
            self.values.get("copy", ""), "EC2", region=region, existing_names=self.existing.get(region, []))
        self.problems = problems
        for field in self.FIELDS:
            self.query_one(f"#pf-{field}-problem", Static).update(
                Content("⚠ " + problems[field]) if field in problems else "")
        if problems:
            first = next(f for f in self.FIELDS if f in problems)
            self.query_one(f"#pf-{first}", Input).focus()
        return spec

    def action_create(self) -> None:
        if self.read_only:
            self.query_one("#bf-error", Static).update(
                Content("read-only mode: CreateBackupPlan is not sent (restart opstui without --read-only)"))
            return
        if self.sending:
            return
        spec = self.check()
        if spec is None:
            self.query_one("#bf-error", Static).update(Content("Fix the fields marked ⚠; nothing was sent."))
            return
        self.query_one("#bf-error", Static).update(Content(f"Creating {spec.name} in {spec.region}…"))
        self._send(spec)

    @work(exclusive=True, group="plan-create", exit_on_error=False)
    async def _send(self, spec: PlanSpec) -> None:
        self.sending = True
        self.query_one("#pf-create", Button).disabled = True
        try:
            plan = await self.create(spec)
        except OpsError as err:
            self.query_one("#bf-error", Static).update(Content("⚠ " + clean(str(err), 600)))
            return
        except Exception as exc:  # anything else: said in the form, which stays open
            self.query_one("#bf-error", Static).update(Content(f"⚠ {type(exc).__name__}: {clean(str(exc), 400)}"))
            return
        finally:
            self.sending = False
            if self.is_attached:
                self.query_one("#pf-create", Button).disabled = self.read_only
        self.dismiss(plan)


class UploadScreen(ModalScreen[tuple[Path, str] | None]):
    """A local file and the key to put it under (bucket and prefix of the S3 panel)."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("ctrl+s", "submit", "Upload")]
    DEFAULT_CSS = FORM_CSS.format(name="UploadScreen")

    def __init__(self, values: dict[str, str], bucket: str, prefix: str) -> None:
        super().__init__()
        self.values = values
        self.bucket = bucket
        self.prefix = prefix
        self._key_touched = bool(values.get("key")) and values.get("key_prefix") == prefix
        self._auto_key = prefix  # what the form itself put in the key field (not a user edit)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = Content(f"Upload to s3://{clean(self.bucket, 60)}/{clean(self.prefix, 100)}")
            yield Label("Local file", classes="bf-label")
            yield SafeInput(self.values.get("path", ""), placeholder="/path/to/file (~ works)", id="up-path")
            yield Static("", classes="bf-problem", id="up-path-problem")
            yield Label("Object key", classes="bf-label")
            yield SafeInput(self.values.get("key", "") if self._key_touched else self.prefix, id="up-key")
            yield Static("", classes="bf-problem", id="up-key-problem")
            yield Static(Content("Files above 8 MB go as a multipart upload, 8 MB parts, 4 at a time; a versioned "
                                 "bucket keeps the earlier versions."), classes="bf-help")
            with Horizontal(id="bf-buttons"):
                yield Button("Cancel (esc)", id="up-cancel")
                yield Button("Upload (ctrl+s)", variant="primary", id="up-go")

    def on_mount(self) -> None:
        self.query_one("#up-path", Input).focus()

    @on(Input.Changed, "#up-path")
    def _path(self, event: Input.Changed) -> None:
        self.values["path"] = event.value
        self.query_one("#up-path-problem", Static).update("")
        if not self._key_touched:
            name = Path(event.value.strip()).name if event.value.strip() else ""
            box = self.query_one("#up-key", Input)
            self._auto_key = self.prefix + name
            box.value = self._auto_key
            self.values["key"] = box.value
            self.values["key_prefix"] = self.prefix

    @on(Input.Changed, "#up-key")
    def _key(self, event: Input.Changed) -> None:
        if event.value == self._auto_key:
            return  # set by the form (on mount, or following the file name)
        self._key_touched = True
        self.values["key"] = event.value
        self.values["key_prefix"] = self.prefix
        self.query_one("#up-key-problem", Static).update("")

    @on(Input.Submitted)
    @on(Button.Pressed, "#up-go")
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#up-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        text = self.query_one("#up-path", Input).value.strip()
        path = Path(text).expanduser() if text else Path()
        key = self.query_one("#up-key", Input).value
        path_problem = upload_path_problem(path) if text else "type the path of a local file"
        problem_key = key_problem(key) or ("the key ends with /: add a file name" if key.endswith("/") else "")
        self.query_one("#up-path-problem", Static).update(Content("⚠ " + path_problem) if path_problem else "")
        self.query_one("#up-key-problem", Static).update(Content("⚠ " + problem_key) if problem_key else "")
        if path_problem:
            self.query_one("#up-path", Input).focus()
        elif problem_key:
            self.query_one("#up-key", Input).focus()
        else:
            self.dismiss((path, key))


class DownloadScreen(ModalScreen[Path | None]):
    """Where to write an object (or one version of it)."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("ctrl+s", "submit", "Download")]
    DEFAULT_CSS = FORM_CSS.format(name="DownloadScreen")

    def __init__(self, values: dict[str, str], what: str, default_path: Path) -> None:
        super().__init__()
        self.values = values
        self.what = what
        self.default_path = default_path

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Download"
            yield Static(Content(self.what), classes="bf-help")
            yield Label("Write to (local path)", classes="bf-label")
            yield SafeInput(str(self.default_path), id="down-path")
            yield Static("", classes="bf-problem", id="down-path-problem")
            with Horizontal(id="bf-buttons"):
                yield Button("Cancel (esc)", id="down-cancel")
                yield Button("Download (ctrl+s)", variant="primary", id="down-go")

    def on_mount(self) -> None:
        self.query_one("#down-path", Input).focus()

    @on(Input.Changed, "#down-path")
    def _changed(self, event: Input.Changed) -> None:
        self.values["path"] = event.value
        self.query_one("#down-path-problem", Static).update("")

    @on(Input.Submitted)
    @on(Button.Pressed, "#down-go")
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#down-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        text = self.query_one("#down-path", Input).value.strip()
        path = Path(text).expanduser() if text else Path()
        if text and path.parent == DOWNLOAD_DIR and not DOWNLOAD_DIR.exists():
            with contextlib.suppress(OSError):
                DOWNLOAD_DIR.mkdir(parents=True)
        problem = download_path_problem(path) if text else "type the local path to write to"
        if problem:
            self.query_one("#down-path-problem", Static).update(Content("⚠ " + problem))
            return
        self.dismiss(path)


def plan_form_values(regions: list[str]) -> dict[str, Any]:
    """The form's first values: the seed's plan (daily 05:00, keep 35, copy to the second region)."""
    return {"region": regions[0] if regions else "", "name": "", "time": "05:00", "keep": "35",
            "copy": regions[1] if len(regions) > 1 else ""}
