"""R-RET-367 daily check on moto: versioned buckets holding objects stored at given ages (freezegun
sets S3's LastModified), a 368-day-old straggler deleted with all its old versions and no delete
marker, a 366-day-old object kept, only the oldest date partitions listed, a signed statement in the
evidence bucket that verifies (and fails once altered), and the deletions in the audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from freezegun import freeze_time
from moto import mock_aws

from nas import catalogue
from nas.adapters.audit import DynamoAuditTrail
from nas.adapters.dynamo import create_table, from_item
from nas.adapters.retention import InMemoryObjectVersions, S3ObjectVersions, S3StatementStore
from nas.adapters.signing import KmsSigner, KmsVerifier
from nas.domain.retention import StoredVersion
from nas.services.activity import JobAudit
from nas.services.retention import RetentionPorts, check_prefix, latest_statement, run_retention_check

REGION = "eu-west-2"
DAY = timedelta(days=1)
BUCKETS = {
    catalogue.Bucket.READS: "nas-test-reads",
    catalogue.Bucket.QUARANTINE: "nas-test-quarantine",
    catalogue.Bucket.EVIDENCE: "nas-test-evidence",
    catalogue.Bucket.IMPORTS: "nas-test-imports",
}
NOW = datetime.now(UTC).replace(microsecond=0)
FROZEN_IGNORES = ["aws_lambda_powertools", "pydantic", "pydantic_core"]
"""Packages whose lazy `__getattr__` imports submodules when freezegun scans them on start: an import
under a frozen clock would build their models with freezegun's datetime for the rest of the run."""


@dataclass
class Stores:
    s3: Any
    kms: Any
    dynamodb: Any
    key: str

    def put(self, bucket: catalogue.Bucket, key: str, age: timedelta, body: bytes = b"x") -> None:
        """An object version stored `age` before NOW (S3 records the frozen time as LastModified)."""
        with freeze_time(NOW - age, ignore=FROZEN_IGNORES):
            self.s3.put_object(Bucket=BUCKETS[bucket], Key=key, Body=body)

    def versions(self, bucket: catalogue.Bucket, prefix: str = "") -> list[dict[str, Any]]:
        response = self.s3.list_object_versions(Bucket=BUCKETS[bucket], Prefix=prefix)
        return [*response.get("Versions", []), *response.get("DeleteMarkers", [])]

    def ports(self) -> RetentionPorts:
        trail = DynamoAuditTrail(self.dynamodb, "audit")
        return RetentionPorts(
            versions=S3ObjectVersions(self.s3),
            buckets=BUCKETS,
            statements=S3StatementStore(
                self.s3, BUCKETS[catalogue.Bucket.EVIDENCE], catalogue.RETENTION_STATEMENT_PREFIX
            ),
            signer=KmsSigner(self.kms, self.key),
            lock=DAY,
            audit=lambda run_id: JobAudit(trail, "retention", run_id, lambda: datetime.now(UTC)),
        )

    def check(self) -> Any:
        return run_retention_check(
            self.ports(), now=NOW, written_at=NOW, writer="arn:test:retention", run_id="r-1"
        )

    def statement(self) -> dict[str, Any]:
        found = latest_statement(self.ports().statements, KmsVerifier(self.kms, self.key), today=NOW.date())
        assert found.signature_valid
        return dict(found.signed.body)


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for role, name in BUCKETS.items():
            s3.create_bucket(
                Bucket=name,
                CreateBucketConfiguration={"LocationConstraint": REGION},
                ObjectLockEnabledForBucket=role is catalogue.Bucket.EVIDENCE,
            )
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        kms = boto3.client("kms", region_name=REGION)
        key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table(dynamodb, catalogue.AUDIT, "audit")
        yield Stores(s3, kms, dynamodb, key)


def day_of(age: timedelta) -> str:
    return (NOW - age).date().isoformat()


def test_a_368_day_old_straggler_is_deleted_and_a_366_day_old_object_kept(stores: Stores) -> None:
    old = f"images/{day_of(368 * DAY)}/shardId-000/1-9.jpgpack"
    kept = f"images/{day_of(366 * DAY)}/shardId-000/10-19.jpgpack"
    stores.put(catalogue.Bucket.READS, old, 368 * DAY, b"x" * 300)
    stores.put(catalogue.Bucket.READS, kept, 366 * DAY)
    run = stores.check()
    assert [v["Key"] for v in stores.versions(catalogue.Bucket.READS, "images/")] == [kept]
    [images] = [p for p in run.statement.prefixes if p.prefix == "images/"]
    assert (images.deleted_versions, images.deleted_bytes, images.deleted_keys) == (1, 300, (old,))
    assert images.oldest_key == kept
    assert run.statement.within_retention


def test_every_old_version_goes_and_no_delete_marker_is_left(stores: Stores) -> None:
    key = f"quarantine/{day_of(400 * DAY)}/shardId-001/5-6.json"
    stores.put(catalogue.Bucket.QUARANTINE, key, 400 * DAY)
    stores.put(catalogue.Bucket.QUARANTINE, key, 370 * DAY)  # rewritten by a retried batch
    assert len(stores.versions(catalogue.Bucket.QUARANTINE)) == 2
    stores.check()
    assert stores.versions(catalogue.Bucket.QUARANTINE) == []  # versions deleted by id, no marker


