"""The shape of every tab: a :class:`TabView` made of :class:`Panel` s (``panel.py``) that load from AWS
with ``@aws_work`` (``work.py``).

TabView owns what every tab has: the header (its panels' keys, the read-only banner, what the tab wants to
say), the panel switcher, the filter box, the status line and the refresh timer. A Panel owns one screenful:
its tables, its keys (from the command registry), ``check_action`` from its declared mutating commands, and
its loaders.

A loader is an ``async`` method decorated with :func:`aws_work`. The decorator runs it as an exclusive
Textual worker and holds everything each tab used to repeat: the busy mark, dropping a result whose context
changed meanwhile (:class:`~opstui.views.common.context.Stale`), the error line (an ``OpsError`` says what
failed where), the counter the tests and the bench wait on, and re-arming the tab's refresh. Any other
exception, in any tab, reaches :meth:`TabView.worker_failed`: it is shown (a notification and the status
line, as literal text) and the refresh goes on. ``Worker.StateChanged`` does not bubble, so this catches
failures inside the worker instead of listening for them.

The lifecycle the app calls on every tab, whatever it is (the tab registry in ``opstui/app.py``):
``shown()`` (the tab became active), ``reload()`` (`r`), ``reset(generation)`` (profile or regions changed).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Input, Static

from opstui.commands import AppCommand, commands_of
from opstui.safe import clean
from opstui.views.common.context import AppContext, context_of
from opstui.views.common.layout import WIDE
from opstui.views.common.panel import Panel, bindings_for
from opstui.views.common.safe_input import SafeInput
from opstui.views.common.work import action_work, aws_work, fresh_call


class TabView(Vertical):
    """A tab: header, panel switcher, filter box, status line, refresh timer. Subclasses set TAB_ID, PANELS
    (Panel classes, in key order) or override ``compose_body`` for a tab without panels.

    Keys: the tab-wide commands of the registry are bound here (:meth:`tab_bindings`): a panel switch
    (``1``..), an action of the tab itself, or an action of whichever panel is in front (``n``: a new alarm,
    topic or canary). A panel's own commands are bound on the panel. ``enter``/``esc``/``space`` go to the
    panel in front (``esc`` closes the filter box first).
    """

    TAB_ID: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    PANELS: ClassVar[tuple[type[Panel], ...]] = ()
    HAS_FILTER: ClassVar[bool] = True
    #: reload the panel in front every ``refresh`` seconds while the tab is shown (False: only on `r`, e.g. a
    #: form that must not change under the user's hands, or data that changes in hours)
    AUTO_REFRESH: ClassVar[bool] = True

    DEFAULT_CSS = """
    TabView { height: 1fr; }
    TabView .tab-header { height: 1; padding: 0 1; background: $boost; }
    TabView .tab-filter { display: none; height: 3; }
    TabView .tab-filter.-shown { display: block; }
    TabView .tab-panels { height: 1fr; }
    TabView .tab-status { height: auto; max-height: 6; padding: 0 1; }
    TabView .tab-status.-empty { display: none; }
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # a tab's keys come from the registry: set before Textual merges the class's bindings
        if cls.TAB_ID and "BINDINGS" not in cls.__dict__:
            cls.BINDINGS = cls.tab_bindings()
        super().__init_subclass__(**kwargs)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.panel = self.PANELS[0].NAME if self.PANELS else ""
        self.loads = 0
        self.busy = False
        self.loaded = False
        self.errors: list[str] = []
        self.failures: list[str] = []  # unexpected worker failures, as shown (tests read them)
        self._timer: Timer | None = None

    # -- context --------------------------------------------------------------------------------------------
    @property
    def ctx(self) -> AppContext:
        return context_of(self)

    @property
    def tab(self) -> TabView:
        return self

    # -- layout ---------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(classes="tab-header", id=f"{self.TAB_ID}-header")
        if self.HAS_FILTER:
            yield SafeInput(placeholder="filter", classes="tab-filter", id=f"{self.TAB_ID}-filter")
        yield from self.compose_body()
        yield Static(classes="tab-status -empty", id=f"{self.TAB_ID}-status")

    def compose_body(self) -> ComposeResult:
        with ContentSwitcher(initial=f"panel-{self.panel}", classes="tab-panels", id=f"{self.TAB_ID}-panels"):
            for cls in self.PANELS:
                yield cls()

    def on_mount(self) -> None:
        self.render_header()

    def panels(self) -> list[Panel]:
        return list(self.query(Panel))

    def panel_named(self, name: str) -> Panel:
        return self.query_one(f"#panel-{name}", Panel)

    @property
    def current(self) -> Panel | None:
        return self.panel_named(self.panel) if self.panel else None

    # -- header and status ------------------------------------------------------------------------------------
    def header_text(self) -> Text:
        text = Text()
        for cls in self.PANELS:
            if cls.KEY:
                text.append(f" {cls.KEY} {cls.TITLE} ", style="bold reverse" if self.panel == cls.NAME else "")
                text.append(" ")
        if self.is_mounted and self.ctx.read_only and any(c.mutating for c in commands_of(self.TAB_ID)):
            text.append("  ")
            badge = " READ-ONLY " if self.size.width < WIDE else " READ-ONLY: changes are disabled "
            text.append(badge, style="bold black on yellow")  # short enough for 80 columns after the keys
        return text

    def on_resize(self) -> None:
        self.render_header()

    def render_header(self) -> None:
        if not self.is_mounted:
            return
        text = self.header_text()
        for panel in self.panels():
            text.append_text(panel.header_extra())
        if any(p.busy for p in self.panels()) or self.busy:
            text.append("   loading…", style="dim")
        self.query_one(f"#{self.TAB_ID}-header", Static).update(text)

    def status_lines(self) -> list[str]:
        panel = self.current
        return [*self.errors, *(panel.errors if panel else []), *self.failures[-2:]]

    def render_status(self) -> None:
        """The panel in front's line of information, then the error lines in the error colour (literal text)."""
        if not self.is_mounted:
            return
        panel = self.current
        info = panel.status_info() if panel is not None else ""
        lines = [Content(clean(info, 600))] if info else []
        lines += [Content.styled(f"⚠ {clean(e, 400)}", "$text-error") for e in self.status_lines()]
        status = self.query_one(f"#{self.TAB_ID}-status", Static)
        status.update(Content("\n").join(lines))
        status.set_class(not lines, "-empty")  # an empty line is a list row lost at 24 rows

    def worker_failed(self, where: Panel | TabView, exc: BaseException, doing: str = "") -> None:
        """The one place an unexpected worker failure goes: shown as literal text; the refresh goes on.
        ``doing`` names an action ("send", "restore"); without it the failure was loading ``where``."""
        name = getattr(where, "NAME", "") or self.TAB_ID
        what = doing or f"loading {name}"
        message = f"{self.TITLE or self.TAB_ID}: {what} failed unexpectedly: {type(exc).__name__}: {exc}"
        self.failures.append(message)
        self.log.error(message)
        self.app.notify(clean(message, 400), title=self.TITLE or self.TAB_ID, severity="error", markup=False)

    # -- keys and the registry's dispatch -------------------------------------------------------------------
    @classmethod
    def tab_bindings(cls) -> list[Binding]:
        """Bindings for the tab-wide commands, each aimed where it lives, plus enter/esc/space."""
        names = {p.NAME for p in cls.PANELS}
        out: list[Binding] = []
        for c in commands_of(cls.TAB_ID, ""):
            if not c.key or not c.action:
                continue
            if c.action in names:
                action = f"show_panel('{c.action}')"
            elif hasattr(cls, f"action_{c.action}"):
                action = c.action
            else:
                action = f"panel_action('{c.action}')"
            out.append(Binding(c.key, action, c.title.split(": ", 1)[-1], show=c.show, id=c.id, tooltip=c.help))
        out += [Binding("enter", "panel_action('open')", "Open", show=False),
                Binding("escape", "back", "Back", show=False),
                Binding("space", "panel_action('toggle_select')", "Select", show=False)]
        return out

    def run_command(self, cmd: AppCommand) -> None:
        """Run a registry command of this tab (the palette's path): its panel in front first."""
        if cmd.action in {p.NAME for p in self.PANELS}:
            self.show_panel(cmd.action)
            return
        if cmd.panel and cmd.panel != self.panel:
            self.show_panel(cmd.panel)
        owner: Any = self if hasattr(self, f"action_{cmd.action}") else self.current
        method = getattr(owner, f"action_{cmd.action}", None) if owner is not None else None
        if method is None:
            self.app.notify(f"{cmd.title}: not available here", severity="warning", markup=False)
            return
        result = method()
        if isinstance(result, Awaitable):
            self.run_worker(result, exit_on_error=False)  # type: ignore[arg-type]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "panel_action":
            panel = self.current
            name = str(parameters[0]) if parameters else ""
            if panel is None or not hasattr(panel, f"action_{name}"):
                return False
            return panel.check_action(name, ())
        own = next((c for c in commands_of(self.TAB_ID, "") if c.action == action), None)
        if own is not None and own.mutating and self.is_mounted and self.ctx.read_only:
            return None  # the tab's own mutating command, greyed like a panel's: the header says why
        return True

    def action_show_panel(self, name: str) -> None:
        self.show_panel(name)

    def action_panel_action(self, name: str) -> None:
        panel = self.current
        method = getattr(panel, f"action_{name}", None) if panel is not None else None
        if method is not None:
            result = method()
            if isinstance(result, Awaitable):
                self.run_worker(result, exit_on_error=False)  # type: ignore[arg-type]

    def action_back(self) -> None:
        """esc: the filter box first, then the panel in front (a level up), then clear the filter."""
        if self.close_filter():
            return
        panel = self.current
        if panel is not None and hasattr(panel, "action_back") and panel.action_back():
            return
        if self.HAS_FILTER and panel is not None and panel.filter_text:
            box = self.query_one(f"#{self.TAB_ID}-filter", Input)
            box.value = ""
            box.remove_class("-shown")

    # -- panels ---------------------------------------------------------------------------------------------
    def show_panel(self, name: str, filter_text: str | None = None) -> None:
        """Bring a panel to the front (and set its filter: the Overview's jumps)."""
        self.panel = name
        self.query_one(f"#{self.TAB_ID}-panels", ContentSwitcher).current = f"panel-{name}"
        panel = self.panel_named(name)
        if filter_text is not None:
            panel.filter_text = filter_text
        if self.HAS_FILTER:
            box = self.query_one(f"#{self.TAB_ID}-filter", Input)
            with box.prevent(Input.Changed):
                box.value = panel.filter_text
            box.placeholder = panel.FILTER_HINT + "   (enter: apply, esc: close)"
            box.set_class(bool(panel.filter_text), "-shown")
        panel.apply_filter(panel.filter_text)
        self.render_header()
        self.render_status()
        self.refresh_bindings()
        panel.shown()

    # -- the lifecycle the app calls ---------------------------------------------------------------------------
    def shown(self) -> None:
        if self.panel:
            self.show_panel(self.panel)

    def reload(self) -> None:
        panel = self.current
        if panel is not None:
            panel.load()

    def reset(self, generation: int) -> None:
        self.errors, self.failures = [], []
        for panel in self.panels():
            panel.reset()
        self.render_header()
        self.render_status()
        if self.is_active:
            self.reload()

    @property
    def is_active(self) -> bool:
        try:
            return getattr(self.app.query_one("#tabs"), "active", "") == self.TAB_ID
        except Exception:
            return False

    # -- refresh ----------------------------------------------------------------------------------------------
    def schedule(self) -> None:
        """Re-arm the refresh: the panel in front comes back on the app's interval while the tab is shown
        (set_timer after each load: refreshes never overlap, and one failure never stops the chain)."""
        if not self.AUTO_REFRESH:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.ctx.settings.refresh, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.is_active and not self.app.screen.is_modal:
            self.reload()
        else:
            self.schedule()

    # -- filter -----------------------------------------------------------------------------------------------
    def action_filter(self) -> None:
        if not self.HAS_FILTER:
            return
        box = self.query_one(f"#{self.TAB_ID}-filter", Input)
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, ".tab-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        panel = self.current
        if panel is not None:
            panel.apply_filter(event.value)

    @on(Input.Submitted, ".tab-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        panel = self.current
        if panel is not None and panel.main_table is not None:
            panel.main_table.focus()

    def close_filter(self) -> bool:
        """esc in the filter box: close it (keeping a typed filter) and go back to the table."""
        if not self.HAS_FILTER:
            return False
        box = self.query_one(f"#{self.TAB_ID}-filter", Input)
        if not box.has_focus:
            return False
        if not box.value:
            box.remove_class("-shown")
        panel = self.current
        if panel is not None and panel.main_table is not None:
            panel.main_table.focus()
        return True


__all__ = ["Panel", "TabView", "Widget", "action_work", "aws_work", "bindings_for", "fresh_call"]
