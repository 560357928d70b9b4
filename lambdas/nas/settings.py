"""Runtime settings of a Lambda (or local-mode process), read once from the environment that CDK
(or local mode) sets from the catalogue."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

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
    voi_import_state_machine: str | None = None

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
            voi_import_state_machine=environ.get(catalogue.VOI_IMPORT_STATE_MACHINE_ENV),
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
