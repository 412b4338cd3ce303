"""Doing one thing in every region at once, where one failing region never takes the others down."""

from __future__ import annotations

import asyncio
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
