"""The one place that creates AWS clients, sends calls, maps errors and enforces read-only mode.

Every AWS call in opstui goes through `AwsClients.call` or `AwsClients.paginate`, so a reader finds error
mapping, call counting and the read-only guard here and nowhere else. The guard is a botocore `before-call`
event handler registered on every client this factory creates: it refuses any operation that is not a read
(Describe/List/Get/...) before a request is built, so later modules that add mutating calls are covered
without any code of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore import exceptions as bex
from botocore.loaders import Loader, create_loader
from botocore.utils import parse_timestamp

from opstui.aws.budgets import Pacer
from opstui.aws.errors import OpsError, ReadOnlyError, map_error

READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Search", "Filter", "Lookup")
#: Operations that only read but whose names do not say so would be named here one by one; there are none.
#: The prefix rule is the project's (issue 18) and fails closed. StartLiveTail, StartQuery and StopQuery are in
#: AWS's CloudWatchLogsReadOnlyAccess policy, yet each starts something that runs and is billed (a Live Tail
#: session by the minute, a query by the data it scans): read-only mode refuses them, and the Logs tab follows
#: by polling FilterLogEvents instead.
READ_OPERATIONS: frozenset[str] = frozenset()


@functools.cache
def shared_loader(data_path: str | None) -> Loader:
    """One botocore data loader for every session of the process. Each session otherwise re-reads and re-parses
    the JSON service models and endpoint rules when it makes its first clients (about 0.3 s of CPU per session
    for the app's services): a new profile or region set, a restart of the fleet after a switch, and every app
    the test suite starts. The loader only reads botocore's data files and caches what it parsed; the models are
    never changed after loading, so sessions can share them."""
    return create_loader(data_path)


def is_read_operation(operation: str) -> bool:
    """True for operations that only read. Everything else counts as mutating (fail closed)."""
    return operation.startswith(READ_PREFIXES) or operation in READ_OPERATIONS


def parse_timestamp_utc(value: Any) -> datetime:
    """botocore's response timestamp parser, with one shared UTC instead of a new tzlocal() per value.

    botocore's default turns every epoch number of a response (CBOR and JSON protocols: GetMetricData,
    DescribeAlarms, ...) into local time through a fresh dateutil tzlocal(), ~18-25 µs a value: 3-4 s for the
    144,000 points of 500 series over a day. opstui converts every timestamp to UTC anyway (`models.utc`) and
    shows local time with `.astimezone()`, so the instant is the same and only the tzinfo differs. Text
    timestamps (ISO 8601 / RFC 822 of the XML protocols) and out-of-range numbers keep botocore's parser."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return parse_timestamp(value)


