"""The account id the Backup tab's changes need (role and vault ARNs of CreateBackupPlan, StartBackupJob and
StartRestoreJob): the one the app learnt from STS at start, or asked now if an action comes before that answer."""

from __future__ import annotations

from opstui.aws.sts import caller_identity
from opstui.views.common.context import AppContext


async def account_id(ctx: AppContext) -> str:
    """Await on the UI loop: the STS call itself runs on the AWS loop."""
    if ctx.account.isdigit():
        return ctx.account
    ident = await ctx.run(caller_identity(ctx.aws, ctx.regions[0]))
    return ident.account
