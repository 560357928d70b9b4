"""R-CRYPTO: customer-managed KMS keys with yearly rotation, one per kind of store, so a key policy
or an incident on one kind never reaches the others; and the one way a function or role is given a
key: only through the service that encrypts with it on its behalf (`kms:ViaService`)."""

from __future__ import annotations

from enum import StrEnum
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

# What CDK's own grants give for each use, kept as they were; `grant_via` adds the service condition.
KEY_DECRYPT = ("kms:Decrypt",)
KEY_ENCRYPT_DECRYPT = ("kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")
KEY_PUBLISH = ("kms:Decrypt", "kms:GenerateDataKey*")
# DynamoDB reads and writes items of a customer-managed-key table as the caller.
KEY_TABLE_ITEMS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")

# The construct id of the key-less views below, one per resource.
_KEYLESS_VIEW = "KeylessView"


def _view_scope(resource: IConstruct) -> Construct:
    """Where a resource's key-less view lives: under the resource itself, made once."""
    assert isinstance(resource, Construct), f"{resource.node.path} is not a construct of this app"
    return resource


class Via(StrEnum):
    """The services that use a NAS key on a caller's behalf."""

    DYNAMODB = "dynamodb"
    S3 = "s3"
    KINESIS = "kinesis"
    SQS = "sqs"
    SNS = "sns"


def via_service(scope: IConstruct, via: Via) -> str:
    """The `kms:ViaService` value of `via` in the stack's region, e.g. `dynamodb.eu-west-2.amazonaws.com`."""
    return f"{via}.{cdk.Stack.of(scope).region}.amazonaws.com"


def grant_via(key: kms.IKey, grantee: iam.IGrantable, via: Via, *actions: str) -> iam.Grant:
    """`actions` on `key` for `grantee`, usable only in requests `via` makes to KMS on its behalf:
    the grantee can read and write the store, but cannot call KMS with the key itself (decrypt a
    copied ciphertext, or encrypt anything else) (R-CRYPTO)."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(actions),
        resource_arns=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": via_service(key, via)}},
    )


# CDK's grants on an encrypted stream, queue or bucket (`grant_read`, `grant_send_messages`,
# `grant_put`, and the event sources that call them) also grant the resource's key, with no
# `kms:ViaService`. These views are the same resource without its key, so such a grant gives only
# the resource's own actions, and the key is granted with `grant_via`.


def keyless_stream(stream: kinesis.IStream) -> kinesis.IStream:
    existing = stream.node.try_find_child(_KEYLESS_VIEW)
    if existing is not None:
        return cast(kinesis.IStream, existing)
    return kinesis.Stream.from_stream_attributes(
        _view_scope(stream), _KEYLESS_VIEW, stream_arn=stream.stream_arn
    )


def keyless_queue(queue: sqs.IQueue) -> sqs.IQueue:
    existing = queue.node.try_find_child(_KEYLESS_VIEW)
    if existing is not None:
        return cast(sqs.IQueue, existing)
    return sqs.Queue.from_queue_attributes(
        _view_scope(queue), _KEYLESS_VIEW, queue_arn=queue.queue_arn, queue_url=queue.queue_url
    )


def keyless_bucket(bucket: s3.IBucket) -> s3.IBucket:
    existing = bucket.node.try_find_child(_KEYLESS_VIEW)
    if existing is not None:
        return cast(s3.IBucket, existing)
    return s3.Bucket.from_bucket_attributes(_view_scope(bucket), _KEYLESS_VIEW, bucket_arn=bucket.bucket_arn)


class Keys(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self._removal_policy = removal_policy
        self.stream = self._key("Stream", "NAS streams: Kinesis reads, Firehose read rows")
        self.storage = self._key(
            "Storage", "NAS S3 buckets: reads, images, quarantine, evidence, Athena results"
        )
        self.tables = self._key("Tables", "NAS DynamoDB tables")
        self.logs = self._key("Logs", "NAS CloudWatch log groups")
        # Messaging keys: the services that publish to them are named in their key policies by the
        # constructs that wire them (alerting: EventBridge; monitoring: CloudWatch alarms).
        self.queues = self._key("Queues", "NAS SQS queues: stream consumers' on-failure records")
        self.alerts = self._key("Alerts", "NAS alert events: EventBridge bus and per-LEA SNS topics")
        self.operations = self._key("Operations", "NAS operations: alarm notifications topic")
        # CloudWatch Logs encrypts with the key itself, so the service needs it in the key policy,
        # limited to this account's log groups. This covers groups other services deliver into
        # (WAF logs): the delivery service writes events, CloudWatch Logs encrypts them.
        stack = cdk.Stack.of(self)
        log_groups_of_account = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups_of_account}},
            )
        )

    def _key(self, name: str, description: str) -> kms.Key:
        return kms.Key(
            self,
            name,
            description=description,
            enable_key_rotation=True,
            rotation_period=cdk.Duration.days(365),
            removal_policy=self._removal_policy,
            pending_window=cdk.Duration.days(30),
        )
