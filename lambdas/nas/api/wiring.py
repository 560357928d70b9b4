"""The API's adapters, built once per execution environment from the runtime settings. boto3 honours
AWS_ENDPOINT_URL, so local mode points the same wiring at moto; tests call `services.cache_clear()`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import boto3

from nas import catalogue
from nas.adapters.alerts import AlertReader, DynamoAlertReader
from nas.adapters.audit import AuditTrail, DynamoAuditTrail
from nas.settings import settings


@dataclass(frozen=True, slots=True)
class Services:
    audit: AuditTrail
    alerts: AlertReader


@cache
def services() -> Services:
    config = settings()
    dynamodb = boto3.client("dynamodb")
    return Services(
        audit=DynamoAuditTrail(dynamodb, config.table(catalogue.AUDIT)),
        alerts=DynamoAlertReader(dynamodb, config.table(catalogue.ALERTS)),
    )