@dataclass(frozen=True)
class StaticCredentials:
    """Explicit credentials (the demo's dummy keys). Never printed: repr hides the values."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:
        return "StaticCredentials(***)"


class AwsClients:
    """Lazily creates one aiobotocore client per (service, region) for one profile; closes them on `close()`."""

    def __init__(
        self,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
        read_only: bool = False,
        credentials: StaticCredentials | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        max_attempts: int = 4,
    ) -> None:
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.read_only = read_only
        self._credentials = credentials
        self._config = AioConfig(
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=20,
        )
        self._session: AioSession | None = None
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[tuple[str, str], Any] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.calls: Counter[str] = Counter()  # "service:Operation" -> calls sent (bench and tests read it)
        self.refused: Counter[str] = Counter()  # "service:Operation" -> calls the read-only guard stopped
        #: request-rate budgets of the operations opstui polls (aws/budgets.py): each attempt waits for a token
        self.pacer = Pacer()
        self._closed = False
        self._known_regions: set[str] | None = None

    # -- session and clients -------------------------------------------------------------------------------
    @property
    def session(self) -> AioSession:
        if self._session is None:
            session = get_session()
            session.register_component("data_loader", shared_loader(session.get_config_variable("data_path")))
            if self.profile:
                session.set_config_variable("profile", self.profile)
            # every client of this session parses response timestamps into UTC (see parse_timestamp_utc)
            session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp_utc)
            self._session = session
        return self._session

    @property
    def is_sso_profile(self) -> bool:
        try:
            cfg = self.session.get_scoped_config()
        except Exception:
            return False
        return bool(cfg.get("sso_start_url") or cfg.get("sso_session"))

    def default_region(self) -> str | None:
        try:
            return self.session.get_config_variable("region")
        except Exception:
            return None

    async def known_regions(self) -> set[str]:
        """Every region botocore's endpoint data knows (all partitions); cached."""
        if self._known_regions is None:
            regions: set[str] = set()
            for partition in ("aws", "aws-cn", "aws-us-gov"):
                with contextlib.suppress(Exception):
                    regions.update(await self.session.get_available_regions("ec2", partition_name=partition))
            self._known_regions = regions
        return self._known_regions

    async def client(self, service: str, region: str) -> Any:
        if self._closed:
            raise OpsError("client factory is closed", service=service, region=region)
        key = (service, region)
        if key in self._clients:
            return self._clients[key]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._clients:
                return self._clients[key]
            if not self.endpoint_url and region not in await self.known_regions():
                raise OpsError(
                    f"unknown region {region!r}",
                    kind="unknown-region",
                    service=service,
                    region=region,
                    hint="check --region (e.g. ap-northeast-1)",
                )
            kwargs: dict[str, Any] = {"region_name": region, "config": self._config}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
                # botocore prepends an operation's host prefix (StartLiveTail: "stream-") to any endpoint URL,
                # IP literals included ("stream-127.0.0.1" resolves nowhere); a custom endpoint is one host
                # that serves the whole API, so it gets the request as is
                kwargs["config"] = self._config.merge(AioConfig(inject_host_prefix=False))
            if self._credentials:
                kwargs["aws_access_key_id"] = self._credentials.access_key
                kwargs["aws_secret_access_key"] = self._credentials.secret_key
                kwargs["aws_session_token"] = self._credentials.token
            try:
                client = await self._stack.enter_async_context(self.session.create_client(service, **kwargs))
            except Exception as exc:
                raise self._map(exc, service, region) from None
            client.meta.events.register("before-call", self._before_call)
            client.meta.events.register("before-send", functools.partial(self._pace, region))
            self._clients[key] = client
            return client

    def _before_call(self, model: Any, **_: Any) -> None:
        """botocore event hook: counts calls and is the read-only guard (raising here sends nothing)."""
        service = model.service_model.signing_name or model.service_model.service_name
        if self.read_only and not is_read_operation(model.name):
            self.refused[f"{service}:{model.name}"] += 1
            raise ReadOnlyError(
                f"read-only mode: {service}:{model.name} was not sent",
                kind="read-only",
                service=service,
                operation=model.name,
                hint="restart opstui without --read-only to make changes",
            )
        self.calls[f"{service}:{model.name}"] += 1

    async def _pace(self, region: str, event_name: str = "", **_: Any) -> None:
        """botocore ``before-send`` hook (awaited by aiobotocore, once per attempt): wait for the budget's token.
        Returns None, so the request is sent as usual."""
        _, service, operation = (event_name.split(".", 2) + ["", ""])[:3]
        await self.pacer.take(service, operation, region)

    async def close(self) -> None:
        self._closed = True
        clients, self._clients = self._clients, {}
        with contextlib.suppress(Exception):
            await self._stack.aclose()
        clients.clear()

    # -- calls --------------------------------------------------------------------------------------------
    def _map(self, exc: BaseException, service: str, region: str, operation: str = "") -> OpsError:
        err = map_error(
            exc,
            service=service,
            region=region,
            operation=operation,
            profile=self.profile,
            sso=self.is_sso_profile if isinstance(exc, bex.ClientError | bex.BotoCoreError) else False,
            endpoint_url=self.endpoint_url,
        )
        if not err.region:
            err.region = region
        return err

    def error(self, exc: BaseException, service: str, region: str, operation: str = "") -> OpsError:
        """The OpsError for a failure met after a call returned (reading an event stream, say)."""
        return self._map(exc, service, region, operation)

    async def call(self, service: str, region: str, operation: str, **params: Any) -> dict[str, Any]:
        """One API call, e.g. `await aws.call("sts", r, "get_caller_identity")`; failures raise OpsError."""
        client = await self.client(service, region)
        try:
            return await getattr(client, operation)(**params)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise self._map(exc, service, region, _op_name(operation)) from None

    async def paginate(
        self, service: str, region: str, operation: str, result_key: str, **params: Any
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yields each page's `result_key` list; botocore's paginator handles tokens (never hand-rolled)."""
        client = await self.client(service, region)
        try:
            paginator = client.get_paginator(operation)
            async for page in paginator.paginate(**params):
                yield page.get(result_key, [])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise self._map(exc, service, region, _op_name(operation)) from None


def _op_name(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))
