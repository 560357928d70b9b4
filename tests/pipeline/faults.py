"""Fault injection through the wiring's client factory: real (moto) clients, with chosen operations
failing the way AWS fails them, a given number of times."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

Fault = Callable[..., Any]
"""Called with the operation's keyword arguments instead of the operation; returns its response or
raises."""


def throttled(operation: str) -> Fault:
    def fail(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, operation)

    return fail


def put_events_rejected(**request: Any) -> dict[str, Any]:
    """PutEvents answering, as EventBridge does under throttling, with every entry failed."""
    entries = request["Entries"]
    return {
        "FailedEntryCount": len(entries),
        "Entries": [{"ErrorCode": "ThrottlingException"}] * len(entries),
    }


class FaultyClient:
    def __init__(self, client: Any, faults: FaultyClients) -> None:
        self._client = client
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        if not callable(real) or name.startswith("_"):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self._faults.calls[name] += 1
            planned = self._faults.planned.get(name)
            if planned and planned[0] > 0:
                planned[0] -= 1
                return planned[1](**kwargs)
            return real(*args, **kwargs)

        return call


class FaultyClients:
    """A client factory for `nas.pipeline.wiring`: `fail("put_events", times, fault)` makes the next
    `times` calls of that operation (on any client it made) answer with `fault`."""

    def __init__(self) -> None:
        self.planned: dict[str, list[Any]] = {}
        self.calls: defaultdict[str, int] = defaultdict(int)

    def fail(self, operation: str, times: int, fault: Fault) -> None:
        self.planned[operation] = [times, fault]

    def heal(self) -> None:
        self.planned.clear()

    def __call__(self, service: str, config: Config) -> Any:
        return FaultyClient(boto3.client(service, config=config), self)
