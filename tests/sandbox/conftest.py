"""Fixtures: one Sandbox per module (moto's state is process-global, so never two at once)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from opstui.sandbox.server import Sandbox

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def make_client_factory(sb: Sandbox) -> Callable[..., Any]:
    def client(service: str, region: str = "ap-northeast-1", **config: Any) -> Any:
        cfg = NO_RETRY.merge(Config(**config)) if config else NO_RETRY
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=sb.endpoint,
            aws_access_key_id=sb.credentials.access_key_id,
            aws_secret_access_key=sb.credentials.secret_access_key,
            config=cfg,
        )

    return client


@pytest.fixture(scope="module")
def default_sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(scenario="default", live=False, seed=42)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def client(default_sandbox: Sandbox) -> Callable[..., Any]:
    return make_client_factory(default_sandbox)
