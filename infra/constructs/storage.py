"""S3 stores: reads (Parquet rows and packed images), quarantine, evidence, Athena results, and the
access-log bucket they all log to. Retention is enforced here, by lifecycle rules (R-RET-367)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge
from nas.adapters.import_files import INCOMING_PREFIX, REJECTS_PREFIX, WORK_PREFIX
from nas.catalogue import IMAGES_PREFIX, Bucket
from nas.domain.policy import READ_STORAGE_EXPIRY_DAYS, STANDARD_LOOKBACK

# Versions replaced or expired stay at most this long; they are never served (GET reads the current
# version), and versioning is kept so an application bug cannot overwrite stored reads unnoticed.
NONCURRENT_VERSION_DAYS = 1
INCOMPLETE_UPLOAD_DAYS = 1
ATHENA_RESULTS_DAYS = 1
# S3 server access logs hold object keys and requester identities, no read content; kept two years
# for security investigations.
ACCESS_LOG_DAYS = 731
# R-VOI-BULK imports hold VOI lists, not reads, so R-RET-367 is not their limit: R-VOI-56 is (a list's
# entries are gone 56 days after its import), and a copy of the file must not outlive them. Uploads
# and working files are deleted by the import itself; these rules catch what a failed one left.
IMPORT_EXPIRY_DAYS = {INCOMING_PREFIX: 2, WORK_PREFIX: 1, REJECTS_PREFIX: 28}


def import_rules() -> list[s3.LifecycleRule]:
    return [
        *(
            s3.LifecycleRule(
                id=f"expire-{prefix.rstrip('/')}-after-{days}-days",
                prefix=prefix,
                expiration=cdk.Duration.days(days),
                noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_VERSION_DAYS),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(INCOMPLETE_UPLOAD_DAYS),
            )
            for prefix, days in IMPORT_EXPIRY_DAYS.items()
        ),
        # Anything else (there should be nothing) goes with the longest of them.
        s3.LifecycleRule(
            id="expire-anything-else",
            expiration=cdk.Duration.days(max(IMPORT_EXPIRY_DAYS.values())),
            noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_VERSION_DAYS),
            abort_incomplete_multipart_upload_after=cdk.Duration.days(INCOMPLETE_UPLOAD_DAYS),
        ),
        s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
    ]


# Images tiered by access window (R-ACCESS): within 90 days any search, alert or read view reaches a
# read's images; after 90 days only searches under an authorisation do, a handful of byte-range GETs
# a day against a year of packs. Packs move then to Glacier Instant Retrieval (millisecond GETs, so
# image views work unchanged; about a fifth of Standard's storage price; a 90-day minimum, which the
# 277 days they still live clear; retrieval charged per GB read, a few KB per view). Measured packs
# (`make bench-storage`) hold 15 or more reads and weigh 260 KB or more from 0.5 reads/s a shard
# upward (3.4 MB at 10/s), so they clear the 128 KB minimum object size of the infrequent classes;
# a pack under 128 KB (a shard idle at night) stays in Standard, where no minimum applies.
# Parquet rows stay in Standard: 24 bytes a row measured, files of about 100 KB once partitioned for
# search (under the minimum), and every search beyond 90 days would pay retrieval on what it scans.
IMAGE_TIER_AFTER_DAYS = STANDARD_LOOKBACK.days
IMAGE_TIER_CLASS = s3.StorageClass.GLACIER_INSTANT_RETRIEVAL
INFREQUENT_MINIMUM_BYTES = 128 * 1024


def image_tiering_rule() -> s3.LifecycleRule:
    return s3.LifecycleRule(
        id=f"images-to-glacier-ir-after-{IMAGE_TIER_AFTER_DAYS}-days",
        prefix=IMAGES_PREFIX,
        object_size_greater_than=INFREQUENT_MINIMUM_BYTES - 1,
        transitions=[
            s3.Transition(
                storage_class=IMAGE_TIER_CLASS, transition_after=cdk.Duration.days(IMAGE_TIER_AFTER_DAYS)
            )
        ],
    )


def retention_rules(expire_after_days: int) -> list[s3.LifecycleRule]:
    return [
        s3.LifecycleRule(
            id=f"expire-after-{expire_after_days}-days",
            expiration=cdk.Duration.days(expire_after_days),
            noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_VERSION_DAYS),
            abort_incomplete_multipart_upload_after=cdk.Duration.days(INCOMPLETE_UPLOAD_DAYS),
        ),
        # Expiry leaves delete markers behind once the noncurrent version is gone; remove them too.
        s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
    ]


class Storage(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, removal_policy: cdk.RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        self._removal_policy = removal_policy

        # Server access logs cannot be delivered to a bucket encrypted with a customer-managed key,
        # so this one bucket uses S3-managed keys (docs/decisions.md).
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=retention_rules(ACCESS_LOG_DAYS),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the access-log destination; logging it into itself would loop.",
        )

        # R-RET-367 expiry applies to every object whatever its class; the tiering rule only moves packs.
        self.reads = self._bucket(
            Bucket.READS, lifecycle_rules=[*retention_rules(READ_STORAGE_EXPIRY_DAYS), image_tiering_rule()]
        )
        acknowledge(
            self.reads,
            "CloudFormation-Validate::W9003",
            "CDK writes the tiering rule's ObjectSizeGreaterThan as a number; CloudFormation's schema names"
            " it a string and takes the number as the same value.",
        )
        self.quarantine = self._bucket(
            Bucket.QUARANTINE, lifecycle_rules=retention_rules(READ_STORAGE_EXPIRY_DAYS)
        )
        # R-PRESERVE: preserved copies and audit digests. Object Lock without a default retention:
        # writers place a legal hold (released when the case is) or a compliance-mode retention
        # (audit digests) on each object; no lifecycle expiry ever deletes them.
        self.evidence = self._bucket(
            Bucket.EVIDENCE,
            object_lock_enabled=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(INCOMPLETE_UPLOAD_DAYS),
                )
            ],
        )
        self.athena_results = self._bucket(
            Bucket.ATHENA_RESULTS, lifecycle_rules=retention_rules(ATHENA_RESULTS_DAYS)
        )
        # R-VOI-BULK: VOI list files uploaded through presigned PUTs, the load's working files and
        # each import's rejected rows (`nas.adapters.import_files`).
        self.imports = self._bucket(Bucket.IMPORTS, lifecycle_rules=import_rules())
        # An upload's arrival goes to EventBridge (Object Created), where a rule starts its import.
        # Set on the bucket itself: CDK's notification helper would add a custom-resource function.
        cfn_imports = self.imports.node.default_child
        assert isinstance(cfn_imports, s3.CfnBucket)
        cfn_imports.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )

    def _bucket(self, bucket: Bucket, **props: Any) -> s3.Bucket:
        construct_id = "".join(part.capitalize() for part in bucket.value.split("-"))
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self._key,
            bucket_key_enabled=True,  # one KMS call per object batch, not per request
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{bucket.value}/",
            removal_policy=self._removal_policy,
            **props,
        )