def test_a_file_rewritten_lately_goes_by_the_day_its_key_names(stores: Stores) -> None:
    # An erasure rewrites a Parquet file: S3 dates it from the rewrite, its rows are as old as the key.
    old_day = f"reads/capture_date={day_of(369 * DAY)}/part-0.parquet"
    stores.put(catalogue.Bucket.READS, old_day, 369 * DAY)
    stores.put(catalogue.Bucket.READS, old_day, 2 * DAY)
    # Within the day's margin (a live read captured before midnight arrives after it): kept.
    recent_day = f"reads/capture_date={day_of(368 * DAY)}/part-0.parquet"
    stores.put(catalogue.Bucket.READS, recent_day, 2 * DAY)
    stores.check()
    assert [v["Key"] for v in stores.versions(catalogue.Bucket.READS, "reads/")] == [recent_day]


def test_the_signed_statement_names_the_oldest_held_per_prefix_and_verifies(stores: Stores) -> None:
    stores.put(catalogue.Bucket.READS, f"images/{day_of(368 * DAY)}/s/1-2.jpgpack", 368 * DAY)
    stores.put(catalogue.Bucket.READS, f"reads/capture_date={day_of(30 * DAY)}/a.parquet", 30 * DAY)
    run = stores.check()
    body = stores.statement()
    assert body["format"] == "nas.retention-statement.v1"
    assert (body["within_retention"], body["oldest_age_days"], body["keep_for_days"]) == (True, "30.00", 367)
    by_prefix = {p["prefix"]: p for p in body["prefixes"]}
    assert set(by_prefix) == {p.prefix for p in catalogue.RETAINED_PREFIXES}
    assert by_prefix["reads/"]["oldest"]["key_day"] == day_of(30 * DAY)  # the oldest capture day held
    assert by_prefix["images/"]["oldest"] is None
    assert by_prefix["images/"]["deleted"]["versions"] == 1
    assert by_prefix["quarantine/"] == by_prefix["quarantine/"] | {"versions_listed": 0, "oldest": None}
    stored = stores.s3.get_object(Bucket=BUCKETS[catalogue.Bucket.EVIDENCE], Key=run.key)
    assert stored["ObjectLockMode"] == "COMPLIANCE"
    assert run.key.startswith(f"{catalogue.RETENTION_STATEMENT_PREFIX}{NOW.date().isoformat()}/")


def test_an_altered_statement_does_not_verify(stores: Stores) -> None:
    stores.put(catalogue.Bucket.READS, f"images/{day_of(368 * DAY)}/s/1-2.jpgpack", 368 * DAY)
    run = stores.check()
    evidence = BUCKETS[catalogue.Bucket.EVIDENCE]
    document = json.loads(stores.s3.get_object(Bucket=evidence, Key=run.key)["Body"].read())
    document["body"]["prefixes"][1]["deleted"]["versions"] = 0  # hide the deletion
    forged = run.key.replace(".json", "9.json")  # a later key of the same day
    stores.s3.put_object(Bucket=evidence, Key=forged, Body=json.dumps(document).encode())
    found = latest_statement(stores.ports().statements, KmsVerifier(stores.kms, stores.key), today=NOW.date())
    assert found.key == forged
    assert found.signature_valid is False


def test_deletions_and_the_run_are_in_the_audit_trail(stores: Stores) -> None:
    stores.put(catalogue.Bucket.READS, f"images/{day_of(368 * DAY)}/s/1-2.jpgpack", 368 * DAY)
    stores.check()
    events = [from_item(i) for i in stores.dynamodb.scan(TableName="audit")["Items"]]
    routes = sorted(e["route"] for e in events)
    assert routes == ["/jobs/retention/delete", "/jobs/retention/run"]
    [delete] = [e for e in events if e["route"].endswith("/delete")]
    assert (delete["user"], delete["result_count"], delete["reason"]) == ("job:retention", 1, "R-RET-367")
    assert json.loads(delete["parameters"])["arguments"]["prefix"] == "images/"


def test_only_the_oldest_date_partitions_are_listed() -> None:
    now = datetime(2024, 5, 30, 3, 0, tzinfo=UTC)
    listing = InMemoryObjectVersions()
    kept_day = date(2023, 5, 30)
    versions = [
        StoredVersion(
            f"images/{(kept_day + n * DAY).isoformat()}/shardId-000/{n}.jpgpack",
            "v",
            datetime.combine(kept_day + n * DAY, datetime.min.time(), UTC),
            1,
            True,
        )
        for n in range(0, 300, 10)
    ]
    listing.versions["reads"] = versions
    retained = catalogue.RetainedPrefix(catalogue.Bucket.READS, "images/", "images")
    report = check_prefix(listing, "reads", retained, now)
    assert report.oldest_key == versions[0].key
    listed_days = [p for p in listing.listed if p.count("/") == 2]
    # The cutoff day (2023-05-29) and the oldest held (2023-05-30), plus a day's margin: only the first.
    assert listed_days == ["images/2023-05-30/"]


def test_a_refused_deletion_is_reported_and_the_straggler_still_counts() -> None:
    now = datetime(2024, 5, 30, 3, 0, tzinfo=UTC)
    old = StoredVersion("quarantine/2023-05-01/s/1.json", "v", now - 395 * DAY, 7, True)
    listing = InMemoryObjectVersions(versions={"q": [old]}, refuse={old.key})
    retained = catalogue.RetainedPrefix(catalogue.Bucket.QUARANTINE, "quarantine/", "refused")
    report = check_prefix(listing, "q", retained, now)
    assert (report.deleted_versions, report.delete_failures, report.oldest_key) == (0, 1, old.key)
