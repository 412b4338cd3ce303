"""Resource Groups calls: a group's EC2 instances, to show who a `resource-groups:Name` target reaches."""

from __future__ import annotations

from opstui.aws.clients import AwsClients


async def list_groups(aws: AwsClients, region: str) -> list[str]:
    names: list[str] = []
    async for page in aws.paginate("resource-groups", region, "list_groups", "GroupIdentifiers"):
        names.extend(g.get("GroupName", "") for g in page)
    return sorted(n for n in names if n)


async def list_group_instances(aws: AwsClients, region: str, group: str) -> list[str]:
    """Instance ids (and mi- ids) in a group, from ListGroupResources."""
    ids: list[str] = []
    async for page in aws.paginate("resource-groups", region, "list_group_resources", "ResourceIdentifiers",
                                   Group=group):
        for res in page:
            arn = res.get("ResourceArn", "")
            if ":instance/" in arn or ":managed-instance/" in arn:
                ids.append(arn.rsplit("/", 1)[-1])
    return ids
