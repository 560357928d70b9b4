"""Builds the scheduled jobs' services from settings and boto3 clients: the one place their adapters
meet AWS clients. boto3 honours AWS_ENDPOINT_URL, so local mode points the same wiring at moto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from nas import catalogue
from nas.adapters.accounts import CognitoDirectory, DynamoAccountStore
from nas.adapters.alerts import DynamoAlertReader
from nas.adapters.audit import DynamoAuditTrail
from nas.adapters.corrections import DynamoCorrectionStore
from nas.adapters.digests import S3DigestStore
from nas.adapters.images import S3ImageStore
from nas.adapters.objects import S3ObjectStore
from nas.adapters.preservations import DynamoPreservationStore
from nas.adapters.retention import S3ObjectVersions, S3StatementStore
from nas.adapters.reviews import DynamoReviewStore
from nas.adapters.signing import KmsSigner, KmsVerifier
from nas.adapters.statistics import AthenaReadCounts, DynamoVoiCensus, ReadCounts, S3ReportStore
from nas.adapters.subject_requests import DynamoSubjectRequestStore
from nas.domain.leas import NATIONAL, lea_codes
from nas.domain.statistics import Labels
from nas.services.account_hygiene import JOB_NAME as HYGIENE_JOB
from nas.services.account_hygiene import HygienePorts
from nas.services.activity import ApiActivity, JobAudit
from nas.services.audit_digests import DigestPorts
from nas.services.overlay import SearchOverlay
from nas.services.retention import JOB_NAME as RETENTION_JOB
from nas.services.retention import RetentionPorts
from nas.services.statistics import JOB_NAME as STATISTICS_JOB
from nas.services.statistics import StatisticsPorts
from nas.services.subject_requests import ErasureWork
from nas.settings import RuntimeSettings, SettingsError


def wall_clock() -> datetime:
    return datetime.now(UTC)


def build_digest_ports(settings: RuntimeSettings, session: Any = boto3) -> DigestPorts:
    """R-AUDIT digest job: reads the chains, signs with the audit key, writes to the evidence bucket."""
    key = settings.require(settings.audit_signing_key, catalogue.AUDIT_SIGNING_KEY_ENV)
    days = settings.audit_digest_retention_days
    if days is None:
        raise SettingsError(f"{catalogue.AUDIT_DIGEST_RETENTION_ENV} is not set for this function")
    kms = session.client("kms")
    return DigestPorts(
        trail=DynamoAuditTrail(session.client("dynamodb"), settings.table(catalogue.AUDIT)),
        digests=S3DigestStore(session.client("s3"), settings.bucket(catalogue.Bucket.EVIDENCE)),
        signer=KmsSigner(kms, key),
        verifier=KmsVerifier(kms, key),
        retention=timedelta(days=days),
    )


def build_hygiene_ports(
    settings: RuntimeSettings, session: Any = boto3, *, clock: Callable[[], datetime] = wall_clock
) -> HygienePorts:
    """R-ACCOUNT daily job: the user pool, the accounts and reviews tables, the audit trail (read
    for API use, appended for the job's own actions). `clock` stamps the job's audit events."""
    dynamodb = session.client("dynamodb")
    trail = DynamoAuditTrail(dynamodb, settings.table(catalogue.AUDIT))
    return HygienePorts(
        directory=CognitoDirectory(
            session.client("cognito-idp"),
            settings.require(settings.user_pool_id, catalogue.USER_POOL_ENV),
            sign_in_events=settings.sign_in_events,
        ),
        store=DynamoAccountStore(dynamodb, settings.table(catalogue.ACCOUNTS)),
        reviews=DynamoReviewStore(dynamodb, settings.table(catalogue.ACCOUNT_REVIEWS)),
        activity=ApiActivity(trail),
        audit=lambda run_id: JobAudit(trail, HYGIENE_JOB, run_id, clock),
    )


def build_retention_ports(
    settings: RuntimeSettings, session: Any = boto3, *, clock: Callable[[], datetime] = wall_clock
) -> RetentionPorts:
    """R-RET-367 daily check: versions of the retained prefixes (list, delete), the evidence bucket
    (statements), the retention signing key, and the audit trail for the job's own actions."""
    key = settings.require(settings.retention_signing_key, catalogue.RETENTION_SIGNING_KEY_ENV)
    days = settings.retention_statement_lock_days
    if days is None:
        raise SettingsError(f"{catalogue.RETENTION_STATEMENT_LOCK_ENV} is not set for this function")
    s3 = session.client("s3")
    trail = DynamoAuditTrail(session.client("dynamodb"), settings.table(catalogue.AUDIT))
    return RetentionPorts(
        versions=S3ObjectVersions(s3),
        buckets={p.bucket: settings.bucket(p.bucket) for p in catalogue.RETAINED_PREFIXES},
        statements=S3StatementStore(
            s3, settings.bucket(catalogue.Bucket.EVIDENCE), catalogue.RETENTION_STATEMENT_PREFIX
        ),
        signer=KmsSigner(session.client("kms"), key),
        lock=timedelta(days=days),
        audit=lambda run_id: JobAudit(trail, RETENTION_JOB, run_id, clock),
    )


def read_counts(settings: RuntimeSettings, session: Any = boto3) -> ReadCounts:
    """R-STATS read counts through the search engine: Athena in AWS; DuckDB over the reads bucket in
    local mode (imported only there: duckdb is not in the Lambda layer)."""
    if settings.search_engine == "duckdb":
        from nas.adapters.duckdb_search import DuckDbSearchEngine
        from nas.adapters.duckdb_statistics import DuckDbReadCounts
        from nas.adapters.parquet_erasure import s3_filesystem

        engine = DuckDbSearchEngine(
            s3_filesystem(settings.aws_endpoint, settings.region), settings.bucket(catalogue.Bucket.READS)
        )
        return DuckDbReadCounts(engine)
    return AthenaReadCounts(
        session.client("athena"),
        workgroup=settings.require(settings.athena_workgroup, catalogue.ATHENA_WORKGROUP_ENV),
        database=settings.require(settings.glue_database, catalogue.GLUE_DATABASE_ENV),
    )


def report_store(settings: RuntimeSettings, session: Any = boto3) -> S3ReportStore:
    return S3ReportStore(
        session.client("s3"), settings.bucket(catalogue.Bucket.EVIDENCE), catalogue.STATISTICS_PREFIX
    )


def report_labels() -> Labels:
    return Labels(lea_codes() | {NATIONAL})


def build_statistics_ports(
    settings: RuntimeSettings,
    session: Any = boto3,
    *,
    clock: Callable[[], datetime] = wall_clock,
    reads: ReadCounts | None = None,
) -> StatisticsPorts:
    """R-STATS daily job: reads counted through the search engine (`reads` replaces the configured
    one), the quarantine bucket, the alerts, audit and VOI tables (read only, but for the job's own
    audit events), the evidence bucket."""
    dynamodb = session.client("dynamodb")
    trail = DynamoAuditTrail(dynamodb, settings.table(catalogue.AUDIT))
    return StatisticsPorts(
        reads=reads or read_counts(settings, session),
        quarantine=S3ObjectStore(session.client("s3")),
        quarantine_bucket=settings.bucket(catalogue.Bucket.QUARANTINE),
        alerts=DynamoAlertReader(dynamodb, settings.table(catalogue.ALERTS)),
        trail=trail,
        voi=DynamoVoiCensus(dynamodb, settings.table(catalogue.VOI)),
        reports=report_store(settings, session),
        labels=report_labels(),
        audit=lambda run_id: JobAudit(trail, STATISTICS_JOB, run_id, clock),
    )


def build_erasure_work(
    settings: RuntimeSettings,
    session: Any = boto3,
    *,
    clock: Callable[[], datetime] = wall_clock,
    filesystem: Any = None,
    root: str | None = None,
) -> ErasureWork:
    """R-SAR erasure function: the Parquet and packs of the reads bucket (pyarrow, from its own
    layer: imported here only), the subject request, the corrections (which rows show the VRM) and
    the preservations (kept, and listed). `filesystem` and `root` replace pyarrow's S3 client and the
    bucket (tests: a directory)."""
    from nas.adapters.parquet_erasure import NoVersions, ParquetReadEraser, S3VersionPurger, s3_filesystem

    dynamodb = session.client("dynamodb")
    s3 = session.client("s3")
    bucket = settings.bucket(catalogue.Bucket.READS)
    versions = S3VersionPurger(s3, bucket) if filesystem is None else NoVersions()
    eraser = ParquetReadEraser(
        filesystem or s3_filesystem(settings.aws_endpoint, settings.region),
        root or bucket,
        versions=versions,
        packs=S3ImageStore(s3, bucket),
    )
    requests = DynamoSubjectRequestStore(dynamodb, settings.table(catalogue.SUBJECT_REQUESTS))
    return ErasureWork(
        store=requests,
        overlay=SearchOverlay(
            DynamoCorrectionStore(dynamodb, settings.table(catalogue.CORRECTIONS)), requests
        ),
        eraser=eraser,
        preservations=DynamoPreservationStore(dynamodb, settings.table(catalogue.PRESERVATIONS)),
        clock=clock,
    )
