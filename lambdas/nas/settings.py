"""Runtime settings of a Lambda (or local-mode process), read once from the environment that CDK
(or local mode) sets from the catalogue."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nas import catalogue


class SettingsError(RuntimeError):
    """A store the code needs was not configured for this function."""


class RuntimeSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9-]*$")
    service: str = Field(min_length=1)
    tables: Mapping[str, str] = Field(default_factory=dict)
    buckets: Mapping[str, str] = Field(default_factory=dict)
    read_stream: str | None = None
    alert_bus: str | None = None
    read_rows_delivery: str | None = None
    user_pool_id: str | None = None
    sign_in_events: bool = True
    """Whether the user pool keeps auth events (last sign-in); off in local mode (moto has none)."""
    audit_signing_key: str | None = None
    audit_digest_retention_days: int | None = Field(default=None, ge=1)
    retention_signing_key: str | None = None
    retention_statement_lock_days: int | None = Field(default=None, ge=1)
    search_engine: Literal["athena", "duckdb"] = "athena"
    athena_workgroup: str | None = None
    glue_database: str | None = None
    erasure_queue_url: str | None = None
    """R-SAR: where the api hands a granted erasure to the erasure function (AWS); unset, erasure
    runs in the api's process (local mode)."""
    aws_endpoint: str | None = None
    """Where AWS calls go when not to AWS itself (local mode's moto): boto3 reads it on its own; the
    DuckDB search engine's pyarrow S3 client is told."""
    region: str = catalogue.UK_REGION
    voi_import_state_machine: str | None = None
    retro_hunt_queue: str | None = None
    """The retro-hunt queue's URL: the API puts requested hunts on it (unset: no retro-hunts)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RuntimeSettings:
        return cls(
            stage=environ.get(catalogue.STAGE_ENV, ""),
            service=environ.get(catalogue.SERVICE_ENV, "nas"),
            tables={t.logical_name: environ[t.env_var] for t in catalogue.TABLES if t.env_var in environ},
            buckets={b.value: environ[b.env_var] for b in catalogue.Bucket if b.env_var in environ},
            read_stream=environ.get(catalogue.READ_STREAM_ENV),
            alert_bus=environ.get(catalogue.ALERT_BUS_ENV),
            read_rows_delivery=environ.get(catalogue.READ_ROWS_DELIVERY_ENV),
            user_pool_id=environ.get(catalogue.USER_POOL_ENV),
            sign_in_events=environ.get(catalogue.SIGN_IN_EVENTS_ENV, "on") != "off",
            audit_signing_key=environ.get(catalogue.AUDIT_SIGNING_KEY_ENV),
            audit_digest_retention_days=environ.get(catalogue.AUDIT_DIGEST_RETENTION_ENV) or None,
            retention_signing_key=environ.get(catalogue.RETENTION_SIGNING_KEY_ENV),
            retention_statement_lock_days=environ.get(catalogue.RETENTION_STATEMENT_LOCK_ENV) or None,
            search_engine=environ.get(catalogue.SEARCH_ENGINE_ENV) or "athena",
            athena_workgroup=environ.get(catalogue.ATHENA_WORKGROUP_ENV),
            glue_database=environ.get(catalogue.GLUE_DATABASE_ENV),
            erasure_queue_url=environ.get(catalogue.ERASURE_QUEUE_ENV),
            aws_endpoint=environ.get("AWS_ENDPOINT_URL"),
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or catalogue.UK_REGION,
            voi_import_state_machine=environ.get(catalogue.VOI_IMPORT_STATE_MACHINE_ENV),
            retro_hunt_queue=environ.get(catalogue.RETRO_HUNT_QUEUE_ENV),
        )

    def table(self, spec: catalogue.TableSpec) -> str:
        try:
            return self.tables[spec.logical_name]
        except KeyError:
            raise SettingsError(f"{spec.env_var} is not set for this function") from None

    def require(self, value: str | None, env_var: str) -> str:
        if not value:
            raise SettingsError(f"{env_var} is not set for this function")
        return value

    def bucket(self, bucket: catalogue.Bucket) -> str:
        try:
            return self.buckets[bucket.value]
        except KeyError:
            raise SettingsError(f"{bucket.env_var} is not set for this function") from None


@cache
def settings() -> RuntimeSettings:
    """Read once per execution environment; tests call `settings.cache_clear()` after changing it."""
    return RuntimeSettings.from_environ(os.environ)
