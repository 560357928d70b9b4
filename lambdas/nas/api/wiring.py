"""The API's services and the adapters under them, built once per execution environment from the
runtime settings. boto3 honours AWS_ENDPOINT_URL, so local mode points the same wiring at moto.
Tests build their own with `build_services(..., clock=…)` and `install` it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3

from nas import catalogue
from nas.adapters.accounts import CognitoDirectory, DynamoAccountStore
from nas.adapters.alerts import DynamoAlertReader
from nas.adapters.audit import AuditTrail, DynamoAuditTrail
from nas.adapters.authorisations import DynamoAuthorisationStore
from nas.adapters.cameras import DynamoCameraDirectory
from nas.adapters.corrections import DynamoCorrectionStore
from nas.adapters.digests import S3DigestStore
from nas.adapters.erasure_queue import SqsErasureQueue
from nas.adapters.evidence import S3EvidenceStore
from nas.adapters.images import S3ImageStore
from nas.adapters.preservations import DynamoPreservationStore
from nas.adapters.retention import S3StatementStore, StatementStore
from nas.adapters.reviews import DynamoReviewStore
from nas.adapters.search import SearchEngine
from nas.adapters.search_results import S3ResultStore
from nas.adapters.searches import DynamoSearchStore
from nas.adapters.signing import KmsVerifier, SignatureVerifier
from nas.adapters.statistics import ReportStore, S3ReportStore
from nas.adapters.stored_reads import AthenaReadStore, ReadStore
from nas.adapters.subject_requests import DynamoSubjectRequestStore
from nas.adapters.voi import DynamoVoiStore
from nas.domain.leas import NATIONAL, lea_codes
from nas.domain.statistics import Labels
from nas.services.accounts import AccountGate, AccountService
from nas.services.activity import ApiActivity
from nas.services.alerts import AlertService
from nas.services.audit_verification import VerifyPorts
from nas.services.authorisations import AuthorisationService
from nas.services.overlay import SearchOverlay
from nas.services.preservations import PreservationService
from nas.services.reads import OwnSearchReads, ReadService
from nas.services.retention import RetentionReports
from nas.services.searches import SearchService
from nas.services.statistics import StatisticsReports
from nas.services.subject_requests import ErasureDispatch, ReadEraser, SubjectRequestService
from nas.services.voi import VoiService
from nas.services.voi_imports import VoiImportService
from nas.services.wiring import build_import_service, build_voi_service, search_engine
from nas.settings import RuntimeSettings, settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Services:
    audit: AuditTrail
    audit_verification: Callable[[], VerifyPorts]
    """Built on first use: only `GET /audit/verify` needs the evidence bucket and the signing key."""
    alerts: AlertService
    account_gate: AccountGate
    accounts: AccountService
    retention: RetentionReports
    searches: SearchService
    authorisations: AuthorisationService
    voi: VoiService
    voi_imports: VoiImportService
    statistics: StatisticsReports
    reads: ReadService
    preservations: PreservationService
    subject_requests: SubjectRequestService


def stored_reads(config: RuntimeSettings, session: Any = boto3) -> tuple[ReadStore, ReadEraser | None]:
    """Stored rows by reference, and the erasure rewriter: over the Parquet with pyarrow in local mode
    (imported only there); in AWS rows come through Athena, and erasure is queued for the erasure
    function, the one with pyarrow in its layers (docs/reads.md)."""
    if config.search_engine == "duckdb":
        from nas.adapters.parquet_erasure import ParquetReadEraser, S3VersionPurger, s3_filesystem
        from nas.adapters.parquet_reads import ParquetReadStore

        bucket = config.bucket(catalogue.Bucket.READS)
        filesystem = s3_filesystem(config.aws_endpoint, config.region)
        s3 = session.client("s3")
        eraser = ParquetReadEraser(
            filesystem, bucket, versions=S3VersionPurger(s3, bucket), packs=S3ImageStore(s3, bucket)
        )
        return ParquetReadStore(filesystem, bucket), eraser
    store = AthenaReadStore(
        session.client("athena"),
        workgroup=config.require(config.athena_workgroup, catalogue.ATHENA_WORKGROUP_ENV),
        database=config.require(config.glue_database, catalogue.GLUE_DATABASE_ENV),
    )
    return store, None


def build_services(
    config: RuntimeSettings,
    session: Any = boto3,
    *,
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    engine: SearchEngine | None = None,
    reads: ReadStore | None = None,
    eraser: ReadEraser | None = None,
    erasures: ErasureDispatch | None = None,
) -> Services:
    """`engine`, `reads` and `eraser` replace the configured search engine, stored-row reader and
    erasure rewriter, `erasures` the erasure queue (tests). With an erasure queue configured (AWS) a
    granted erasure is queued for the erasure function; without, it runs here (local mode)."""
    dynamodb = session.client("dynamodb")
    trail = DynamoAuditTrail(dynamodb, config.table(catalogue.AUDIT))
    account_store = DynamoAccountStore(dynamodb, config.table(catalogue.ACCOUNTS))
    gate = AccountGate(account_store, monotonic=monotonic)
    authorisations = DynamoAuthorisationStore(dynamodb, config.table(catalogue.AUTHORISATIONS))
    directory = CognitoDirectory(
        session.client("cognito-idp"),
        config.require(config.user_pool_id, catalogue.USER_POOL_ENV),
        sign_in_events=config.sign_in_events,
    )

    def verification() -> VerifyPorts:
        key = config.require(config.audit_signing_key, catalogue.AUDIT_SIGNING_KEY_ENV)
        return VerifyPorts(
            trail=trail,
            digests=S3DigestStore(session.client("s3"), config.bucket(catalogue.Bucket.EVIDENCE)),
            verifier=KmsVerifier(session.client("kms"), key),
        )

    def retention_ports() -> tuple[StatementStore, SignatureVerifier]:
        key = config.require(config.retention_signing_key, catalogue.RETENTION_SIGNING_KEY_ENV)
        statements = S3StatementStore(
            session.client("s3"),
            config.bucket(catalogue.Bucket.EVIDENCE),
            catalogue.RETENTION_STATEMENT_PREFIX,
        )
        return statements, KmsVerifier(session.client("kms"), key)

    def report_store() -> ReportStore:
        return S3ReportStore(
            session.client("s3"), config.bucket(catalogue.Bucket.EVIDENCE), catalogue.STATISTICS_PREFIX
        )

    s3 = session.client("s3")
    reads_bucket = config.bucket(catalogue.Bucket.READS)
    if reads is None:
        reads, configured_eraser = stored_reads(config, session)
        eraser = eraser or configured_eraser
    search_engine_used = engine or search_engine(config, session)
    if erasures is None and config.erasure_queue_url:
        erasures = SqsErasureQueue(session.client("sqs"), config.erasure_queue_url)
    searches = DynamoSearchStore(dynamodb, config.table(catalogue.SEARCHES))
    results = S3ResultStore(
        s3, config.bucket(catalogue.Bucket.ATHENA_RESULTS), catalogue.SEARCH_RESULTS_PREFIX
    )
    corrections = DynamoCorrectionStore(dynamodb, config.table(catalogue.CORRECTIONS))
    requests = DynamoSubjectRequestStore(dynamodb, config.table(catalogue.SUBJECT_REQUESTS))
    overlay = SearchOverlay(corrections, requests)
    cameras = DynamoCameraDirectory(dynamodb, config.table(catalogue.CAMERAS))
    alert_reader = DynamoAlertReader(dynamodb, config.table(catalogue.ALERTS))
    images = S3ImageStore(s3, reads_bucket)
    own = OwnSearchReads(searches=searches, results=results, clock=clock)
    preservation_store = DynamoPreservationStore(dynamodb, config.table(catalogue.PRESERVATIONS))
    read_service = ReadService(
        own=own,
        reads=reads,
        images=images,
        corrections=corrections,
        restrictions=requests,
        alerts=alert_reader,
        voi=DynamoVoiStore(dynamodb, config.table(catalogue.VOI), clock=clock),
        clock=clock,
    )
    return Services(
        audit=trail,
        audit_verification=cache(verification),
        alerts=AlertService(alert_reader, corrections=corrections, clock=clock),
        account_gate=gate,
        accounts=AccountService(
            account_store,
            directory,
            gate,
            clock=clock,
            reviews=DynamoReviewStore(dynamodb, config.table(catalogue.ACCOUNT_REVIEWS)),
            activity=ApiActivity(trail),
        ),
        retention=RetentionReports(cache(retention_ports), clock=clock),
        searches=SearchService(
            searches=searches,
            authorisations=authorisations,
            cameras=cameras,
            engine=search_engine_used,
            results=results,
            overlay=overlay,
            clock=clock,
        ),
        authorisations=AuthorisationService(authorisations, clock=clock),
        voi=build_voi_service(config, session, clock=clock, retro_hunts=True),
        voi_imports=build_import_service(config, session, clock=clock),
        statistics=StatisticsReports(
            cache(report_store), trail, Labels(lea_codes() | {NATIONAL}), clock=clock
        ),
        reads=read_service,
        preservations=PreservationService(
            own=own,
            reads=reads,
            images=images,
            corrections=corrections,
            evidence=S3EvidenceStore(s3, config.bucket(catalogue.Bucket.EVIDENCE)),
            store=preservation_store,
            clock=clock,
        ),
        subject_requests=SubjectRequestService(
            store=requests,
            overlay=overlay,
            engine=search_engine_used,
            alerts=alert_reader,
            cameras=cameras,
            reads=reads,
            corrector=read_service,
            preservations=preservation_store,
            eraser=eraser,
            erasures=erasures,
            clock=clock,
        ),
    )


_installed: Services | None = None


def install(built: Services | None) -> None:
    """Makes `built` the services of this process (tests, local mode); None goes back to building
    them from the environment on next use."""
    global _installed
    _installed = built
    _from_settings.cache_clear()


def reset() -> None:
    """Forget whatever was built or installed (after the environment changed)."""
    install(None)


def services() -> Services:
    return _installed if _installed is not None else _from_settings()


@cache
def _from_settings() -> Services:
    return build_services(settings())
