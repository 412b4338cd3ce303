"""Monitoring, panel 2: SNS topics and their subscriptions (the ones of the topic under the cursor); `n` a new
topic, `s` subscribe an e-mail address, http(s) URL or phone number, `t` a test message."""

from __future__ import annotations

import asyncio
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.content import Content

from opstui.aws import sns
from opstui.aws.monitoring_models import Subscription
from opstui.aws.regions import per_region
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.form import Field, FormScreen
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.work import action_work
from opstui.views.monitoring.rows import SUBSCRIPTION_COLUMNS, TOPIC_COLUMNS, TopicRow


class SnsPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "sns", "SNS", "2", "mon-topics"
    BINDINGS = bindings_for(commands_of("monitoring", "sns"))
    DEFAULT_CSS = """
    SnsPanel #mon-topics { height: 1fr; }
    SnsPanel #mon-subs { height: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topics: list[TopicRow] = []
        self.subscriptions: list[Subscription] = []

    def compose(self) -> ComposeResult:
        yield NodeTable(TOPIC_COLUMNS, key=lambda t: t.key, id="mon-topics")
        yield NodeTable(SUBSCRIPTION_COLUMNS, key=lambda s: f"{s.topic_arn}/{s.protocol}/{s.endpoint}/{s.arn}",
                        id="mon-subs")

    def on_mount(self) -> None:
        self.table("mon-topics").border_title = Content("SNS topics")
        self.table("mon-subs").border_title = Content("Subscriptions")

    def reset(self) -> None:
        self.topics, self.subscriptions = [], []
        super().reset()

    def load(self) -> None:
        self._load()

    @aws_work
    async def _load(self) -> None:
        await self.fetch()

    async def fetch(self) -> None:
        """Topics and subscriptions of every region (also what the alarm form's topic list needs)."""
        ctx, generation = self.ctx, self.ctx.generation

        async def both(region: str) -> tuple[Any, Any]:
            return await asyncio.gather(sns.list_topics(ctx.aws, region), sns.list_subscriptions(ctx.aws, region))

        results = await ctx.fresh(per_region(ctx.regions, both, "sns"), generation)
        topics: list[TopicRow] = []
        subs: list[Subscription] = []
        errors: list[str] = []
        for _region, value, err in results:
            if err is not None:
                errors.append(str(err))
                continue
            region_topics, region_subs = value
            subs.extend(region_subs)
            for t in region_topics:
                mine = [s for s in region_subs if s.topic_arn == t.arn]
                topics.append(TopicRow(t, len(mine), sum(1 for s in mine if s.pending)))
        self.topics, self.subscriptions, self.errors = topics, subs, errors
        self.loaded = True
        self.show_rows("mon-topics", topics)
        self.table("mon-subs").set_rows(subs)
        self._retitle()
        self._show_topic_subs()

    def apply_filter(self, text: str) -> None:
        super().apply_filter(text)
        self._retitle()

    def _retitle(self) -> None:
        table = self.table("mon-topics")
        title = f"SNS topics {len(table.order_shown)}/{len(table.rows)}"
        if self.filter_text:
            title += f" · filter: {clean(self.filter_text, 60)}"
        table.border_title = Content(title)

    @on(NodeTable.CursorMoved, "#mon-topics")
    def _show_topic_subs(self) -> None:
        row = self.table("mon-topics").cursor_row
        subs = self.table("mon-subs")
        if row is None:
            subs.set_visible(list(range(len(subs.rows))))
            subs.border_title = Content(f"Subscriptions ({len(subs.rows)})")
            return
        visible = [i for i, s in enumerate(subs.rows) if s.topic_arn == row.topic.arn]
        subs.set_visible(visible)
        subs.border_title = Content(f"Subscriptions of {clean(row.topic.name, 60)} ({len(visible)})")

    # -- changes ----------------------------------------------------------------------------------------------
    def action_new(self) -> None:
        if self.refused("creating"):
            return
        ctx = self.ctx
        region = ctx.regions[0] if ctx.regions else ""
        fields = [Field("name", "Topic name", "", placeholder="ops-alerts"),
                  Field("region", "Region", region, options=tuple((r, r) for r in ctx.regions))]

        def build(v: dict[str, str]) -> Any:
            problem = sns.topic_name_problem(v["name"])
            if problem:
                raise ValueError(problem)
            return v

        async def submit(v: dict[str, str]) -> None:
            topic = await ctx.run(sns.create_topic(ctx.aws, v["region"], v["name"]))
            self.app.notify(f"Created topic {clean(topic.arn, 120)}", markup=False)

        self.form(FormScreen("Create SNS topic", fields, build, submit, submit_label="Create"), reload=True)

    def action_subscribe(self) -> None:
        row = self.table("mon-topics").cursor_row
        if self.refused("subscribing"):
            return
        if row is None:
            self.app.notify("No topic under the cursor.", markup=False)
            return
        ctx, topic = self.ctx, row.topic
        fields = [Field("protocol", "Protocol", "email", options=tuple((p, p) for p in sns.PROTOCOLS)),
                  Field("endpoint", "Endpoint", "", placeholder="ops@example.com · https://hooks.example.com/x · "
                                                                "+81901234567")]

        def build(v: dict[str, str]) -> Any:
            problem = sns.endpoint_problem(v["protocol"], v["endpoint"])
            if problem:
                raise ValueError(problem)
            return v

        async def submit(v: dict[str, str]) -> None:
            arn = await ctx.run(sns.subscribe(ctx.aws, topic.region, topic.arn, v["protocol"], v["endpoint"]))
            self.app.notify(f"Subscribed {clean(v['endpoint'], 80)} to {clean(topic.name, 60)}: {clean(arn, 120)}",
                            markup=False)

        self.form(FormScreen(f"Subscribe to {topic.name}", fields, build, submit, submit_label="Subscribe",
                             note="E-mail and http(s) endpoints must confirm before they receive messages."),
                  reload=True)

    def action_test_message(self) -> None:
        row = self.table("mon-topics").cursor_row
        if self.refused("publishing") or row is None:
            return
        ctx, topic = self.ctx, row.topic
        fields = [Field("subject", "Subject", "opstui test message"),
                  Field("message", "Message", f"Test message from opstui to {topic.name}: if you read this, "
                                              "notifications reach you.")]

        def build(v: dict[str, str]) -> Any:
            if not v["message"].strip():
                raise ValueError("message: required")
            return v

        async def submit(v: dict[str, str]) -> None:
            mid = await ctx.run(sns.publish(ctx.aws, topic.region, topic.arn, v["message"], v["subject"]))
            self.app.notify(f"Published to {clean(topic.name, 60)} ({row.subscriptions} subscription(s)): "
                            f"message {clean(mid, 60)}", markup=False)

        self.form(FormScreen(f"Test message to {topic.name}", fields, build, submit, submit_label="Publish"),
                  reload=False)

    @action_work("mon-form")
    async def form(self, screen: FormScreen, reload: bool) -> None:
        if await self.app.push_screen_wait(screen) and reload:
            self.load()
