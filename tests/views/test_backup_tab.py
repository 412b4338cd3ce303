"""Pilot tests of the Backup tab against the real sandbox: jobs with failures first and the filters, plans in
words and the create-plan form (bad input keeps what was typed), on-demand backup of the Fleet selection and
restore with their confirmations, S3 browse / upload / download with progress, read-only disabled states.

The `sandbox` fixture is shared: the plan and S3 keys made here have unique names and are removed again."""

from __future__ import annotations

import uuid

from textual.content import Content
from textual.widgets import Input, Static

from opstui.aws import backup as bk
from opstui.aws import s3
from opstui.views.backup import BackupView
from opstui.views.backup.forms import DownloadScreen, PlanFormScreen, UploadScreen
from opstui.views.common.confirm import ConfirmScreen
from tests.helpers import loaded, make_app, wait_for

BUCKET = "opstui-file-backups-123456789012"


def plain(widget: Static) -> str:
    return str(widget.render())


def title(widget) -> str:
    return Content.from_markup(widget.border_title).plain


async def open_backup(pilot, app) -> BackupView:
    await loaded(pilot, app)
    app.show_tab("backup")
    view = app.backup_view
    await wait_for(pilot, lambda: view.job_loads >= 1)
    await pilot.pause()
    return view


async def test_jobs_failures_first_filters_and_detail(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        view = await open_backup(pilot, app)
        jobs = view.table("bk-jobs")
        assert jobs.has_focus and view.range == "24h" and "Jobs, last 24 h" in title(jobs)
        await pilot.press("t", "t")  # 24 h -> 7 d -> 30 d (each reloads; the last one wins)
        await wait_for(pilot, lambda: view.range == "30d" and view.job_list is not None
                       and view.job_list.since is not None and "30 days" in title(jobs))
        rows = jobs.visible_rows()
        ranks = [r.rank for r in rows]
        assert ranks == sorted(ranks) and rows[0].failed
        failed = sum(1 for r in rows if r.failed)
        assert failed >= 5 and rows[failed].with_issues
        assert f"{failed} failed" in title(jobs) and "with issues" in title(jobs)
        header = plain(view.query_one("#backup-header", Static))
        assert "failed" in header and "completed with issues" in header
        # the detail of the job under the cursor: message, size, duration, recovery point
        detail = plain(view.query_one("#bk-job-detail", Static))
        assert "Message:" in detail and rows[0].status_message[:30] in detail and "Recovery point:" in detail
        # state filter: s cycles all -> problems
        await pilot.press("s")
        shown = jobs.visible_rows()
        assert shown and all(r.failed or r.with_issues for r in shown) and len(shown) < len(jobs.rows)
        # resource filter: / then a name
        await pilot.press("slash", *"prod-win")
        assert view.query_one("#bk-resource", Input).has_focus
        shown = jobs.visible_rows()
        assert shown and {r.resource_name for r in shown} == {"prod-win-ad-01"}
        assert all(r.failed or r.with_issues for r in shown) and any(r.with_issues for r in shown)
        await pilot.press("enter")
        assert jobs.has_focus
        jobs.move_cursor(next(i for i, r in enumerate(shown) if r.with_issues))
        await pilot.pause()
        detail = plain(view.query_one("#bk-job-detail", Static))
        assert "COMPLETED WITH ISSUES" in detail and "VSS" in detail and "Size:" in detail and "duration" in detail
        await pilot.press("enter")  # Describe*Job for the job under the cursor
        await wait_for(pilot, lambda: view.detail_fresh is not None)
        assert "as DescribeJob says now" in plain(view.query_one("#bk-job-detail", Static))
        # vault and kind filters
        view.query_one("#bk-resource", Input).value = ""
        view.query_one("#bk-state").value = "all"
        view.query_one("#bk-kind").value = "copy"
        await pilot.pause()
        assert {r.kind for r in jobs.visible_rows()} == {"copy"}
        view.query_one("#bk-kind").value = "all"
        view.query_one("#bk-vault").value = "ap-northeast-3/Default"
        await pilot.pause()
        shown = jobs.visible_rows()
        assert shown and {r.kind for r in shown} == {"copy"}  # copies land in the other region's vault


async def test_plans_in_words_and_create_form_with_bad_input(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        view = await open_backup(pilot, app)
        await pilot.press("2")
        await wait_for(pilot, lambda: view.plan_loads >= 1)
        plans = view.table("bk-plans")
        row = next(r for r in plans.rows if r.plan.name == "daily-ec2")
        cells = dict(zip([c.key for c in plans.columns], plans.cells[plans.rows.index(row)], strict=True))
        assert cells["schedule"] == "daily at 05:00 UTC" and cells["keep"] == "35 days"
        assert cells["windows"] == "1 hour / 3 hours" and cells["copy"].startswith("ap-northeast-3/Default")
        assert cells["selections"] == "all-ec2: all EC2 instances"
        assert "AWSBackupDefaultServiceRole" in plain(view.query_one("#bk-plan-detail", Static))
        # the form: bad input gets a message under each field, nothing typed is lost
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PlanFormScreen))
        form = app.screen
        assert form.query_one("#f-copy", Input).value == "ap-northeast-3"  # the seed's flow, pre-filled
        await pilot.press(*"bad name!")
        form.query_one("#f-time", Input).value = "25:70"
        form.query_one("#f-keep", Input).value = "forever"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PlanFormScreen)
        problems = " | ".join(form.problems)
        assert "Plan name: a plan name may only contain letters, digits" in problems
        assert "HH:MM" in problems and "whole number" in problems and "nothing was sent" in problems
        assert form.query_one("#f-name", Input).value == "bad name!" and form.query_one("#f-name", Input).has_focus
        # esc and n again: still there
        await pilot.press("escape")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PlanFormScreen))
        form = app.screen
        assert form.query_one("#f-name", Input).value == "bad name!"
        assert form.query_one("#f-keep", Input).value == "forever"
        name = f"b2-tab-{uuid.uuid4().hex[:8]}"
        form.query_one("#f-name", Input).value = name
        form.query_one("#f-time", Input).value = "05:00"
        form.query_one("#f-keep", Input).value = "35"
        await pilot.pause()
        assert plain(form.query_one("#f-time-hint", Static)) == "daily at 05:00 UTC"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: view.plans_created == 1 and not isinstance(app.screen, PlanFormScreen))
        await wait_for(pilot, lambda: any(r.plan.name == name for r in plans.rows))
        ours = next(r.plan for r in plans.rows if r.plan.name == name)
        try:
            assert ours.rules[0].schedule == "cron(0 5 ? * * *)" and ours.rules[0].delete_after_days == 35
            assert ours.selections and ours.selections[0].resources == (bk.EC2_ALL,)
        finally:
            await app.aws_loop.run(bk.delete_plan(app.aws, ours.region, ours.plan_id))


