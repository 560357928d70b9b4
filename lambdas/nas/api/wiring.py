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
from nas.adapters.digests import S3DigestStore
from nas.adapters.retention import S3StatementStore, StatementStore
from nas.adapters.reviews import DynamoReviewStore
from nas.adapters.search import SearchEngine
from nas.adapters.search_results import S3ResultStore
from nas.adapters.searches import DynamoSearchStore
from nas.adapters.signing import KmsVerifier, SignatureVerifier
from nas.services.accounts import AccountGate, AccountService
from nas.services.activity import ApiActivity
from nas.services.alerts import AlertService
from nas.services.audit_verification import VerifyPorts
from nas.services.authorisations import AuthorisationService
from nas.services.retention import RetentionReports
from nas.services.searches import SearchService
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


def build_services(
    config: RuntimeSettings,
    session: Any = boto3,
    *,
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    engine: SearchEngine | None = None,
) -> Services:
    """`engine` replaces the configured search engine (tests)."""
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

    return Services(
        audit=trail,
        audit_verification=cache(verification),
        alerts=AlertService(DynamoAlertReader(dynamodb, config.table(catalogue.ALERTS)), clock=clock),
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
            searches=DynamoSearchStore(dynamodb, config.table(catalogue.SEARCHES)),
            authorisations=authorisations,
            cameras=DynamoCameraDirectory(dynamodb, config.table(catalogue.CAMERAS)),
            engine=engine or search_engine(config, session),
            results=S3ResultStore(
                session.client("s3"),
                config.bucket(catalogue.Bucket.ATHENA_RESULTS),
                catalogue.SEARCH_RESULTS_PREFIX,
            ),
            clock=clock,
        ),
        authorisations=AuthorisationService(authorisations, clock=clock),
        voi=build_voi_service(config, session, clock=clock, retro_hunts=True),
        voi_imports=build_import_service(config, session, clock=clock),
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
