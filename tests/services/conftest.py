"""A moto account holding the audit table, the Object Lock evidence bucket, the audit signing key and
a second key (an impostor's), with helpers to append, digest, verify and tamper as an attacker with
write access to the table or the bucket would."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nas import catalogue
from nas.adapters.audit import DynamoAuditTrail
from nas.adapters.digests import S3DigestStore, digest_key
from nas.adapters.dynamo import create_table, from_item, to_item
from nas.adapters.signing import KmsSigner, KmsVerifier, PublicKeyVerifier
from nas.cli.main import main
from nas.domain import audit
from nas.domain.audit import AuditRecord, ChainId, SignedDigest
from nas.domain.timefmt import iso_utc, utc_date
from nas.services.audit_digests import DigestPorts, DigestRun, write_digests
from nas.services.audit_verification import VerifyPorts

REGION = "eu-west-2"
TABLE = "nas-test-audit"
BUCKET = "nas-test-evidence"
RETENTION = timedelta(days=1)
# Today at noon: every test's records share one UTC day, and the digests' retention lies ahead.
NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
TODAY = utc_date(NOON)


def event(at: datetime, user: str = "op.kent", **fields: Any) -> dict[str, Any]:
    """An audit event as the API appends it; `parameters` is canonical JSON text."""
    return {
        "at": iso_utc(at),
        "user": user,
        "groups": ["operator"],
        "lea": "KENT",
        "method": "GET",
        "route": "/alerts",
        "parameters": '{"limit":"5"}',
        "status": 200,
        "result_count": 1,
        "request_id": f"req-{user}-{at.timestamp()}",
        "source_ip": "203.0.113.10",
    } | fields


@dataclass
class AuditAccount:
    dynamodb: Any
    s3: Any
    kms: Any
    key: str
    other_key: str

    def trail(self, chain: int | None = None) -> DynamoAuditTrail:
        """The trail; with `chain`, every append goes to that chain of the day."""
        if chain is None:
            return DynamoAuditTrail(self.dynamodb, TABLE)
        return DynamoAuditTrail(self.dynamodb, TABLE, pick_chain=lambda n: chain % n)

    def append(
        self, count: int, *, chain: int = 0, start: datetime = NOON, user: str = "op.kent"
    ) -> list[AuditRecord]:
        trail = self.trail(chain)
        return [
            trail.append(event(start + timedelta(seconds=i), user), start + timedelta(seconds=i))
            for i in range(count)
        ]

    def digest_ports(self) -> DigestPorts:
        return DigestPorts(
            trail=self.trail(),
            digests=S3DigestStore(self.s3, BUCKET),
            signer=KmsSigner(self.kms, self.key),
            verifier=KmsVerifier(self.kms, self.key),
            retention=RETENTION,
        )

    def digest(self, now: datetime = NOON + timedelta(minutes=5), **options: Any) -> DigestRun:
        return write_digests(self.digest_ports(), now=now, writer="arn:aws:lambda:test:digest", **options)

    def verify_ports(self, verifier: str = "kms") -> VerifyPorts:
        check = (
            PublicKeyVerifier(self.kms, self.key) if verifier == "public" else KmsVerifier(self.kms, self.key)
        )
        return VerifyPorts(trail=self.trail(), digests=S3DigestStore(self.s3, BUCKET), verifier=check)

    def cli(self, *args: str) -> tuple[int, str]:
        out = io.StringIO()
        base = ["audit", "verify", "--audit-table", TABLE, "--evidence-bucket", BUCKET]
        with redirect_stdout(out):
            code = main([*base, "--signing-key", self.key, "--region", REGION, *args])
        return code, out.getvalue()

    # --- what an attacker with table or bucket access does ------------------------------------

    def stored(self, chain: ChainId, seq: int) -> dict[str, Any]:
        item = self.dynamodb.get_item(TableName=TABLE, Key=to_item({"chain_id": str(chain), "seq": seq}))
        return from_item(item["Item"])

    def rewrite(self, chain: ChainId, seq: int, **fields: Any) -> None:
        """Changes fields of a stored record in place, its hash left as it was."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        self.dynamodb.update_item(
            TableName=TABLE,
            Key=to_item({"chain_id": str(chain), "seq": seq}),
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )

    def rewrite_and_rehash(self, chain: ChainId, seq: int, last: int, **fields: Any) -> None:
        """Changes a record and re-hashes it and every later record up to `last`, relinking each to
        the one before: the chain's own links then hold."""
        before = self.stored(chain, seq - 1)["hash"] if seq > 1 else audit.GENESIS_HASH
        for n in range(seq, last + 1):
            old = self.stored(chain, n)
            changed = {name: old.get(name) for name in audit.EVENT_FIELDS} | (fields if n == seq else {})
            record = audit.chain_record(changed, chain=chain, seq=n, prev_hash=before)
            self.dynamodb.put_item(TableName=TABLE, Item=to_item(record | {"chain_id": str(chain)}))
            before = record["hash"]

    def delete(self, chain: ChainId, seq: int) -> None:
        self.dynamodb.delete_item(TableName=TABLE, Key=to_item({"chain_id": str(chain), "seq": seq}))

    def stored_digest(self, chain: ChainId, digest_seq: int) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=BUCKET, Key=digest_key(chain, digest_seq))["Body"].read()
        document: dict[str, Any] = json.loads(body)
        return document

    def replace_digest(self, chain: ChainId, digest_seq: int, document: dict[str, Any]) -> None:
        """A new version under the digest's key: Object Lock keeps the old one, but readers take the
        current version."""
        self.s3.put_object(
            Bucket=BUCKET, Key=digest_key(chain, digest_seq), Body=json.dumps(document).encode()
        )

    def add_digest(self, document: dict[str, Any] | bytes, chain: ChainId, digest_seq: int) -> None:
        """A first version under a digest key the job has not used yet."""
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.s3.put_object(Bucket=BUCKET, Key=digest_key(chain, digest_seq), Body=body)

    def signed_with(self, key: str, digest: audit.Digest) -> SignedDigest:
        signature = KmsSigner(self.kms, key).sign(digest.signed_message())
        return SignedDigest(digest, signature.key_id, signature.algorithm, signature.value)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditAccount]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table(dynamodb, catalogue.AUDIT, TABLE)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket=BUCKET,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=True,
        )
        kms = boto3.client("kms", region_name=REGION)
        keys = [
            kms.create_key(KeySpec=catalogue.AUDIT_SIGNING_KEY_SPEC, KeyUsage="SIGN_VERIFY")["KeyMetadata"][
                "Arn"
            ]
            for _ in range(2)
        ]
        yield AuditAccount(dynamodb, s3, kms, keys[0], keys[1])
