"""Regions: which names exist (botocore's partition data), and doing one thing in every region at once,
where one failing region never takes the others down."""

from __future__ import annotations

import asyncio
import difflib
import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from opstui.aws.errors import OpsError


def as_ops_error(err: BaseException, region: str, service: str = "") -> OpsError:
    """`err` as an OpsError the UI can show (an unexpected exception keeps only its type name)."""
    if isinstance(err, OpsError):
        return err
    return OpsError(f"unexpected failure: {type(err).__name__}", region=region, service=service,
                    hint="press r to retry; if it persists, report it")


async def per_region(regions: Iterable[str], call: Callable[[str], Awaitable[Any]], service: str = "",
                     ) -> list[tuple[str, Any, OpsError | None]]:
    """`call(region)` for every region concurrently: (region, result, None) or (region, None, error)."""

    async def one(region: str) -> tuple[str, Any, OpsError | None]:
        try:
            return region, await call(region), None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one region never takes the others down
            return region, None, as_ops_error(exc, region, service)

    return list(await asyncio.gather(*(one(r) for r in regions)))


def merged(results: Iterable[tuple[str, Any, OpsError | None]],
           kept: Callable[[str], Iterable[Any]] | None = None) -> tuple[list[Any], list[str]]:
    """The items of every region that answered, in region order, and one error line per region that failed.

    `kept(region)` gives what to keep showing for a region that failed this time (its last known rows), so a
    refresh that loses one region doesn't empty its part of a list: the error line says why it is stale.
    """
    items: list[Any] = []
    errors: list[str] = []
    for region, value, err in results:
        if err is not None:
            errors.append(str(err))
            if kept is not None:
                items.extend(kept(region))
        else:
            items.extend(value)
    return items, errors


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition (aws, aws-cn, aws-us-gov, the ISO ones ...) in botocore's endpoint
    data, read from the installed botocore (no network)."""
    from botocore.session import get_session

    data = get_session().get_component("data_loader").load_data("endpoints")
    return frozenset(r for partition in data.get("partitions", ()) for r in partition.get("regions", {}))


def region_problem(regions: Iterable[str]) -> str | None:
    """Why these regions cannot be used (for the user), or None. Checked before any call: an unknown name
    would otherwise reach the endpoint and come back as an unreadable parser error."""
    known = known_regions()
    for region in regions:
        if region in known:
            continue
        import botocore

        close = difflib.get_close_matches(region, sorted(known), n=2, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        return (f"unknown region {region!r}: {hint}(botocore {botocore.__version__} knows {len(known)} regions, "
                "e.g. us-east-1, eu-west-1, ap-northeast-1; a region opened since then needs a newer botocore)")
    return None
