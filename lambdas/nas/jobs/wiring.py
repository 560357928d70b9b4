"""Builds the scheduled jobs' services from settings and boto3 clients: the one place their adapters
meet AWS clients. boto3 honours AWS_ENDPOINT_URL, so local mode points the same wiring at moto."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3

from nas import catalogue
from nas.adapters.audit import DynamoAuditTrail
from nas.adapters.digests import S3DigestStore
from nas.adapters.signing import KmsSigner, KmsVerifier
from nas.services.audit_digests import DigestPorts
from nas.settings import RuntimeSettings, SettingsError


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
