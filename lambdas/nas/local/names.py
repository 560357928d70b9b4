"""Physical names of the local stores, derived from the catalogue (never a second list)."""

from __future__ import annotations

from dataclasses import dataclass

from nas import catalogue

REGION = catalogue.UK_REGION
STAGE = "local"
SHARDS = 4


@dataclass(frozen=True, slots=True)
class LocalNames:
    prefix: str = f"nas-{STAGE}"

    @property
    def stream(self) -> str:
        return f"{self.prefix}-{catalogue.READ_STREAM}"

    @property
    def alert_bus(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def user_pool(self) -> str:
        return f"{self.prefix}-users"

    @property
    def app_client(self) -> str:
        return f"{self.prefix}-api"

    @property
    def audit_signing_key(self) -> str:
        """An alias: KMS takes it wherever a key id goes, and moto picks the key id itself."""
        return f"alias/{self.prefix}-audit-digests"

    @property
    def failure_queue(self) -> str:
        """The consumers' on-failure destination (the CDK app's `ConsumerFailures` queue)."""
        return f"{self.prefix}-consumer-failures"

    @property
    def retro_hunt_queue(self) -> str:
        """The API's retro-hunts for the retro-hunt function (the CDK app's `RetroHunts` queue)."""
        return f"{self.prefix}-retro-hunts"

    @property
    def retention_signing_key(self) -> str:
        return f"alias/{self.prefix}-retention-statements"

    def table(self, spec: catalogue.TableSpec) -> str:
        return f"{self.prefix}-{spec.logical_name}"

    def bucket(self, bucket: catalogue.Bucket) -> str:
        return f"{self.prefix}-{bucket.value}"

    @property
    def tables(self) -> dict[str, str]:
        return {spec.logical_name: self.table(spec) for spec in catalogue.TABLES}

    @property
    def buckets(self) -> dict[str, str]:
        return {bucket.value: self.bucket(bucket) for bucket in catalogue.Bucket}


def lambda_environment(names: LocalNames, endpoint: str, region: str = REGION) -> dict[str, str]:
    """The environment CDK gives the Lambdas (catalogue variable names), pointed at moto."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts any credentials
        catalogue.STAGE_ENV: STAGE,
        catalogue.SERVICE_ENV: "nas",
        catalogue.READ_STREAM_ENV: names.stream,
        catalogue.ALERT_BUS_ENV: names.alert_bus,
        **{spec.env_var: names.table(spec) for spec in catalogue.TABLES},
        **{bucket.env_var: names.bucket(bucket) for bucket in catalogue.Bucket},
        catalogue.AUDIT_SIGNING_KEY_ENV: names.audit_signing_key,
        catalogue.RETENTION_SIGNING_KEY_ENV: names.retention_signing_key,
        catalogue.RETENTION_STATEMENT_LOCK_ENV: "1",
        # moto does not emulate Cognito's auth events (AdminListUserAuthEvents): last sign-in unknown.
        catalogue.SIGN_IN_EVENTS_ENV: "off",
        # Local digests are locked for a day: enough to see the lock work, short enough to forget.
        catalogue.AUDIT_DIGEST_RETENTION_ENV: "1",
        # Searches run on DuckDB over the same Parquet layout (SPEC §5), not Athena.
        catalogue.SEARCH_ENGINE_ENV: "duckdb",
        # No X-Ray daemon and no CloudWatch here: tracing off, EMF metrics not printed.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
