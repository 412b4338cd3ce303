"""The Inventory tab's two inline forms: the application search (find) and the association's schedule (set-up).

They stay inline, above their tables, rather than in a modal FormScreen: the search is typed again and again
while the results stay in view, and the schedule sits next to the associations it changes. Each form only
holds its fields and says what is wrong with them; its panel runs the search or sends the schedule (the
fields' ``Input.Submitted`` and the button's ``Button.Pressed`` bubble up to it).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Select, Static

from opstui.aws import ssm_inventory as inv
from opstui.views.common.safe_input import SafeInput

#: the search's version operators (GetInventory filter types), "any" = no version condition
VERSION_OPS = (("any version", "any"), ("version =", "Equal"), ("version ≠", "NotEqual"),
               ("version <", "LessThan"), ("version >", "GreaterThan"), ("version begins with", "BeginWith"))


class SearchForm(Horizontal):
    """Application name, version operator, version, Search."""

    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    SearchForm { height: 3; }
    SearchForm #inv-app { width: 1fr; }
    SearchForm #inv-op { width: 26; }
    SearchForm #inv-version { width: 24; }
    Screen.-narrow SearchForm #inv-op { width: 20; }
    Screen.-narrow SearchForm #inv-version { width: 16; }
    """

    def compose(self) -> ComposeResult:
        yield SafeInput(placeholder="application, e.g. openssl (a trailing * matches a prefix)", id="inv-app")
        yield Select(VERSION_OPS, allow_blank=False, value="any", id="inv-op")
        yield SafeInput(placeholder="version, e.g. 3.0.13", id="inv-version")
        yield Button("Search", id="inv-search-go", variant="primary")

    def fill(self, name: str, op: str | None, version: str | None) -> None:
        """Put a search in the fields (a search started from code: the tests, the bench, the screenshots)."""
        self.query_one("#inv-app", Input).value = name
        self.query_one("#inv-op", Select).value = op or "any"
        self.query_one("#inv-version", Input).value = version or ""

    def values(self) -> tuple[str, str | None, str | None]:
        """(name, operator or None, version or None), as typed."""
        name = self.query_one("#inv-app", Input).value.strip()
        op_value = self.query_one("#inv-op", Select).value
        op = None if op_value in ("any", Select.NULL) else str(op_value)
        version = self.query_one("#inv-version", Input).value.strip() or None
        return name, op, version

    @staticmethod
    def problem(name: str, op: str | None, version: str | None) -> str | None:
        """Why this search cannot be sent (None: it can)."""
        if not name:
            return "type an application name first (e.g. openssl; a trailing * matches a prefix)"
        if op and not version:
            return f"type the version to compare with ({op}), or choose 'any version'"
        return None

    def focus_name(self) -> None:
        self.query_one("#inv-app", Input).focus()


class ScheduleForm(Vertical):
    """The schedule of the inventory association, checked as it is typed (AWS refuses under 30 minutes)."""

    DEFAULT_CSS = """
    ScheduleForm { height: auto; }
    ScheduleForm #inv-setup-form { height: 3; }
    ScheduleForm #inv-schedule-label { width: 10; padding: 1 1; }
    ScheduleForm #inv-schedule { width: 40; }
    ScheduleForm #inv-schedule-problem { height: auto; padding: 0 1; color: $error; }
    ScheduleForm #inv-schedule-problem.-empty { display: none; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.touched = False  # typed into: a loaded association's schedule no longer replaces the text

    def compose(self) -> ComposeResult:
        with Horizontal(id="inv-setup-form"):
            yield Static("Schedule", id="inv-schedule-label")
            yield SafeInput(value=inv.DEFAULT_SCHEDULE,
                            placeholder="rate(30 minutes) | rate(12 hours) | cron(0 */2 * * ? *)", id="inv-schedule")
            yield Button("Create / update (ctrl+s)", id="inv-apply", variant="primary")
        yield Static(id="inv-schedule-problem", classes="-empty")

    @property
    def schedule(self) -> str:
        return self.query_one("#inv-schedule", Input).value.strip()

    def show_loaded(self, schedule: str) -> None:
        """The associations' one schedule, unless the user has typed one."""
        if self.touched:
            return
        box = self.query_one("#inv-schedule", Input)
        with box.prevent(Input.Changed):
            box.value = schedule

    def show_problem(self, problem: str | None) -> None:
        line = self.query_one("#inv-schedule-problem", Static)
        line.update(Content("⚠ " + problem) if problem else "")
        line.set_class(not problem, "-empty")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "inv-schedule":
            self.touched = True
            self.show_problem(inv.schedule_problem(event.value))
