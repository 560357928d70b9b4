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
        # Searches run on DuckDB over the same Parquet layout (SPEC §5), not Athena.
        catalogue.SEARCH_ENGINE_ENV: "duckdb",
        # No X-Ray daemon and no CloudWatch here: tracing off, EMF metrics not printed.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
