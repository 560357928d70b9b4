"""R-CRYPTO: customer-managed KMS keys with yearly rotation, one per kind of store, so a key policy
or an incident on one kind never reaches the others."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


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
        # limited to this account's log groups.
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