async def test_on_demand_backup_of_fleet_selection_and_restore(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        fleet = await loaded(pilot, app)
        node = next(n for n in fleet.table.rows if n.name == "stg-app-01")
        app.ctx.fleet.select({node.key})  # what the Fleet's space does
        app.show_tab("backup")
        view = app.backup_view
        await wait_for(pilot, lambda: view.job_loads >= 1)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "stg-app-01" in app.screen.text and "Back up 1 instance" in app.screen.question
        loads = view.job_loads
        await pilot.press("y")
        await wait_for(pilot, lambda: view.backups_started == 1 and view.job_loads > loads)
        jobs = view.table("bk-jobs").rows
        mine = [j for j in jobs if j.resource_arn.endswith(node.instance_id) and j.plan_name == "on demand"]
        assert mine and mine[0].state in ("CREATED", "RUNNING")
        # restore: 3 (recovery points), the cursor on a completed point, R, confirm
        await pilot.press("3")
        await wait_for(pilot, lambda: view.point_loads >= 1)
        points = view.table("bk-points")
        await pilot.press("enter")  # vaults -> points
        assert points.has_focus and "Recovery points of Default" in title(points)
        target = next(i for i, p in enumerate(points.visible_rows()) if p.status == "COMPLETED")
        points.move_cursor(target)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "NEW instance" in app.screen.text
        await pilot.press("y")
        await wait_for(pilot, lambda: view.restores_started == 1, timeout=30)


async def test_s3_browse_download_and_upload_with_progress(sandbox, tmp_path):
    app = make_app(sandbox)
    async with app.run_test(size=(200, 50)) as pilot:
        view = await open_backup(pilot, app)
        await pilot.press("4")
        await wait_for(pilot, lambda: view.bucket_loads >= 1)
        buckets = view.table("bk-buckets")
        files = next(i for i, b in enumerate(buckets.visible_rows()) if b.name == BUCKET)
        buckets.move_cursor(files)
        cells = dict(zip([c.key for c in buckets.columns], buckets.cells[buckets.order_shown[files]], strict=True))
        assert cells["versioning"] == "Enabled" and "noncurrent expire 35 d" in cells["lifecycle"]
        assert cells["newest"].startswith("20")
        objects = view.table("bk-objects")
        for step in ("", "hosts/", "hosts/prod-web-01/"):
            before = view.listing_loads
            if step:
                objects.move_cursor(next(i for i, e in enumerate(objects.visible_rows()) if e.key == step))
            await pilot.press("enter")
            await wait_for(pilot, lambda before=before: view.listing_loads > before)
        assert view.prefix == "hosts/prod-web-01/" and objects.has_focus
        etc = [e for e in objects.visible_rows() if e.key.endswith("etc.tar.gz")]
        assert len(etc) == 3 and etc[0].is_latest and not etc[1].is_latest
        # download an older version to a chosen path
        objects.move_cursor(objects.visible_rows().index(etc[1]))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DownloadScreen))
        # a file where a folder should be is refused in the form
        (tmp_path / "a-file").write_text("x")
        app.screen.query_one("#f-path", Input).value = str(tmp_path / "a-file" / "x")
        await pilot.press("ctrl+s")
        assert any("is a file, not a folder" in p for p in app.screen.problems)
        # a folder that does not exist yet is created (private), and the user is told
        target = tmp_path / "no-such-dir" / "deeper" / "etc-older.tar.gz"
        app.screen.query_one("#f-path", Input).value = str(target)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: view.transfers == 1)
        created = tmp_path / "no-such-dir"
        assert (created / "deeper").is_dir() and {created.stat().st_mode & 0o777,
                                                   (created / "deeper").stat().st_mode & 0o777} == {0o700}
        assert any(f"Created the folder {created}" in n.message for n in app._notifications)
        assert "created the folder" in str(view.query_one("#bk-transfer-label").render())
        expected_path = tmp_path / "expected"
        await app.aws_loop.run(s3.download_file(app.aws, "ap-northeast-1", BUCKET, etc[1].key, expected_path,
                                                version_id=etc[1].version_id))
        assert target.read_bytes() == expected_path.read_bytes() and len(target.read_bytes()) == etc[1].size
        assert view.last_transfer["ok"] and "Downloaded" in str(view.query_one("#bk-transfer-label").render())
        # upload: a missing file is refused in the form; a real one goes under the prefix shown
        await pilot.press("escape")  # up to hosts/
        await wait_for(pilot, lambda: view.prefix == "hosts/")
        prefix = f"b2-tab-{uuid.uuid4().hex[:8]}/"
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, UploadScreen))
        form = app.screen
        form.query_one("#f-path", Input).value = str(tmp_path / "nope.bin")
        await pilot.press("ctrl+s")
        assert any("no such file" in p for p in form.problems)
        local = tmp_path / "upload.bin"
        local.write_bytes(b"opstui " * 5000)
        form.query_one("#f-path", Input).value = str(local)
        await pilot.pause()
        assert form.query_one("#f-key", Input).value == "hosts/upload.bin"  # prefix shown + file name
        form.query_one("#f-key", Input).value = prefix + "upload.bin"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: view.transfers == 2)
        try:
            assert view.last_transfer["ok"] and view.last_transfer["bytes"] == local.stat().st_size
            got = tmp_path / "back.bin"
            await app.aws_loop.run(s3.download_file(app.aws, "ap-northeast-1", BUCKET, prefix + "upload.bin", got))
            assert got.read_bytes() == local.read_bytes()
        finally:
            listing = await app.aws_loop.run(s3.list_versions(app.aws, "ap-northeast-1", BUCKET, prefix))
            for e in listing.entries:
                await app.aws_loop.run(app.aws.call("s3", "ap-northeast-1", "delete_object", Bucket=BUCKET, Key=e.key,
                                                    VersionId=e.version_id))


