"""The fields of the Run Command tab's form: document, its parameters, targets and send options.

The parameter fields are generated from DescribeDocument's schema: a multi-line editor for `commands` (and
other StringList parameters, one value per line), a Select for parameters with allowed values, an Input with
the default filled in for the rest. These widgets only hold what the user typed: loading, checking and sending
belong to the form panel (`form.py`), so nothing typed is lost when a check fails or a run is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Select, Static, TextArea

from opstui.aws.models import DocumentDetail, DocumentParameter
from opstui.runs.launch import DEFAULT_DELIVERY_TIMEOUT
from opstui.safe import clean
from opstui.views.common.safe_input import SafeInput, SafeTextArea

DEFAULT_DOCUMENT = "AWS-RunShellScript"


@dataclass(frozen=True)
class FormValues:
    """Everything the form holds, as typed."""

    document: str
    parameters: dict[str, list[str]]
    target_mode: str  # "fleet" | "expression"
    target_text: str
    max_concurrency: str
    max_errors: str
    timeout: str
    comment: str
    cloudwatch: bool
    s3: str  # bucket or bucket/prefix


def _param_values(param: DocumentParameter, widget: Widget) -> list[str] | None:
    """The value list SendCommand gets for one parameter (None: leave it to the document's default)."""
    if isinstance(widget, TextArea):
        lines = widget.text.split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        if param.name != "commands":
            lines = [line for line in lines if line.strip()]
        if not lines:
            return [] if param.required else None
        return lines
    if isinstance(widget, Select):
        value = widget.value
        return None if value is Select.NULL or value is None else [str(value)]
    if isinstance(widget, Input):
        value = widget.value
        if value == (param.default or "") and not param.required:
            return None  # unchanged default: the document applies it
        if not value and param.required:
            return []
        return [value]
    return None


class RunForm(Horizontal):
    """Left: document and parameters. Right: targets, options, problems and the Send button."""

    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    RunForm { height: 1fr; }
    RunForm #rc-left { width: 1fr; padding: 0 1; }
    RunForm #rc-right { width: 58; padding: 0 1; border-left: solid $primary-darken-1; }
    RunForm .rc-label { color: $text; text-style: bold; padding: 1 0 0 0; }
    RunForm .rc-help { color: $text-muted; }
    RunForm #rc-doc-info { color: $text-muted; }
    RunForm #rc-doc-error, RunForm #rc-problems { color: $error; text-style: bold; }
    RunForm #rc-problems { padding: 1 0 0 0; }
    RunForm TextArea { height: 10; }
    RunForm TextArea.rc-list { height: 4; }
    RunForm Input, RunForm Select { width: 100%; }
    RunForm .rc-opts { height: auto; }
    RunForm .rc-opts > Vertical { width: 1fr; height: auto; }
    RunForm #rc-target-preview { color: $text-muted; height: auto; max-height: 4; }
    RunForm #rc-target-preview.-error { color: $warning; }
    RunForm #rc-readonly { display: none; background: $warning; color: $background; padding: 0 1; margin: 1 0 0 0; }
    RunForm.-read-only #rc-readonly { display: block; }
    RunForm #rc-send-row { height: auto; padding: 1 0 0 0; }
    RunForm #rc-send { margin-right: 2; }
    Screen.-short RunForm TextArea { height: 7; }
    Screen.-narrow RunForm { layout: vertical; overflow-y: auto; }
    Screen.-narrow RunForm #rc-left { width: 100%; height: auto; }
    Screen.-narrow RunForm #rc-params { height: auto; }
    Screen.-narrow RunForm #rc-right { width: 100%; height: auto; border-left: none;
        border-top: solid $primary-darken-1; }
    """

    class DocumentChosen(Message):
        """The document field names a document (typed, completed or submitted): describe it."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class TargetEdited(Message):
        """The target choice or expression changed: the panel updates the preview line."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.documents: list[str] = []
        self.detail: DocumentDetail | None = None
        self.fleet_count = 0
        self._param_widgets: list[tuple[DocumentParameter, Widget]] = []
        self._remembered: dict[tuple[str, str], object] = {}  # (document, parameter) -> widget value

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="rc-left"):
            yield Label("Document", classes="rc-label")
            yield SafeInput(DEFAULT_DOCUMENT, placeholder="document name (→ completes)", id="rc-doc")
            yield Static("loading documents…", id="rc-doc-info")
            yield Static("", id="rc-doc-error")
            yield Vertical(id="rc-params")
        with VerticalScroll(id="rc-right"):
            yield Label("Targets", classes="rc-label")
            with RadioSet(id="rc-target-mode"):
                yield RadioButton(self._fleet_label(), id="rc-t-fleet")
                yield RadioButton("Expression", id="rc-t-expr", value=True)
            yield SafeInput(placeholder="tag:Role=web · resource-groups:NAME · i-0abc,i-0def · web-01,web-02",
                        id="rc-target")
            yield Static("", id="rc-target-preview")
            with Horizontal(classes="rc-opts"):
                with Vertical():
                    yield Label("Max concurrency", classes="rc-label")
                    yield SafeInput("50", placeholder="50 or 10%", id="rc-concurrency")
                with Vertical():
                    yield Label("Max errors", classes="rc-label")
                    yield SafeInput("0", placeholder="0, 5 or 10%", id="rc-errors")
            with Horizontal(classes="rc-opts"):
                with Vertical():
                    yield Label("Delivery timeout (s)", classes="rc-label")
                    yield SafeInput("", placeholder=str(DEFAULT_DELIVERY_TIMEOUT), id="rc-timeout")
                with Vertical():
                    yield Label("Comment", classes="rc-label")
                    yield SafeInput("", placeholder="why (shown in history)", id="rc-comment", max_length=100)
            yield Checkbox("Output to CloudWatch Logs (live output)", True, id="rc-cw")
            yield Label("S3 output (full output past 24,000 chars)", classes="rc-label")
            yield SafeInput("", placeholder="bucket or bucket/prefix (optional)", id="rc-s3")
            yield Static("", id="rc-problems")
            yield Static("READ-ONLY: sending is disabled (opstui was started with --read-only).", id="rc-readonly")
            with Horizontal(id="rc-send-row"):
                yield Button("Send (ctrl+s)", variant="warning", id="rc-send")
                yield Button("History (h)", id="rc-history")

    # -- documents and parameters -------------------------------------------------------------------------
    def set_documents(self, names: list[str], error: str = "") -> None:
        self.documents = names
        doc_input = self.query_one("#rc-doc", Input)
        doc_input.suggester = SuggestFromList(names, case_sensitive=False)
        info = f"{len(names)} Command documents; type to complete (→ accepts)" if names else \
            "no Command documents listed"
        if error:
            info = f"could not list documents: {clean(error, 300)}"
        self.query_one("#rc-doc-info", Static).update(Content(info))

    def set_document_error(self, message: str) -> None:
        self.query_one("#rc-doc-error", Static).update(Content(message))

    async def set_detail(self, detail: DocumentDetail | None) -> None:
        """Rebuild the parameter fields for a document (values typed for another one are remembered)."""
        self._remember()
        self.detail = detail
        box = self.query_one("#rc-params", Vertical)
        await box.remove_children()
        self._param_widgets = []
        if detail is None:
            return
        self.set_document_error("")
        info = clean(detail.description, 300)
        if detail.platform_types:
            info += f"  ({', '.join(clean(p, 20) for p in detail.platform_types)})"
        self.query_one("#rc-doc-info", Static).update(Content(info))
        widgets: list[Widget] = []
        for i, param in enumerate(detail.parameters):
            label = f"{param.name}{' *' if param.required else ''}  ({param.type})"
            widgets.append(Label(Content(clean(label, 120)), classes="rc-label"))
            field = self._field_for(i, param)
            remembered = self._remembered.get((detail.name, param.name))
            if remembered is not None:
                self._restore(field, remembered)
            widgets.append(field)
            if param.description:
                widgets.append(Static(Content(clean(param.description, 400)), classes="rc-help"))
            self._param_widgets.append((param, field))
        await box.mount_all(widgets)

    def _field_for(self, index: int, param: DocumentParameter) -> Widget:
        field_id = f"rc-param-{index}"
        default = param.default or ""
        if param.allowed_values:
            options = [(Text(clean(v, 80)), v) for v in param.allowed_values]
            value = default if default in param.allowed_values else Select.NULL
            return Select(options, value=value, allow_blank=value is Select.NULL, id=field_id)
        if param.type == "Boolean":
            value = default.lower() if default.lower() in ("true", "false") else Select.NULL
            return Select([(Text("true"), "true"), (Text("false"), "false")], value=value,
                          allow_blank=value is Select.NULL, id=field_id)
        if param.type == "StringList":
            area = SafeTextArea(default.replace(",", "\n") if param.name != "commands" else default,
                            id=field_id, classes="" if param.name == "commands" else "rc-list",
                            show_line_numbers=param.name == "commands", tab_behavior="focus")
            return area
        return SafeInput(default, id=field_id)

    def _remember(self) -> None:
        if self.detail is None:
            return
        for param, widget in self._param_widgets:
            if isinstance(widget, TextArea):
                self._remembered[(self.detail.name, param.name)] = widget.text
            elif isinstance(widget, Select | Input):
                self._remembered[(self.detail.name, param.name)] = widget.value

    @staticmethod
    def _restore(widget: Widget, value: object) -> None:
        if isinstance(widget, TextArea) and isinstance(value, str):
            widget.text = value
        elif isinstance(widget, Input) and isinstance(value, str):
            widget.value = value
        elif isinstance(widget, Select):
            widget.value = value  # type: ignore[assignment]

    def commands_area(self) -> TextArea | None:
        for param, widget in self._param_widgets:
            if param.name == "commands" and isinstance(widget, TextArea):
                return widget
        return None

    @on(Input.Changed, "#rc-doc")
    def _doc_changed(self, event: Input.Changed) -> None:
        name = event.value.strip()
        if name in self.documents and (self.detail is None or self.detail.name != name):
            self.post_message(self.DocumentChosen(name))

    @on(Input.Submitted, "#rc-doc")
    def _doc_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if name and (self.detail is None or self.detail.name != name):
            self.post_message(self.DocumentChosen(name))
        area = self.commands_area()
        if area is not None:
            area.focus()

    # -- targets ------------------------------------------------------------------------------------------
    def _fleet_label(self) -> str:
        n = self.fleet_count
        if not n:
            return "Fleet selection (none: select in the Fleet tab, then c)"
        return f"Fleet selection ({n} node{'s' if n != 1 else ''})"

    def set_fleet_count(self, count: int, use: bool | None = None) -> None:
        self.fleet_count = count
        button = self.query_one("#rc-t-fleet", RadioButton)
        button.label = self._fleet_label()
        if use is not None:
            (button if use else self.query_one("#rc-t-expr", RadioButton)).value = True

    @property
    def target_mode(self) -> str:
        return "fleet" if self.query_one("#rc-t-fleet", RadioButton).value else "expression"

    @on(Input.Changed, "#rc-target")
    def _target_typed(self, event: Input.Changed) -> None:
        if event.value.strip():
            self.query_one("#rc-t-expr", RadioButton).value = True
        self.post_message(self.TargetEdited())

    @on(RadioSet.Changed, "#rc-target-mode")
    def _target_mode(self, event: RadioSet.Changed) -> None:
        self.post_message(self.TargetEdited())

    def set_target_preview(self, text: str, error: bool = False) -> None:
        """Lines that carry node names and tag values (untrusted): each made control-free, shown literally."""
        preview = self.query_one("#rc-target-preview", Static)
        preview.set_class(error, "-error")
        preview.update(Content("\n".join(clean(line, 600) for line in text.split("\n"))))

    # -- the rest -------------------------------------------------------------------------------------------
    def set_read_only(self, read_only: bool) -> None:
        self.set_class(read_only, "-read-only")
        self.query_one("#rc-send", Button).disabled = read_only

    def show_problems(self, problems: list[str]) -> None:
        text = "\n".join(f"✗ {clean(p, 400)}" for p in problems)
        self.query_one("#rc-problems", Static).update(Content(text))

    def values(self) -> FormValues:
        params: dict[str, list[str]] = {}
        for param, widget in self._param_widgets:
            value = _param_values(param, widget)
            if value is not None:
                params[param.name] = value
        return FormValues(
            document=self.query_one("#rc-doc", Input).value.strip(),
            parameters=params,
            target_mode=self.target_mode,
            target_text=self.query_one("#rc-target", Input).value,
            max_concurrency=self.query_one("#rc-concurrency", Input).value.strip(),
            max_errors=self.query_one("#rc-errors", Input).value.strip(),
            timeout=self.query_one("#rc-timeout", Input).value.strip(),
            comment=self.query_one("#rc-comment", Input).value,
            cloudwatch=self.query_one("#rc-cw", Checkbox).value,
            s3=self.query_one("#rc-s3", Input).value.strip(),
        )

    def focus_first(self) -> None:
        area = self.commands_area()
        (area or self.query_one("#rc-doc", Input)).focus()
