"""Where a command sends its AWS calls: a deployed stage or local mode.

`--config FILE` reads the JSON that local mode writes (`.nas-local.json`: `aws_endpoint`, `region`,
`stream`, `tables`, `buckets`, `audit_signing_key`, …); explicit flags override it. With neither,
boto3's own settings (profile, environment) apply and the region defaults to eu-west-2 (R-UK).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nas.catalogue import UK_REGION

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class TargetError(ValueError):
    """The target settings are missing or malformed; the message names the setting."""


class AwsTarget(BaseModel):
    # `.nas-local.json` carries more (api_url, demo users …) than a command needs: ignore the rest.
    model_config = ConfigDict(extra="ignore", frozen=True)

    region: str = UK_REGION
    aws_endpoint: str | None = None
    stream: str | None = None
    tables: dict[str, str] = Field(default_factory=dict)
    buckets: dict[str, str] = Field(default_factory=dict)
    audit_signing_key: str | None = None
    queues: dict[str, str] = Field(default_factory=dict)
    read_rows_delivery: str | None = None
    retention_signing_key: str | None = None
    user_pool_id: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> AwsTarget:
        values: dict[str, Any] = {}
        if getattr(args, "config", None):
            path = Path(args.config)
            try:
                values = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise TargetError(f"--config {path}: {exc}") from None
            if not isinstance(values, dict):
                raise TargetError(f"--config {path}: expected a JSON object")
        if getattr(args, "endpoint", None):
            values["aws_endpoint"] = args.endpoint
        if getattr(args, "region", None):
            values["region"] = args.region
        if getattr(args, "stream", None):
            values["stream"] = args.stream
        for table in ("cameras", "voi"):
            flag = getattr(args, f"{table}_table", None)
            if flag:
                values.setdefault("tables", {})[table] = flag
        for bucket in ("reads", "quarantine"):
            flag = getattr(args, f"{bucket}_bucket", None)
            if flag:
                values.setdefault("buckets", {})[bucket] = flag
        if getattr(args, "queue", None):
            values.setdefault("queues", {})["consumer-failures"] = args.queue
        if getattr(args, "delivery_stream", None):
            values["read_rows_delivery"] = args.delivery_stream
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise TargetError(str(exc)) from None

    def client(self, service: str) -> Any:
        """A boto3 client for `service` at this target. Local mode (moto on loopback) takes any
        credentials, so none need configuring for it."""
        options: dict[str, Any] = {"region_name": self.region}
        if self.aws_endpoint:
            options["endpoint_url"] = self.aws_endpoint
            if urlparse(self.aws_endpoint).hostname in LOOPBACK_HOSTS:
                options.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - moto only
        return boto3.client(service, **options)  # type: ignore[call-overload]

    def table(self, logical_name: str) -> str:
        try:
            return self.tables[logical_name]
        except KeyError:
            raise TargetError(f"no {logical_name} table: pass --config or --{logical_name}-table") from None

    @property
    def is_local(self) -> bool:
        return bool(self.aws_endpoint) and urlparse(self.aws_endpoint or "").hostname in LOOPBACK_HOSTS

    def bucket(self, name: str) -> str:
        try:
            return self.buckets[name]
        except KeyError:
            raise TargetError(f"no {name} bucket: pass --config or --{name}-bucket") from None

    def read_stream(self) -> str:
        if not self.stream:
            raise TargetError("no read stream: pass --config or --stream")
        return self.stream


def add_target_arguments(
    parser: argparse.ArgumentParser, *, stream: bool = False, tables: tuple[str, ...] = ()
) -> None:
    parser.add_argument("--config", help="settings file written by `nas local` (.nas-local.json)")
    parser.add_argument("--endpoint", help="AWS endpoint URL, e.g. http://127.0.0.1:4566 for local mode")
    parser.add_argument("--region", help=f"AWS region (default {UK_REGION})")
    if stream:
        parser.add_argument("--stream", help="name of the Kinesis reads stream")
    for table in tables:
        parser.add_argument(f"--{table}-table", help=f"name of the {table} DynamoDB table")
