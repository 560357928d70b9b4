"""A moto account with the alerts and audit tables, the evidence bucket and the audit signing key,
the environment CDK would set, and helpers to call the api Lambda as API Gateway does (REST proxy
events with Cognito claims)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nas import catalogue
from nas.adapters.alerts import DynamoAlertStore
from nas.adapters.dynamo import create_table, from_item
from nas.api import wiring
from nas.domain.models import Alert, alert_id_for
from nas.settings import settings
from tests.handlers.events import FakeLambdaContext, rest_proxy_event

REGION = "eu-west-2"
ALERTS_TABLE = "nas-test-alerts"
AUDIT_TABLE = "nas-test-audit"
ACCOUNTS_TABLE = "nas-test-accounts"
REVIEWS_TABLE = "nas-test-account-reviews"
EVIDENCE_BUCKET = "nas-test-evidence"
TABLE_NAMES = {spec.logical_name: f"nas-test-{spec.logical_name}" for spec in catalogue.TABLES}
RESULTS_BUCKET = "nas-test-athena-results"
VOI_TABLE = "nas-test-voi"
IMPORTS_BUCKET = "nas-test-imports"
READS_BUCKET = "nas-test-reads"
RETRO_HUNT_QUEUE = "nas-test-retro-hunts"


def claims(user: str, groups: str, lea: str, token_use: str = "id") -> dict[str, str]:  # noqa: S107
    return {"cognito:username": user, "cognito:groups": groups, "custom:lea": lea, "token_use": token_use}


OPERATOR_KENT = claims("op.kent", "operator", "KENT")
OPERATOR_ESSEX = claims("op.essex", "operator", "ESSEX")
OPERATOR_NATIONAL = claims("op.nat", "operator", "NATIONAL")
AUDITOR_KENT = claims("aud.kent", "auditor", "KENT")
AUDITOR_NATIONAL = claims("aud.nat", "auditor", "NATIONAL")


@dataclass
class Reply:
    status: int
    body: Any
    """JSON parsed; bytes for a binary body (base64 through API Gateway); else text."""
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)


def _body(response: dict[str, Any]) -> Any:
    if response.get("isBase64Encoded"):
        return base64.b64decode(response["body"])
    try:
        return json.loads(response["body"])
    except ValueError:
        return response["body"]


@dataclass
class ApiAccount:
    dynamodb: Any
    cognito: Any
    user_pool_id: str
    signing_key: str
    s3: Any
    sqs: Any
    retro_hunt_queue: str

    def call(self, method: str, path: str, who: dict[str, str] | None = None, **kwargs: Any) -> Reply:
        from handlers.api import lambda_handler

        event = rest_proxy_event(method, path, claims=who, **kwargs)
        response = lambda_handler(event, FakeLambdaContext())  # type: ignore[arg-type]
        return Reply(
            response["statusCode"],
            _body(response),
            event["requestContext"]["requestId"],
            {
                **{k.lower(): v for k, v in (response.get("headers") or {}).items()},
                **{k.lower(): v[-1] for k, v in (response.get("multiValueHeaders") or {}).items() if v},
            },
        )

    def put_alert(
        self,
        *,
        read_id: str,
        lea: str = "KENT",
        owner_lea: str = "KENT",
        circulation: tuple[str, ...] = ("NATIONAL",),
        sensitive: bool = False,
        raised_at: datetime | None = None,
        camera_id: str | None = None,
        voi_id: str = "voi-1",
    ) -> Alert:
        raised = raised_at or datetime.now(UTC) - timedelta(minutes=5)
        camera = camera_id or f"{lea}-0001"
        alert = Alert.model_validate_json(
            json.dumps(
                {
                    "alert_id": alert_id_for(camera, read_id, voi_id),
                    "read_id": read_id,
                    "vrm": "AB12CDE",
                    "captured_at": (raised - timedelta(seconds=2)).isoformat(),
                    "camera_id": camera,
                    "lea": lea,
                    "voi_id": voi_id,
                    "source": "pnc",
                    "category": "stolen",
                    "action": "stop",
                    "priority": 1,
                    "reason": "Stolen vehicle",
                    "owner_lea": owner_lea,
                    "circulation": list(circulation),
                    "sensitive": sensitive,
                    "raised_at": raised.isoformat(),
                }
            )
        )
        DynamoAlertStore(self.dynamodb, ALERTS_TABLE).put_new(alert)
        return alert

    def audit_records(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=AUDIT_TABLE)["Items"]
        records = [from_item(i) for i in items]
        return sorted(records, key=lambda r: (r["at"], r["chain_id"], r["seq"]))

    def write_digests(self) -> dict[str, Any]:
        """One run of the digest Lambda, as its schedule invokes it (R-AUDIT)."""
        from handlers import audit_digest

        audit_digest.ports.cache_clear()
        report: dict[str, Any] = audit_digest.lambda_handler({}, FakeLambdaContext())  # type: ignore[arg-type]
        return report

    def audit_for(self, request_id: str) -> dict[str, Any]:
        """The stored audit record of one request, its `parameters` text parsed back to an object."""
        [record] = [r for r in self.audit_records() if r.get("request_id") == request_id]
        assert isinstance(record["parameters"], str), "parameters are stored as one JSON string"
        return record | {"parameters": json.loads(record["parameters"])}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiAccount]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        catalogue.STAGE_ENV: "test",
        **{spec.env_var: TABLE_NAMES[spec.logical_name] for spec in catalogue.TABLES},
        catalogue.SIGN_IN_EVENTS_ENV: "off",  # moto keeps no Cognito auth events
        catalogue.Bucket.ATHENA_RESULTS.env_var: RESULTS_BUCKET,
        catalogue.Bucket.READS.env_var: READS_BUCKET,
        catalogue.ATHENA_WORKGROUP_ENV: "nas-test-search",
        catalogue.GLUE_DATABASE_ENV: "nas_test",
        catalogue.Bucket.IMPORTS.env_var: IMPORTS_BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv(catalogue.SEARCH_ENGINE_ENV, raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec in catalogue.TABLES:
            create_table(dynamodb, spec, TABLE_NAMES[spec.logical_name])
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (RESULTS_BUCKET, READS_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=READS_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=EVIDENCE_BUCKET,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=True,
        )
        key = boto3.client("kms", region_name=REGION).create_key(
            KeySpec=catalogue.AUDIT_SIGNING_KEY_SPEC, KeyUsage="SIGN_VERIFY"
        )["KeyMetadata"]["Arn"]
        monkeypatch.setenv(catalogue.Bucket.EVIDENCE.env_var, EVIDENCE_BUCKET)
        monkeypatch.setenv(catalogue.AUDIT_SIGNING_KEY_ENV, key)
        monkeypatch.setenv(catalogue.AUDIT_DIGEST_RETENTION_ENV, "1")
        retention_key = boto3.client("kms", region_name=REGION).create_key(
            KeySpec=catalogue.AUDIT_SIGNING_KEY_SPEC, KeyUsage="SIGN_VERIFY"
        )["KeyMetadata"]["Arn"]
        monkeypatch.setenv(catalogue.RETENTION_SIGNING_KEY_ENV, retention_key)
        monkeypatch.setenv(catalogue.RETENTION_STATEMENT_LOCK_ENV, "1")
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=IMPORTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(PoolName="nas-test-users")["UserPool"]["Id"]
        monkeypatch.setenv(catalogue.USER_POOL_ENV, pool_id)
        settings.cache_clear()
        wiring.reset()
        sqs = boto3.client("sqs", region_name=REGION)
        hunts = sqs.create_queue(QueueName=RETRO_HUNT_QUEUE)["QueueUrl"]
        monkeypatch.setenv(catalogue.RETRO_HUNT_QUEUE_ENV, hunts)
        settings.cache_clear()
        wiring.reset()
        yield ApiAccount(dynamodb, cognito, pool_id, key, s3, sqs, hunts)
        wiring.reset()
        settings.cache_clear()


@pytest.fixture
def reads_api(api: ApiAccount, tmp_path: Path) -> Iterator[Any]:
    """Stored reads with packed images, searched by DuckDB (`tests/api/readsdata.py`)."""
    from tests.api.readsdata import reads_fixture

    yield from reads_fixture(api, tmp_path)
