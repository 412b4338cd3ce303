"""Tab headers never give an all-clear they did not earn (issue 15): with AccessDenied or a region down, the
Backup and Monitoring headers say "could not check" in the warning colour, in place, naming the regions;
"no failures" appears only after a load that answered in every region. Faults are injected in the sandbox
(`POST /_opstui/faults`), as the Overview's tests do."""

from __future__ import annotations

from textual.widgets import Static

from tests.helpers import loaded, make_app, wait_for


def header(view, tab: str):
    return view.query_one(f"#{tab}-header", Static).render()


def warn_spans(content) -> list[str]:
    """The text of the spans drawn in the warning colour (bold yellow)."""
    plain = content.plain
    return [plain[s.start:s.end] for s in content.spans if "yellow" in str(s.style) and "bold" in str(s.style)]


async def test_backup_header_says_it_could_not_check_when_backup_is_denied(sandbox):
    sandbox.add_fault("AccessDenied", service="backup")
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        await loaded(pilot, app)
        app.show_tab("backup")
        view = app.backup_view
        await wait_for(pilot, lambda: view.job_loads >= 1)
        await pilot.pause()
        text = header(view, "backup")
        assert "no failures" not in text.plain and "✓" not in text.plain
        assert any("could not check backup jobs" in s for s in warn_spans(text)), text.plain
        # the cause is gone: the next load answers everywhere, and only then is the all-clear earned (or
        # the failures are counted)
        sandbox.clear_faults()
        loads = view.job_loads
        view.reload()
        await wait_for(pilot, lambda: view.job_loads > loads)
        await pilot.pause()
        text = header(view, "backup")
        assert "could not check" not in text.plain
        assert "failed" in text.plain or "no failures" in text.plain
    app.close_aws()


async def test_backup_header_names_the_region_that_is_down_and_keeps_the_failures_found(sandbox):
    dr = sandbox.regions[1]
    sandbox.add_fault("Unavailable", service="backup", region=dr)
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        await loaded(pilot, app)
        app.show_tab("backup")
        view = app.backup_view
        await pilot.press("t", "t")  # 30 days: the seeded history has failures in the primary region
        await wait_for(pilot, lambda: view.range == "30d" and view.job_list is not None
                       and view.job_list.since is not None and not view.busy
                       and "30 days" in header(view, "backup").plain)
        text = header(view, "backup")
        assert "no failures" not in text.plain
        assert f"could not check backup jobs in {dr}" in warn_spans(text)[-1], text.plain
        assert "failed" in text.plain  # what the primary region answered still counts
    app.close_aws()


async def test_monitoring_header_says_alarms_and_canaries_could_not_be_checked(sandbox):
    sandbox.add_fault("AccessDenied", service="monitoring")
    sandbox.add_fault("AccessDenied", service="synthetics")
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        await loaded(pilot, app)
        app.show_tab("monitoring")
        view = app.monitoring_view
        await wait_for(pilot, lambda: view.alarm_loads >= 1)
        await pilot.press("3")
        await wait_for(pilot, lambda: view.canary_loads >= 1)
        await pilot.pause()
        spans = warn_spans(header(view, "monitoring"))
        regions = ", ".join(sandbox.regions)
        assert f"  could not check alarms in {regions}" in spans, spans
        assert f"  could not check canaries in {regions}" in spans, spans
    app.close_aws()
