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
from nas.services.accounts import AccountGate, AccountService
from nas.services.alerts import AlertService
from nas.services.voi import VoiService
from nas.services.voi_imports import VoiImportService
from nas.services.wiring import build_import_service, build_voi_service
from nas.settings import RuntimeSettings, settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Services:
    audit: AuditTrail
    alerts: AlertService
    account_gate: AccountGate
    accounts: AccountService
    voi: VoiService
    voi_imports: VoiImportService


def build_services(
    config: RuntimeSettings,
    session: Any = boto3,
    *,
    clock: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
) -> Services:
    dynamodb = session.client("dynamodb")
    account_store = DynamoAccountStore(dynamodb, config.table(catalogue.ACCOUNTS))
    gate = AccountGate(account_store, monotonic=monotonic)
    directory = CognitoDirectory(
        session.client("cognito-idp"), config.require(config.user_pool_id, catalogue.USER_POOL_ENV)
    )
    return Services(
        audit=DynamoAuditTrail(dynamodb, config.table(catalogue.AUDIT)),
        alerts=AlertService(DynamoAlertReader(dynamodb, config.table(catalogue.ALERTS)), clock=clock),
        account_gate=gate,
        accounts=AccountService(account_store, directory, gate, clock=clock),
        voi=build_voi_service(config, session, clock=clock),
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
