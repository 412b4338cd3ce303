"""Monitoring, panel 4, `c`: the CloudWatch agent's configuration from presets, previewed as the JSON it stores.

Why a preview: what goes into Parameter Store is what every selected node's agent will validate and run, so
the operator sees the exact JSON (it changes as boxes are ticked) before anything is sent. The form only
decides (:class:`~opstui.cwagent_presets.AgentSetup`); the panel asks for the blast-radius confirmation and
then stores and applies it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from opstui import cwagent_presets as presets
from opstui.safe import clean
from opstui.views.common.form import Field
from opstui.views.common.kept_form import FieldProblems, KeptForm

LABELS = {"parameter": "Parameter name", "prefix": "Log group prefix",
          **{p.id: p.label for p in presets.PRESETS}, "presets": "Presets"}


def setup_fields(platform: str) -> list[Field]:
    """A tick box per preset of ``platform`` (all ticked the first time), the parameter and the group prefix
    (``/prod`` gives the demo seed's groups; ``/stg`` keeps staging apart)."""
    fields = [Field(p.id, p.label, "yes", check=True) for p in presets.presets_for(platform)]
    fields.append(Field("parameter", LABELS["parameter"], presets.DEFAULT_PARAMETER))
    fields.append(Field("prefix", LABELS["prefix"], presets.DEFAULT_PREFIX, placeholder="/prod"))
    return fields


def build_setup(platform: str, values: dict[str, str]) -> presets.AgentSetup:
    """The form's values as an AgentSetup, or FieldProblems naming each field to fix."""
    chosen = [p.id for p in presets.presets_for(platform) if values.get(p.id) == "yes"]
    name = values.get("parameter", "").strip()
    prefix = values.get("prefix", presets.DEFAULT_PREFIX).strip() or presets.DEFAULT_PREFIX
    problems: dict[str, str] = {}
    if problem := presets.parameter_problem(name):
        problems["parameter"] = problem
    if problem := presets.prefix_problem(prefix):
        problems["prefix"] = problem
    if not chosen:
        problems["presets"] = "tick at least one"
    if problems:
        raise FieldProblems(problems, LABELS)
    try:
        return presets.setup(chosen, platform, name, prefix)
    except presets.PresetError as err:
        raise FieldProblems({"presets": str(err)}, LABELS) from err


class AgentSetupForm(KeptForm):
    """The presets form with a live preview of the JSON it will store."""

    DEFAULT_CSS = """
    AgentSetupForm #agent-preview-box { height: auto; max-height: 12; border: round $panel; margin-top: 1; }
    AgentSetupForm #agent-preview { height: auto; color: $text-muted; }
    AgentSetupForm.-short #agent-preview-box { max-height: 5; margin-top: 0; }
    AgentSetupForm.-short #form-note { display: none; }
    """

    def __init__(self, platform: str, count: int, store: dict[str, str],
                 submit: Callable[[presets.AgentSetup], Awaitable[None]]) -> None:
        self.platform = platform
        super().__init__(f"Configure the CloudWatch agent on {count} {platform} node(s)",
                         setup_fields(platform), lambda values: build_setup(platform, values), submit,
                         store=store, submit_label="Next",
                         note="The JSON below goes to Parameter Store (each region of the selection), then "
                              "AmazonCloudWatch-ManageAgent applies it (configure from ssm, restart). The nodes "
                              "need the agent installed (i).")

    async def on_mount(self) -> None:
        box = VerticalScroll(Static(id="agent-preview"), id="agent-preview-box")
        box.border_title = Content("Preview")
        await self.query_one("#form-problems").parent.mount(box, before=self.query_one("#form-problems"))
        await super().on_mount()

    def show_hints(self) -> None:
        super().show_hints()
        for box in self.query("#agent-preview").results(Static):
            box.update(Content(self.preview()))

    def preview(self) -> str:
        """The JSON as it will be stored, or why there is none yet."""
        try:
            return build_setup(self.platform, self.values()).text
        except FieldProblems as err:
            return "\n".join(clean(p, 300) for p in err.problems)
