"""S3 stores: R-RET-367 lifecycle, R-PRESERVE Object Lock, encryption, TLS, public access, logs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from nas import catalogue
from tests.infra.conftest import one_resource, resources

DATA_BUCKETS = ("StorageReads", "StorageQuarantine", "StorageEvidence", "StorageAthenaResults")


def rules(bucket: dict[str, Any]) -> list[dict[str, Any]]:
    return list(bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", []))


def expiry_rule(bucket: dict[str, Any]) -> dict[str, Any]:
    [rule] = [r for r in rules(bucket) if "ExpirationInDays" in r]
    return rule


@pytest.mark.parametrize("bucket", ["StorageReads", "StorageQuarantine"])
def test_reads_and_quarantine_expire_at_367_days(template: Template, bucket: str) -> None:
    rule = expiry_rule(one_resource(template, "AWS::S3::Bucket", bucket))
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == 367
    # No prefix or filter: the rule applies to Parquet rows and packed images alike.
    assert "Prefix" not in rule
    assert "Filter" not in rule
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_expired_delete_markers_are_removed(template: Template) -> None:
    bucket = one_resource(template, "AWS::S3::Bucket", "StorageReads")
    assert {
        "ExpiredObjectDeleteMarker": True,
        "Id": "remove-expired-delete-markers",
        "Status": "Enabled",
    } in rules(bucket)


def test_athena_results_expire_after_one_day(template: Template) -> None:
    assert (
        expiry_rule(one_resource(template, "AWS::S3::Bucket", "StorageAthenaResults"))["ExpirationInDays"]
        == 1
    )


def test_evidence_bucket_has_object_lock_and_expires_only_released_preservations(template: Template) -> None:
    bucket = one_resource(template, "AWS::S3::Bucket", "StorageEvidence")
    assert bucket["Properties"]["ObjectLockEnabled"] is True
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    expiring = [r for r in rules(bucket) if "ExpirationInDays" in r or "NoncurrentVersionExpiration" in r]
    name, value = catalogue.PRESERVATION_RELEASED_TAG
    assert [(r["Prefix"], r["TagFilters"]) for r in expiring] == [
        (catalogue.PRESERVATIONS_PREFIX, [{"Key": name, "Value": value}])
    ]


@pytest.mark.parametrize("bucket", DATA_BUCKETS)
def test_data_buckets_use_the_storage_key_and_log_access(template: Template, bucket: str) -> None:
    props = one_resource(template, "AWS::S3::Bucket", bucket)["Properties"]
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0].startswith(
        "KeysStorage"
    )
    assert encryption["BucketKeyEnabled"] is True
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith("StorageAccessLogs")


def test_every_bucket_blocks_public_access(template: Template) -> None:
    buckets = resources(template, "AWS::S3::Bucket")
    assert len(buckets) >= len(DATA_BUCKETS)
    for logical_id, bucket in buckets.items():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id


def test_every_bucket_policy_denies_plain_http_and_old_tls(template: Template) -> None:
    buckets = resources(template, "AWS::S3::Bucket")
    policies = resources(template, "AWS::S3::BucketPolicy")
    covered = set()
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        denies = [s for s in statements if s["Effect"] == "Deny"]
        assert any(s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
        assert any(s.get("Condition") == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in denies)
        covered.add(policy["Properties"]["Bucket"]["Ref"])
    assert covered == set(buckets)


def test_packed_images_move_to_glacier_instant_retrieval_after_90_days(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        {
                            "Id": "images-to-glacier-ir-after-90-days",
                            "Status": "Enabled",
                            "Prefix": "images/",
                            "ObjectSizeGreaterThan": 128 * 1024 - 1,
                            "Transitions": [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}],
                        }
                    ]
                )
            }
        },
    )


def test_tiering_leaves_the_367_day_expiry_and_parquet_rows_alone(template: Template) -> None:
    bucket = one_resource(template, "AWS::S3::Bucket", "StorageReads")
    transitions = [r for r in rules(bucket) if "Transitions" in r or "Transition" in r]
    assert [r.get("Prefix") for r in transitions] == ["images/"]  # reads/ (Parquet) never transitions
    assert expiry_rule(bucket)["ExpirationInDays"] == 367
    assert "Prefix" not in expiry_rule(bucket)  # the expiry still covers every class and prefix
    quarantine = one_resource(template, "AWS::S3::Bucket", "StorageQuarantine")
    assert not [r for r in rules(quarantine) if "Transitions" in r]
