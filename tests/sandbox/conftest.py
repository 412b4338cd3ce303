"""Fixtures: one Sandbox per module (moto's state is process-global, so never two at once)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from opstui.sandbox.recorder import RECORD_ENV
from opstui.sandbox.server import Sandbox
from tests.contract import assert_contract

# inject_host_prefix off: botocore would send StartLiveTail to "stream-127.0.0.1" (see logs_live_tail.py)
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"}, inject_host_prefix=False)


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


@contextlib.contextmanager
def recorded_sandbox(state: Path, mp: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A default-scenario Sandbox in this process whose every response is recorded and, once it stops, checked
    against botocore's output shapes (tests/contract.py)."""
    mp.setenv(RECORD_ENV, str(state / "responses.jsonl"))
    sandbox = Sandbox(scenario="default", live=False, seed=42, state_dir=state)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
    assert_contract(state / "responses.jsonl")
