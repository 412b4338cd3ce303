"""The Backup tab's forms: create a plan (the seed's flow, one form), upload a file, download an object.

Each is the app's one form (``FormScreen``): it checks its input before anything is sent, says what to fix
and stays open with everything typed. The plan and upload forms keep their values in a dict the panel owns
(``KeptForm``), so a form closed with esc and opened again shows what was typed. The plan form sends itself:
when AWS refuses (a missing vault, a duplicate name, read-only), the reason appears in the form. The upload and
download forms only choose; the panel then runs the transfer with its progress bar.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.widgets import Input

from opstui.aws.backup import EC2_ALL, check_plan_form, schedule_words
from opstui.aws.backup_models import BackupPlan, PlanSpec
from opstui.aws.s3 import download_path_problem, key_problem, upload_path_problem
from opstui.safe import clean
from opstui.views.common.form import Field, FormScreen
from opstui.views.common.kept_form import FieldProblems, KeptForm

DOWNLOAD_DIR = Path.home() / "opstui-downloads"

PLAN_LABELS = {"name": "Plan name", "time": "Daily at (UTC, HH:MM)", "keep": "Keep (days)",
               "copy": "Copy to region", "region": "Region of the plan", "type": "Resources"}


def plan_form_values(regions: list[str]) -> dict[str, str]:
    """The form's first values: the seed's plan (daily 05:00, keep 35, copy to the second region)."""
    return {"region": regions[0] if regions else "", "name": "", "time": "05:00", "keep": "35",
            "copy": regions[1] if len(regions) > 1 else ""}


def time_words(values: dict[str, str]) -> str:
    """The daily time as AWS Backup will run it ('daily at 05:00 UTC'), or nothing while it is not a time."""
    text = values.get("time", "")
    _, problems = check_plan_form("x", text, "1", "", "EC2", region="r")
    if "time" in problems:
        return ""
    hh, mm = text.strip().split(":")
    return schedule_words(f"cron({int(mm)} {int(hh)} ? * * *)", "Etc/UTC")


class PlanFormScreen(KeptForm):
    """Name, daily time (UTC), keep N days, copy to region, resource type EC2: one CreateBackupPlan and one
    CreateBackupSelection. ctrl+s checks and sends; esc closes, keeping what was typed."""

    AUTO_FOCUS = "#f-name"

    def __init__(self, values: dict[str, str], regions: list[str], existing: dict[str, list[str]],
                 create: Callable[[PlanSpec], Awaitable[BackupPlan]]) -> None:
        default = plan_form_values(regions)
        fields = [
            Field("name", PLAN_LABELS["name"], default["name"], placeholder="e.g. daily-ec2 (letters, digits, - _ .)"),
            Field("time", PLAN_LABELS["time"], default["time"], placeholder="05:00"),
            Field("keep", PLAN_LABELS["keep"], default["keep"], placeholder="35"),
            Field("copy", PLAN_LABELS["copy"], default["copy"], placeholder="e.g. ap-northeast-3 (empty: no copy)"),
            Field("region", PLAN_LABELS["region"], default["region"], options=tuple((r, r) for r in regions)),
        ]

        def build(v: dict[str, str]) -> PlanSpec:
            region = v["region"] or (regions[0] if regions else "")
            spec, problems = check_plan_form(v["name"], v["time"], v["keep"], v["copy"], "EC2", region=region,
                                             existing_names=existing.get(region, []))
            if problems or spec is None:
                raise FieldProblems(problems, PLAN_LABELS, "Fix the fields named above; nothing was sent.")
            return spec

        async def submit(spec: PlanSpec) -> None:
            self.created = await create(spec)

        note = (f"The seed's flow: every EC2 instance of the region ({EC2_ALL}), role AWSBackupDefaultServiceRole, "
                "start within 1 hour, complete within 3 hours, into vault Default (and Default in the copy region).")
        super().__init__("New backup plan (daily, keep N days, copy, all EC2)", fields, build, submit, store=values,
                         hints={"time": time_words}, note=note, submit_label="Create plan")
        self.created: BackupPlan | None = None


class UploadScreen(KeptForm):
    """A local file and the key to put it under (bucket and prefix of the S3 panel). The key follows the file
    name until it is edited by hand."""

    AUTO_FOCUS = "#f-path"
    KEPT = ("path",)  # the key comes back only when it was typed for this prefix

    def __init__(self, values: dict[str, str], bucket: str, prefix: str,
                 start: Callable[[Path, str], None] | None = None) -> None:
        touched = bool(values.get("key")) and values.get("key_prefix") == prefix
        fields = [Field("path", "Local file", "", placeholder="/path/to/file (~ works)"),
                  Field("key", "Object key", values.get("key", "") if touched else prefix)]

        def build(v: dict[str, str]) -> tuple[Path, str]:
            text = v["path"].strip()
            path = Path(text).expanduser() if text else Path()
            problems = {"path": upload_path_problem(path) if text else "type the path of a local file",
                        "key": key_problem(v["key"]) or ("the key ends with /: add a file name"
                                                         if v["key"].endswith("/") else "")}
            problems = {f: m for f, m in problems.items() if m}
            if problems:
                raise FieldProblems(problems, {"path": "Local file", "key": "Object key"})
            return path, v["key"]

        async def submit(chosen: tuple[Path, str]) -> None:
            if start is not None:
                start(*chosen)

        note = ("Files above 8 MB go as a multipart upload, 8 MB parts, 4 at a time; a versioned bucket keeps the "
                "earlier versions.")
        super().__init__(f"Upload to s3://{clean(bucket, 60)}/{clean(prefix, 100)}", fields, build, submit,
                         store=values, note=note, submit_label="Upload")
        self.prefix = prefix
        self._key_touched = touched
        self._auto_key = prefix  # what the form itself put in the key field (not a user edit)

    def field_changed(self, field: str, value: str) -> None:
        if field == "path" and not self._key_touched:
            name = Path(value.strip()).name if value.strip() else ""
            self._auto_key = self.prefix + name
            self.query_one("#f-key", Input).value = self._auto_key
        elif field == "key":
            self.store["key_prefix"] = self.prefix
            if value != self._auto_key:  # not set by the form (on mount, or following the file name)
                self._key_touched = True


class DownloadScreen(FormScreen):
    """Where to write an object (or one version of it); the panel downloads it once a path is chosen."""

    def __init__(self, what: str, default_path: Path, start: Callable[[Path], None]) -> None:
        def build(v: dict[str, str]) -> Path:
            text = v["path"].strip()
            path = Path(text).expanduser() if text else Path()
            problem = download_path_problem(path) if text else "type the local path to write to"
            if problem:
                raise ValueError(f"Write to: {problem}")
            return path

        async def submit(path: Path) -> None:
            start(path)

        super().__init__("Download", [Field("path", "Write to (local path)", str(default_path))], build, submit,
                         note=what, submit_label="Download")


__all__ = ["DOWNLOAD_DIR", "DownloadScreen", "PlanFormScreen", "UploadScreen", "plan_form_values"]
