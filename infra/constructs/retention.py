"""R-RET-367 / R-RET-365 retention check: the daily job that deletes what S3 lifecycle missed past
367 days under every retained prefix (catalogue.RETAINED_PREFIXES) and writes a signed retention
statement beside the audit digests; its own signing key (only it may sign); `OldestReadAgeDays`
alarmed above 367; and what the api may read (the statements, Verify).

Its own key rather than a second signer on the audit key: a role that may sign with the audit key
could sign a forged audit digest, and the retention job, which deletes objects across the reads
buckets, should be able to forge nothing but its own statements."""

from __future__ import annotations

from collections import defaultdict

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs.audit import KEY_ADMIN_ACTIONS, VERIFY_ACTIONS
from infra.constructs.jobs import JOB_TIMEOUT_S, alarm, job_alarms, job_metric
from infra.constructs.keys import KEY_TABLE_ITEMS, Via, grant_via
from infra.constructs.runtime import LambdaRuntime
from infra.constructs.tables import grant_items
from infra.nag import acknowledge, arn_in_finding
from nas import catalogue
from nas.domain.policy import READ_STORAGE_EXPIRY_DAYS

RETENTION_FUNCTION = "Retention"
OLDEST_READ_AGE_METRIC = "OldestReadAgeDays"
# After S3's lifecycle has run for the day (it works through the night, UTC), so what is left is what
# it missed.
RETENTION_SCHEDULE = events.Schedule.cron(minute="30", hour="5")
STATEMENTS = f"{catalogue.RETENTION_STATEMENT_PREFIX}*"


class RetentionCheck(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: LambdaRuntime,
        buckets: dict[catalogue.Bucket, s3.IBucket],
        audit_table: dynamodb.ITable,
        storage_key: kms.IKey,
        tables_key: kms.IKey,
        lock_days: int,
        removal_policy: cdk.RemovalPolicy,
        readers: list[lambda_.Function],
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        evidence = buckets[catalogue.Bucket.EVIDENCE]
        account = iam.AccountRootPrincipal()
        self.signing_key = kms.Key(
            self,
            "SigningKey",
            description="NAS retention statements (R-RET-367): only the retention check may sign",
            key_spec=kms.KeySpec(catalogue.AUDIT_SIGNING_KEY_SPEC),
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=removal_policy,
            pending_window=cdk.Duration.days(30),
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="KeyAdministration",
                        principals=[account],
                        actions=KEY_ADMIN_ACTIONS,
                        resources=["*"],
                    ),
                    iam.PolicyStatement(
                        sid="VerifyThroughIam", principals=[account], actions=VERIFY_ACTIONS, resources=["*"]
                    ),
                ]
            ),
        )
        environment = {
            catalogue.AUDIT.env_var: audit_table.table_name,
            catalogue.RETENTION_SIGNING_KEY_ENV: self.signing_key.key_arn,
            catalogue.RETENTION_STATEMENT_LOCK_ENV: str(lock_days),
            catalogue.Bucket.EVIDENCE.env_var: evidence.bucket_name,
        }
        for retained in catalogue.RETAINED_PREFIXES:
            environment[retained.bucket.env_var] = buckets[retained.bucket].bucket_name
        self.function = runtime.function(
            RETENTION_FUNCTION,
            handler="handlers.retention.lambda_handler",
            description="NAS retention check (R-RET-367): deletes stragglers, signs a retention statement",
            environment=environment,
            timeout_seconds=JOB_TIMEOUT_S,
            reserved_concurrency=1,
        )
        role = self.function.role
        assert role is not None
        self._key_policy(role)
        self._grants(role, buckets, audit_table, storage_key, tables_key)
        for reader in readers:
            self._reader_grants(reader, evidence, storage_key)
        events.Rule(
            self,
            "Daily",
            description="NAS retention check (R-RET-367)",
            schedule=RETENTION_SCHEDULE,
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        job_alarms(self, self.function, alarm_topic, "retention check (R-RET-367)")
        alarm(
            self,
            "OldestReadTooOld",
            alarm_topic,
            description=f"A read or image older than {READ_STORAGE_EXPIRY_DAYS} days is still held"
            " (R-RET-367)",
            metric=job_metric(RETENTION_FUNCTION, OLDEST_READ_AGE_METRIC, "Maximum"),
            threshold=READ_STORAGE_EXPIRY_DAYS,
        )
        alarm(
            self,
            "DeletesFailing",
            alarm_topic,
            description="The retention check could not delete stragglers (R-RET-367)",
            metric=job_metric(RETENTION_FUNCTION, "RetentionDeleteFailures"),
        )

    def _key_policy(self, role: iam.IRole) -> None:
        """Only the retention check signs: allowed by name, denied to every other principal."""
        self.signing_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RetentionCheckSigns", principals=[role], actions=["kms:Sign"], resources=["*"]
            )
        )
        self.signing_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="NobodyElseSigns",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:Sign"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": role.role_arn}},
            )
        )
        self.signing_key.grant(role, "kms:Sign")

    def _grants(
        self,
        role: iam.IRole,
        buckets: dict[catalogue.Bucket, s3.IBucket],
        audit_table: dynamodb.ITable,
        storage_key: kms.IKey,
        tables_key: kms.IKey,
    ) -> None:
        by_bucket: dict[catalogue.Bucket, list[str]] = defaultdict(list)
        for retained in catalogue.RETAINED_PREFIXES:
            by_bucket[retained.bucket].append(retained.prefix)
        for bucket_role, prefixes in by_bucket.items():
            bucket = buckets[bucket_role]
            # List versions under the retained prefixes only; delete versions by id there (a
            # permanent delete: s3:DeleteObjectVersion), never anything else of the bucket.
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucketVersions"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
                )
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:DeleteObjectVersion"],
                    resources=[bucket.arn_for_objects(f"{p}*") for p in prefixes],
                )
            )
            for prefix in prefixes:
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::{arn_in_finding(bucket)}/{prefix}*]",
                    "The retention check deletes, by version, whichever objects under this retained prefix"
                    " are older than 367 days (R-RET-367): their names are not known in advance.",
                )
        evidence = buckets[catalogue.Bucket.EVIDENCE]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:PutObjectRetention"],
                resources=[evidence.arn_for_objects(STATEMENTS)],
            )
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(evidence)}/{STATEMENTS}]",
            "Statements are named by day and time as the check writes them; writes are limited to the"
            " retention-statements/ prefix, and Object Lock refuses overwriting them.",
        )
        grant_via(storage_key, role, Via.S3, "kms:Decrypt", "kms:GenerateDataKey")
        grant_items(audit_table, role, "dynamodb:PutItem", "dynamodb:Query")
        grant_via(tables_key, role, Via.DYNAMODB, *KEY_TABLE_ITEMS)

    def _reader_grants(self, function: lambda_.Function, evidence: s3.IBucket, storage_key: kms.IKey) -> None:
        """GET /reports/retention: list and read the statements, check their signatures; never sign."""
        function.add_environment(catalogue.RETENTION_SIGNING_KEY_ENV, self.signing_key.key_arn)
        function.add_environment(catalogue.Bucket.EVIDENCE.env_var, evidence.bucket_name)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[evidence.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [STATEMENTS]}},
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[evidence.arn_for_objects(STATEMENTS)])
        )
        grant_via(storage_key, function, Via.S3, "kms:Decrypt")
        self.signing_key.grant(function, "kms:Verify")
        assert function.role is not None
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(evidence)}/{STATEMENTS}]",
            "GET /reports/retention reads the latest statement of a day: read-only, limited to the"
            " retention-statements/ prefix.",
        )
