"""STS: who am I (account id for the header)."""

from __future__ import annotations

from opstui.aws.clients import AwsClients
from opstui.aws.models import CallerIdentity


async def caller_identity(aws: AwsClients, region: str) -> CallerIdentity:
    resp = await aws.call("sts", region, "get_caller_identity")
    return CallerIdentity(account=resp.get("Account", ""), arn=resp.get("Arn", ""), user_id=resp.get("UserId", ""))
