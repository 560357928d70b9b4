"""R-AUDIT anchoring: the digest job (one function on two schedules), the asymmetric KMS key it
signs with and the key policy that lets nothing else sign, its grants (read the chains, write
digests under the evidence bucket's `audit-digests/` prefix with a compliance-mode retention), what
the verifiers may read, and alarms when the job stops, fails or finds the trail changed.

The audit table's own append-only resource policy comes from the catalogue (`append_only`, applied
by `infra/constructs/tables.py`) with the table."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs.keys import Via, grant_via
from infra.constructs.runtime import LambdaRuntime
from infra.constructs.tables import grant_items
from infra.nag import acknowledge, arn_in_finding
from nas import catalogue

DIGEST_FUNCTION = "AuditDigest"
DIGEST_EVERY = cdk.Duration.minutes(5)
# Just after each UTC day ends (and after nas.domain.audit.CLOSE_AFTER): the previous day's chains
# are closed at once rather than by the next five-minute run.
DAY_CLOSE = events.Schedule.cron(minute="2", hour="0")
# One run at a time: two overlapping runs would race for the same digest numbers (the loser's write
# is refused, If-None-Match, but it would have signed for nothing).
DIGEST_CONCURRENCY = 1
# Well inside the 5-minute schedule; the handler stops 30 s before it and leaves the rest to the
# next run.
DIGEST_TIMEOUT_S = 240
# Key administration without the key's use: the account can manage, describe and retire the key
# (and change this policy, which CloudTrail records), but signing is granted below to one role only.
KEY_ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]
VERIFY_ACTIONS = ["kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"]


def _list_digest_versions(bucket: s3.IBucket) -> iam.PolicyStatement:
    """Listing the versions under audit-digests/ only (no other prefix of the evidence bucket)."""
    return iam.PolicyStatement(
        actions=["s3:ListBucketVersions"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{catalogue.AUDIT_DIGEST_PREFIX}*"]}},
    )


class AuditDigests(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: LambdaRuntime,
        audit_table: dynamodb.ITable,
        evidence_bucket: s3.IBucket,
        storage_key: kms.IKey,
        tables_key: kms.IKey,
        retention_days: int,
        removal_policy: cdk.RemovalPolicy,
        verifiers: Sequence[lambda_.Function],
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        account = iam.AccountRootPrincipal()
        self.signing_key = kms.Key(
            self,
            "SigningKey",
            description="NAS audit digests (R-AUDIT): signs chain digests; only the digest job may sign",
            key_spec=kms.KeySpec(catalogue.AUDIT_SIGNING_KEY_SPEC),
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            # KMS does not rotate asymmetric keys; a new key would be a new trust anchor for auditors.
            removal_policy=removal_policy,
            pending_window=cdk.Duration.days(30),
            # The whole key policy (no default `kms:*` for the account, which would let any IAM
            # policy grant kms:Sign).
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
        self.function = runtime.function(
            DIGEST_FUNCTION,
            handler="handlers.audit_digest.lambda_handler",
            description="NAS audit digests (R-AUDIT): signs each chain's new records into the evidence"
            " bucket",
            environment={
                catalogue.AUDIT.env_var: audit_table.table_name,
                catalogue.Bucket.EVIDENCE.env_var: evidence_bucket.bucket_name,
                catalogue.AUDIT_SIGNING_KEY_ENV: self.signing_key.key_arn,
                catalogue.AUDIT_DIGEST_RETENTION_ENV: str(retention_days),
            },
            timeout_seconds=DIGEST_TIMEOUT_S,
            reserved_concurrency=DIGEST_CONCURRENCY,
        )
        role = self.function.role
        assert role is not None
        self._key_policy(role)
        self._digest_grants(role, audit_table, evidence_bucket, storage_key, tables_key)
        for verifier in verifiers:
            self._verifier_grants(verifier, evidence_bucket, storage_key)
        for rule_id, schedule in (
            ("EveryFiveMinutes", events.Schedule.rate(DIGEST_EVERY)),
            ("AfterEachDay", DAY_CLOSE),
        ):
            events.Rule(
                self,
                rule_id,
                description="NAS audit digests (R-AUDIT)",
                schedule=schedule,
                targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
            )
        self._alarms(alarm_topic)

    def _key_policy(self, role: iam.IRole) -> None:
        """Only the digest job signs: allowed by name, and denied to every other principal, so no
        identity policy anywhere in the account can grant kms:Sign on this key."""
        self.signing_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DigestJobSigns", principals=[role], actions=["kms:Sign"], resources=["*"]
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

    def _digest_grants(
        self,
        role: iam.IRole,
        audit_table: dynamodb.ITable,
        evidence_bucket: s3.IBucket,
        storage_key: kms.IKey,
        tables_key: kms.IKey,
    ) -> None:
        # Reads the chains with Query only: no write to the audit table at all.
        grant_items(audit_table, role, "dynamodb:Query")
        grant_via(tables_key, role, Via.DYNAMODB, "kms:Decrypt")
        digests = evidence_bucket.arn_for_objects(f"{catalogue.AUDIT_DIGEST_PREFIX}*")
        role.add_to_principal_policy(_list_digest_versions(evidence_bucket))
        # Versions: digests are read as first written, whatever was put over them since.
        # PutObjectRetention: a write that sets a retention needs it. No delete, no legal hold.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectRetention"], resources=[digests]
            )
        )
        grant_via(storage_key, role, Via.S3, "kms:Decrypt", "kms:GenerateDataKey")
        # Verify: the job checks the latest digest before extending it.
        self.signing_key.grant(role, "kms:Sign", "kms:Verify")
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(evidence_bucket)}/{catalogue.AUDIT_DIGEST_PREFIX}*]",
            "Digest objects are named by chain and number as the job writes them; the grant is limited"
            " to the audit-digests/ prefix, and Object Lock refuses deleting or overwriting them.",
        )

    def _verifier_grants(
        self, function: lambda_.Function, evidence_bucket: s3.IBucket, storage_key: kms.IKey
    ) -> None:
        """GET /audit/verify: read the digests and check their signatures; never sign."""
        function.add_environment(catalogue.Bucket.EVIDENCE.env_var, evidence_bucket.bucket_name)
        function.add_environment(catalogue.AUDIT_SIGNING_KEY_ENV, self.signing_key.key_arn)
        function.add_to_role_policy(_list_digest_versions(evidence_bucket))
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObjectVersion"],
                resources=[evidence_bucket.arn_for_objects(f"{catalogue.AUDIT_DIGEST_PREFIX}*")],
            )
        )
        grant_via(storage_key, function, Via.S3, "kms:Decrypt")
        self.signing_key.grant(function, "kms:Verify", "kms:GetPublicKey")
        assert function.role is not None
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(evidence_bucket)}/{catalogue.AUDIT_DIGEST_PREFIX}*]",
            "GET /audit/verify reads every digest of the days asked for: read-only, limited to the"
            " audit-digests/ prefix.",
        )

    def _alarms(self, topic: sns.ITopic) -> None:
        period = cdk.Duration.minutes(15)

        def alarm(
            name: str, description: str, metric: cloudwatch.IMetric, missing: cloudwatch.TreatMissingData
        ) -> None:
            created = cloudwatch.Alarm(
                self,
                name,
                alarm_description=description,
                metric=metric,
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=missing,
            )
            created.add_alarm_action(actions.SnsAction(topic))

        service = LambdaRuntime.service_name(DIGEST_FUNCTION)

        def job_metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=catalogue.METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": service},
                statistic="Sum",
                period=period,
            )

        alarm(
            "DigestJobFailing",
            "The audit digest job failed: chains are not being anchored (R-AUDIT)",
            self.function.metric_errors(period=period),
            cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm(
            "AuditTrailChanged",
            "The digest job found audit records or digests changed, or a chain it cannot extend (R-AUDIT)",
            cloudwatch.MathExpression(
                expression="FILL(breaks, 0) + FILL(blocked, 0)",
                using_metrics={
                    "breaks": job_metric("AuditChainBreaks"),
                    "blocked": job_metric("AuditChainsBlocked"),
                },
                period=period,
            ),
            cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # Runs every 5 minutes: 15 minutes without an invocation means the schedule stopped.
        not_running = cloudwatch.Alarm(
            self,
            "DigestJobNotRunning",
            alarm_description="The audit digest job has not run for 15 minutes (R-AUDIT)",
            metric=self.function.metric_invocations(period=period),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        not_running.add_alarm_action(actions.SnsAction(topic))
