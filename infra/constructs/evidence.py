"""One read and its afterlife, as the api serves it: read views and images (SPEC §6), corrections
(R-CORRECT), preservations (R-PRESERVE) and data-subject requests (R-SAR). Its tables come from the
catalogue (`Tables`); here are the api's grants on them, on the packs and on the evidence bucket, and
the evidence bucket's rule that expires a released preservation.

- Images: `s3:GetObject` on `images/` of the reads bucket only, which the api calls with a Range
  header; nothing here can presign a URL to a pack for a client (a presigned URL carries the signer's
  rights, and a client dropping the Range would get every read of the batch).
- Preservations: objects written under `preservations/` with a legal hold (`s3:PutObjectLegalHold`
  on write and on release); tags mark a released copy, which the lifecycle rule below then expires.
  No delete is granted: a held version cannot be deleted by anyone, a released one ages out.
- Records of what was done (corrections, preservations, subject requests) are never deleted: their
  tables' resource policies refuse item deletes to everyone (catalogue `denies_deletes`).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.keys import Via, grant_via
from infra.constructs.tables import Tables, grant_index_queries, grant_item_updates, grant_items
from infra.nag import acknowledge, arn_in_finding
from nas import catalogue

RELEASED_PRESERVATION_DAYS = 1
"""A released preservation's current version expires a day after release is tagged, its noncurrent
version a day later: gone within about three days (docs/reads.md, "Preservations")."""
PRESERVATIONS = f"{catalogue.PRESERVATIONS_PREFIX}*"


def add_released_preservations_rule(bucket: s3.Bucket) -> None:
    name, value = catalogue.PRESERVATION_RELEASED_TAG
    bucket.add_lifecycle_rule(
        id="expire-released-preservations",
        prefix=catalogue.PRESERVATIONS_PREFIX,
        tag_filters={name: value},
        expiration=cdk.Duration.days(RELEASED_PRESERVATION_DAYS),
        noncurrent_version_expiration=cdk.Duration.days(RELEASED_PRESERVATION_DAYS),
    )


class ReadEvidence(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_function: lambda_.Function,
        tables: Tables,
        reads_bucket: s3.IBucket,
        evidence_bucket: s3.Bucket,
        storage_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        add_released_preservations_rule(evidence_bucket)
        corrections = tables.table(catalogue.CORRECTIONS)
        preservations = tables.table(catalogue.PRESERVATIONS)
        requests = tables.table(catalogue.SUBJECT_REQUESTS)
        voi = tables.table(catalogue.VOI)
        for spec, table in (
            (catalogue.CORRECTIONS, corrections),
            (catalogue.PRESERVATIONS, preservations),
            (catalogue.SUBJECT_REQUESTS, requests),
            (catalogue.VOI, voi),
        ):
            api_function.add_environment(spec.env_var, table.table_name)
        api_function.add_environment(catalogue.Bucket.EVIDENCE.env_var, evidence_bucket.bucket_name)
        self._table_grants(api_function, corrections, preservations, requests, voi)
        self._bucket_grants(api_function, reads_bucket, evidence_bucket, storage_key)

    @staticmethod
    def _table_grants(
        function: lambda_.Function,
        corrections: dynamodb.ITable,
        preservations: dynamodb.ITable,
        requests: dynamodb.ITable,
        voi: dynamodb.ITable,
    ) -> None:
        # R-CORRECT: a correction and the read's CURRENT item in one transaction (puts); history by
        # Query; current corrections of a page of reads by BatchGetItem; the overlay's indexes.
        grant_items(corrections, function, "dynamodb:PutItem", "dynamodb:BatchGetItem", "dynamodb:Query")
        grant_index_queries(corrections, catalogue.CORRECTIONS, function)
        # R-PRESERVE: the manifest and an item per read in one transaction; release sets the release
        # attributes of the manifest item and nothing else.
        grant_items(preservations, function, "dynamodb:PutItem", "dynamodb:Query")
        grant_item_updates(
            preservations,
            function,
            (*catalogue.PRESERVATION_KEY_ATTRIBUTES, *catalogue.PRESERVATION_RELEASE_ATTRIBUTES),
        )
        grant_index_queries(preservations, catalogue.PRESERVATIONS, function)
        # R-SAR: a request is put once, read, and updated in its decision attributes only.
        grant_items(requests, function, "dynamodb:PutItem", "dynamodb:GetItem")
        grant_item_updates(
            requests,
            function,
            (catalogue.SUBJECT_REQUEST_KEY_ATTRIBUTE, *catalogue.SUBJECT_REQUEST_UPDATE_ATTRIBUTES),
        )
        grant_index_queries(requests, catalogue.SUBJECT_REQUESTS, function)
        # A corrected VRM on a live VOI list is reported (no alert): the match items, read only.
        grant_items(voi, function, "dynamodb:BatchGetItem")

    @staticmethod
    def _bucket_grants(
        function: lambda_.Function, reads: s3.IBucket, evidence: s3.IBucket, storage_key: kms.IKey
    ) -> None:
        images = f"{catalogue.IMAGES_PREFIX}*"
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[reads.arn_for_objects(images)])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:PutObject",
                    "s3:PutObjectLegalHold",
                    "s3:GetObjectLegalHold",
                    "s3:PutObjectTagging",
                    "s3:PutObjectVersionTagging",
                ],
                resources=[evidence.arn_for_objects(PRESERVATIONS)],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucketVersions"],
                resources=[evidence.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [PRESERVATIONS]}},
            )
        )
        grant_via(storage_key, function, Via.S3, "kms:Decrypt", "kms:GenerateDataKey")
        assert function.role is not None
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(reads)}/{images}]",
            "Read views fetch one image by a byte-range GET of the pack a row names; packs are named by"
            " batch, so the prefix is the narrowest resource. Read-only.",
        )
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(evidence)}/{PRESERVATIONS}]",
            "Preservations write new objects under a legal hold, named by preservation id as they are"
            " made, and release them; no delete is granted, and Object Lock keeps held copies.",
        )
