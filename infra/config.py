"""Stage settings, read once from CDK context (`-c stage=dev`, `cdk.json`) into a typed model."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infra.capacity import Capacity, CapacityError, check
from nas.catalogue import UK_REGION
from nas.console import tile_origin
from nas.domain.leas import lea_codes

# CloudWatch accepts only fixed retention periods; these are the ones a stage may choose.
LOG_RETENTION_CHOICES = (30, 90, 400, 731)


class RegionNotAllowed(ValueError):
    """R-UK: every NAS resource is in eu-west-2 (London)."""


class StageConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str = Field(min_length=1, max_length=16, pattern=r"^[a-z][a-z0-9]*$")
    region: str = UK_REGION
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    # R-NET: networks (force gateways, PSN) allowed to call the API; empty means nobody can.
    api_allowed_cidrs: tuple[str, ...] = ()
    api_rate_limit_per_s: int = Field(default=200, ge=1)
    api_burst_limit: int = Field(default=400, ge=1)
    # Concurrent executions reserved for, and capping, the api function, so API load or a stalling
    # dependency cannot take the concurrency the stream consumers need (R-ALERT). Defaults to the
    # burst limit: the gateway admits at most that many requests at once and API requests are short
    # table reads and writes (searches run asynchronously), so more in flight means requests are
    # stuck, not busy. Filled in by `_reserved_concurrency_from_burst` when a stage does not set it.
    api_reserved_concurrency: int = Field(ge=1)
    # Requests one source IP may make in 5 minutes before WAF blocks it.
    waf_rate_limit_per_5min: int = Field(default=3000, ge=100)
    athena_bytes_scanned_cutoff: int = Field(default=200 * 1024**3, ge=10 * 1024**2)
    log_retention_days: Literal[LOG_RETENTION_CHOICES] = 400  # type: ignore[valid-type]
    # Production stages keep stateful stores when the stack is deleted; dev may destroy them.
    retain_data: bool = True
    # R-ALERT: LEAs whose mobile data terminals receive alerts; each gets its own SNS topic.
    mdt_leas: tuple[str, ...] = ()
    # R-AUDIT: days each signed audit digest stays locked (S3 Object Lock, compliance mode: nobody can
    # shorten it or delete the digest meanwhile). Seven years: the six-year limitation period for
    # civil claims (Limitation Act 1980), within which a use of the service may be challenged, and a
    # year for a claim to reach disclosure. Digests hold hashes, no personal data, so keeping them
    # long costs nothing in privacy; dev stages set 1 so their buckets can be emptied.
    audit_digest_retention_days: int = Field(default=2557, ge=1, le=36500)
    # The console map's base layer: an XYZ tile URL template (`https://host/{z}/{x}/{y}.png`) on a
    # server the force approves; empty draws camera sites on a plain projection and fetches nothing.
    # Never a public tile server by default (R-UK).
    console_tile_url: str = Field(default="", max_length=512)

    # --- capacity (docs/capacity.md, infra/capacity.py) ---
    # The design peak, reads a second (sustained load is about half): shards, concurrency and the
    # Firehose quota follow from it.
    peak_reads_per_s: int = Field(default=20_000, ge=1)
    # provisioned: a fixed number of shards, sized for the peak (far cheaper than on-demand at the
    # national rate); on-demand: scales by itself, to 200 MB/s in London unless AWS raises it.
    stream_mode: Literal["provisioned", "on-demand"] = "provisioned"
    # Provisioned shards; by default what the peak needs.
    stream_shards: int | None = Field(default=None, ge=1)
    # On-demand only, and only in accounts with On-demand Advantage: write capacity kept warm, MiB/s.
    stream_warm_throughput_mibps: int | None = Field(default=None, ge=1)
    # Concurrent executions reserved for (and capping) match; by default shards x 2 (its batches).
    match_reserved_concurrency: int | None = Field(default=None, ge=1)
    # The quotas the account holds in eu-west-2: synthesis fails, naming the one to raise, when the
    # design peak needs more. AWS's defaults in London unless a stage says otherwise.
    lambda_concurrency_quota: int = Field(default=1_000, ge=1)
    kinesis_shard_quota: int = Field(default=1_000, ge=1)
    kinesis_on_demand_quota_mbps: float = Field(default=200, gt=0)
    read_rows_quota_mibps: float = Field(default=1.0, gt=0)

    @property
    def capacity(self) -> Capacity:
        return Capacity(self.peak_reads_per_s)

    @property
    def shards(self) -> int:
        """Provisioned: the stream's shards; on-demand: about as many as it scales to at the peak."""
        return self.stream_shards or self.capacity.shards

    @property
    def match_concurrency(self) -> int:
        return self.match_reserved_concurrency or self.capacity.match_concurrency(self.shards)

    def capacity_problems(self) -> list[str]:
        return check(
            self.capacity,
            provisioned=self.stream_mode == "provisioned",
            shards=self.shards,
            shard_quota=self.kinesis_shard_quota,
            on_demand_quota_mb_per_s=self.kinesis_on_demand_quota_mbps,
            match_reserved=self.match_concurrency,
            api_reserved=self.api_reserved_concurrency,
            lambda_quota=self.lambda_concurrency_quota,
            read_rows_quota_mib_per_s=self.read_rows_quota_mibps,
        )

    def require_capacity(self) -> None:
        """Synthesis refuses a stage whose design peak does not fit its account's quotas."""
        problems = self.capacity_problems()
        if problems:
            raise CapacityError(f"stage {self.stage} does not fit its quotas: " + "; ".join(problems))

    @model_validator(mode="after")
    def _stream_settings(self) -> StageConfig:
        if self.stream_mode == "on-demand" and self.stream_shards is not None:
            raise ValueError("stream_shards: only a provisioned stream has a fixed number of shards")
        if self.stream_mode == "provisioned" and self.stream_warm_throughput_mibps is not None:
            raise ValueError("stream_warm_throughput_mibps: only an on-demand stream keeps throughput warm")
        return self

    @model_validator(mode="before")
    @classmethod
    def _reserved_concurrency_from_burst(cls, values: Any) -> Any:
        """The api function's reserved concurrency defaults to the stage's burst limit."""
        if isinstance(values, dict) and values.get("api_reserved_concurrency") is None:
            burst = values.get("api_burst_limit", cls.model_fields["api_burst_limit"].default)
            return {**values, "api_reserved_concurrency": burst}
        return values

    @field_validator("region")
    @classmethod
    def _uk_only(cls, region: str) -> str:
        if region != UK_REGION:
            raise RegionNotAllowed(
                f"R-UK: every NAS resource must be in {UK_REGION} (London);"
                f" refusing to synthesise for {region!r}"
            )
        return region

    @field_validator("api_allowed_cidrs")
    @classmethod
    def _cidrs(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in cidrs:
            network = ipaddress.ip_network(cidr, strict=True)
            if network.version != 4:
                raise ValueError(f"api_allowed_cidrs: only IPv4 ranges are supported, got {cidr}")
        return cidrs

    @field_validator("console_tile_url")
    @classmethod
    def _tile_url(cls, url: str) -> str:
        tile_origin(url)  # raises, naming what is wrong
        return url

    @field_validator("mdt_leas")
    @classmethod
    def _known_leas(cls, leas: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(leas) - lea_codes())
        if unknown:
            raise ValueError(f"mdt_leas: not approved LEA codes (leas.csv): {', '.join(unknown)}")
        if len(set(leas)) != len(leas):
            raise ValueError("mdt_leas: each LEA may be listed once")
        return leas

    @classmethod
    def from_context(cls, context: Mapping[str, Any], *, default_account: str | None = None) -> StageConfig:
        """`context` is the app's context: `stage` selects `stages.<stage>` from cdk.json, and explicit
        `-c key=value` entries override it."""
        stage = context.get("stage") or "dev"
        stages = context.get("stages") or {}
        values: dict[str, Any] = {"stage": stage, **stages.get(stage, {})}
        for key in cls.model_fields:
            if key in context and key != "stage":
                values[key] = context[key]
        if isinstance(values.get("stream_shards"), str) and values["stream_shards"].lower() == "none":
            values["stream_shards"] = None
        for listed in ("api_allowed_cidrs", "mdt_leas"):
            if isinstance(values.get(listed), str):  # `-c api_allowed_cidrs=a,b` from the CLI
                values[listed] = tuple(c for c in values[listed].split(",") if c)
        if isinstance(values.get("retain_data"), str):
            values["retain_data"] = values["retain_data"].lower() == "true"
        values.setdefault("account", default_account)
        # Checked before the model so the failure is the R-UK sentence, not a validation dump.
        cls._uk_only(values.get("region", UK_REGION))
        return cls.model_validate(values)