async def test_read_only_disables_mutating_actions_with_reason(sandbox):
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(200, 50)) as pilot:
        view = await open_backup(pilot, app)
        assert "READ-ONLY" in plain(view.query_one("#backup-header", Static))
        assert view.check_action("backup_now", ()) is None  # shown greyed
        await pilot.press("2")
        await wait_for(pilot, lambda: view.plan_loads >= 1)
        assert view.current.check_action("new_plan", ()) is None
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, PlanFormScreen)
        app.action_command("backup-new-plan")  # the palette's way in: refused with the reason
        await pilot.pause()
        assert not isinstance(app.screen, PlanFormScreen)
        assert any("read-only mode" in n.message for n in app._notifications)
        await pilot.press("4")
        assert view.current.check_action("upload", ()) is None and view.current.check_action("download", ()) is True
        await pilot.press("3")
        assert view.current.check_action("restore", ()) is None
        app.action_command("backup-restore")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert view.restores_started == 0 and view.backups_started == 0 and view.plans_created == 0


async def test_upload_form_shows_a_hostile_prefix_literally():
    """An S3 prefix is untrusted: `[/x]` in it once made opening the upload form raise MarkupError."""
    from textual.app import App

    prefix = "logs/[/x]/[b]bold[/b]/"
    app = App()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(UploadScreen({}, "opstui-file-backups", prefix))
        await pilot.pause()
        box = app.screen.query_one("Vertical")
        assert box._border_title is not None
        assert box._border_title.plain == f"Upload to s3://opstui-file-backups/{prefix}"
