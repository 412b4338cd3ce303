"""Backup, panel 4: S3 file backups. The buckets (versioning, lifecycle, newest object); enter lists the objects
and every version under a prefix (enter goes into a prefix, esc or backspace goes up); `u` uploads a local file
under the prefix shown, `d` downloads the version under the cursor, both with a progress bar."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content

from opstui.aws import s3
from opstui.aws.backup_models import BucketInfo, S3Entry
from opstui.aws.errors import OpsError
from opstui.commands import commands_of
from opstui.private_files import create_folders
from opstui.safe import clean
from opstui.views.backup.forms import DOWNLOAD_DIR, DownloadScreen, UploadScreen
from opstui.views.backup.rows import BUCKET_COLUMNS, make_entry_columns
from opstui.views.backup.transfer import TransferLine
from opstui.views.common.format import size_text
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.work import action_work


class FilesPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "files", "S3 files", "4", "bk-buckets"
    BINDINGS = [*bindings_for(commands_of("backup", "files")), Binding("backspace", "up", "Up", show=False)]
    DEFAULT_CSS = """
    FilesPanel #bk-buckets { height: 9; }
    FilesPanel #bk-objects { height: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.buckets: list[BucketInfo] = []
        self.bucket: BucketInfo | None = None  # the bucket whose objects are listed
        self.prefix = ""
        self.upload_values: dict[str, str] = {}  # what the upload form had when it was closed
        self.bucket_loads = 0  # counters: tests and bench/backup.py wait on them
        self.listing_loads = 0
        self._listed: tuple[str, str] | None = None  # (bucket, prefix) the objects table shows

    def compose(self) -> ComposeResult:
        yield NodeTable(BUCKET_COLUMNS, key=lambda b: b.key, id="bk-buckets")
        yield NodeTable(make_entry_columns(lambda: self.prefix), key=lambda e: e.row_key, id="bk-objects")
        yield TransferLine()

    def on_mount(self) -> None:
        self.table("bk-buckets").border_title = Content("S3 buckets")
        self.table("bk-objects").border_title = Content("Objects")

    @property
    def transfer(self) -> TransferLine:
        return self.query_one(TransferLine)

    def reset(self) -> None:
        self.buckets, self.bucket, self.prefix, self._listed = [], None, "", None
        super().reset()

    # -- loading --------------------------------------------------------------------------------------------
    def load(self) -> None:
        if not self.ctx.regions:
            return
        self._load()
        if self.bucket is not None:
            self._load_listing()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        table = self.table("bk-buckets")
        if not self.loaded:
            table.border_title = Content("S3 buckets: loading…")
        try:
            buckets = await ctx.fresh(s3.list_buckets(ctx.aws, ctx.regions[0]), generation)
        except OpsError:
            table.border_title = Content("S3 buckets: failed")
            raise  # the status line says why
        self.errors = [f"{b.name}: {b.error}" for b in buckets if b.error]
        self.buckets = buckets
        self.show_rows("bk-buckets", buckets)
        versioned = sum(1 for b in buckets if b.versioning == "Enabled")
        table.border_title = Content(f"S3 buckets ({len(buckets)}, {versioned} versioned) · enter: objects")
        self.bucket_loads += 1

    @aws_work
    async def _load_listing(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        bucket, prefix = self.bucket, self.prefix
        if bucket is None:
            return
        table = self.table("bk-objects")
        where = f"s3://{clean(bucket.name, 60)}/{clean(prefix, 120)}"
        if (bucket.key, prefix) != self._listed:  # a refresh of the same prefix keeps its title
            table.border_title = Content(f"{where}: loading…")
        try:
            listing = await ctx.fresh(s3.list_versions(ctx.aws, bucket.region or ctx.regions[0], bucket.name, prefix),
                                      generation)
        except OpsError:
            table.set_rows([])
            table.border_title = Content(f"{where}: failed")
            raise  # the status line says why
        if (self.bucket, self.prefix) != (bucket, prefix):
            return  # another prefix was opened meanwhile
        self._listed = (bucket.key, prefix)
        table.set_rows(list(listing.entries))
        versions = sum(1 for e in listing.entries if e.kind == "version")
        folders = sum(1 for e in listing.entries if e.kind == "prefix")
        parts = [where, f"{folders} prefixes, {versions} versions"]
        if not listing.complete:
            parts.append(f"first {len(listing.entries)} only")
        parts.append("enter: open · esc: up · d: download" + ("" if ctx.read_only else " · u: upload"))
        table.border_title = Content(" · ".join(parts))
        self.listing_loads += 1

    def open_prefix(self, bucket: BucketInfo, prefix: str) -> None:
        self.bucket, self.prefix = bucket, prefix
        self._load_listing()
        self.table("bk-objects").focus()

    # -- keys -----------------------------------------------------------------------------------------------
    def _focused(self) -> NodeTable | None:
        focused = self.app.focused
        return focused if isinstance(focused, NodeTable) and self in focused.ancestors else None

    def action_open(self) -> None:
        """enter: a bucket's objects, a prefix's contents, or (on a version) the download form."""
        table = self._focused()
        row = table.cursor_row if table is not None else None
        if table is None or row is None:
            return
        if table.id == "bk-buckets":
            self.open_prefix(row, "")
        elif self.bucket is not None:
            if row.kind == "prefix":
                self.open_prefix(self.bucket, row.key)
            else:
                self.action_download()

    def action_up(self) -> None:
        table = self._focused()
        if table is not None and table.id == "bk-objects":
            self._prefix_up()

    def _prefix_up(self) -> bool:
        if self.bucket is None or not self.prefix:
            return False
        parent = self.prefix.rstrip("/").rpartition("/")[0]
        self.open_prefix(self.bucket, parent + "/" if parent else "")
        return True

    def action_back(self) -> bool:
        """esc in the objects: up one prefix, and from the top back to the buckets."""
        table = self._focused()
        if table is None or table.id != "bk-objects":
            return False
        if not self._prefix_up():
            self.table("bk-buckets").focus()
        return True

    # -- transfers ------------------------------------------------------------------------------------------
    def action_upload(self) -> None:
        if self.refused("upload"):
            return
        bucket, prefix = self.bucket, self.prefix
        if bucket is None:
            self.app.notify("Open a bucket first (4: S3 files, enter on a bucket)", severity="warning", markup=False)
            return
        self.app.push_screen(UploadScreen(self.upload_values, bucket.name, prefix,
                                          lambda path, key: self._upload(bucket, path, key)))

    def action_download(self) -> None:
        entry: S3Entry | None = self.table("bk-objects").cursor_row
        bucket = self.bucket
        if bucket is None or entry is None or entry.kind != "version":
            self.app.notify("Move the cursor to an object version first (enter on a bucket, then on a prefix)",
                            severity="warning", markup=False)
            return
        name = Path(entry.key).name or "object"
        if not entry.is_latest and entry.version_id:
            stem, dot, ext = name.partition(".")
            name = f"{stem}.{entry.version_id[:8]}{dot}{ext}"
        what = (f"s3://{clean(bucket.name, 60)}/{clean(entry.key, 200)}\nversion {clean(entry.version_id or 'null', 60)}"
                f"{' (latest)' if entry.is_latest else ''}, {size_text(entry.size)}")
        self.app.push_screen(DownloadScreen(what, DOWNLOAD_DIR / name, lambda path: self._download(bucket, entry, path)))

    @action_work("bk-transfer")
    async def _upload(self, bucket: BucketInfo, path: Path, key: str) -> None:
        ctx, line = self.ctx, self.transfer
        line.begin(f"Uploading {clean(path.name, 40)} → s3://{clean(bucket.name, 40)}/{clean(key, 60)}")
        try:
            version = await ctx.run(s3.upload_file(ctx.aws, bucket.region or ctx.regions[0], bucket.name, key, path,
                                                   progress=line.progress))
        except (OpsError, OSError) as err:  # refused by S3, or the file went away
            line.end(False, f"Upload failed: {clean(str(err), 200)}")
            self.app.notify(clean(str(err), 400), title="Upload failed", severity="error", markup=False)
            return
        except Exception as exc:  # noqa: BLE001 - a bug: the tab's one failure handler shows it
            line.end(False, f"Upload failed: {type(exc).__name__}")
            self.tab.worker_failed(self, exc, doing="the transfer")
            return
        line.end(True, f"Uploaded {clean(key, 80)} ({size_text(line.total)})"
                 + (f", version {clean(version, 40)}" if version else ""))
        self.app.notify(f"Uploaded {clean(path.name, 80)} to s3://{clean(bucket.name, 60)}/{clean(key, 200)}"
                        + (f" (version {clean(version, 60)})" if version else ""), title="Upload", markup=False)
        self._load_listing()

    @action_work("bk-transfer")
    async def _download(self, bucket: BucketInfo, entry: S3Entry, path: Path) -> None:
        ctx, line = self.ctx, self.transfer
        try:  # the form let a missing folder through: it is made here, off the UI thread
            created = await asyncio.to_thread(create_folders, path.parent)
        except OSError as err:
            message = f"cannot create the folder {path.parent}: {err.strerror or err}"
            self.app.notify(clean(message, 400), title="Download failed", severity="error", markup=False)
            return
        if created is not None:
            self.app.notify(f"Created the folder {clean(str(created), 200)} for the download", title="Download",
                            markup=False)
        line.begin(f"Downloading {clean(Path(entry.key).name, 40)} → {clean(str(path), 60)}")
        try:
            written = await ctx.run(s3.download_file(
                ctx.aws, bucket.region or ctx.regions[0], bucket.name, entry.key, path,
                version_id=entry.version_id if entry.version_id and entry.version_id != "null" else "",
                progress=line.progress))
        except OpsError as err:
            line.end(False, f"Download failed: {clean(str(err), 200)}")
            self.app.notify(clean(str(err), 400), title="Download failed", severity="error", markup=False)
            return
        except Exception as exc:  # noqa: BLE001 - a bug: the tab's one failure handler shows it
            line.end(False, f"Download failed: {type(exc).__name__}")
            self.tab.worker_failed(self, exc, doing="the transfer")
            return
        made = f" (created the folder {clean(str(created), 60)})" if created is not None else ""
        line.end(True, f"Downloaded {size_text(written)} to {clean(str(path), 80)}{made}")
        self.app.notify(f"Wrote {written} bytes to {clean(str(path), 200)}", title="Download", markup=False)
