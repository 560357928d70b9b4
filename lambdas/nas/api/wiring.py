"""The API's adapters, built once per execution environment from the runtime settings. boto3 honours
AWS_ENDPOINT_URL, so local mode points the same wiring at moto; tests call `services.cache_clear()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import boto3

from nas import catalogue
from nas.adapters.alerts import AlertReader, DynamoAlertReader
from nas.adapters.audit import AuditTrail, DynamoAuditTrail
from nas.adapters.digests import S3DigestStore
from nas.adapters.signing import KmsVerifier
from nas.services.audit_verification import VerifyPorts
from nas.settings import RuntimeSettings, settings


@dataclass(frozen=True, slots=True)
class Services:
    audit: AuditTrail
    alerts: AlertReader
    audit_verification: Callable[[], VerifyPorts]
    """Built on first use: only `GET /audit/verify` needs the evidence bucket and the signing key."""


def _verification(config: RuntimeSettings, trail: AuditTrail) -> VerifyPorts:
    key = config.require(config.audit_signing_key, catalogue.AUDIT_SIGNING_KEY_ENV)
    return VerifyPorts(
        trail=trail,
        digests=S3DigestStore(boto3.client("s3"), config.bucket(catalogue.Bucket.EVIDENCE)),
        verifier=KmsVerifier(boto3.client("kms"), key),
    )


@cache
def services() -> Services:
    config = settings()
    dynamodb = boto3.client("dynamodb")
    trail = DynamoAuditTrail(dynamodb, config.table(catalogue.AUDIT))
    return Services(
        audit=trail,
        alerts=DynamoAlertReader(dynamodb, config.table(catalogue.ALERTS)),
        audit_verification=cache(lambda: _verification(config, trail)),
    )
