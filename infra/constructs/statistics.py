"""R-STATS daily statistics: the job that counts yesterday without personal data each morning and
writes one document a day into the evidence bucket (`statistics/daily/`), and what the api may read
of them (`GET /reports/daily`). Reads are counted by Athena in the search workgroup; alerts, audit
events and VOI entries are read from their tables; quarantine documents from the quarantine bucket.
The job writes nothing else but its own audit events."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs.analytics import Analytics
from infra.constructs.jobs import JOB_TIMEOUT_S, job_alarms
from infra.constructs.keys import KEY_TABLE_ITEMS, Via, grant_via
from infra.constructs.runtime import LambdaRuntime
from infra.constructs.tables import grant_index_queries, grant_items
from infra.nag import acknowledge, arn_in_finding
from nas import catalogue

STATISTICS_FUNCTION = "Statistics"
# After midnight's late stragglers of the day before have had an hour to land (Firehose buffers up to
# 15 minutes), and before the working day.
STATISTICS_SCHEDULE = events.Schedule.cron(minute="15", hour="2")
REPORTS = f"{catalogue.STATISTICS_PREFIX}*"
QUARANTINE = f"{catalogue.QUARANTINE_PREFIX}*"
DAY_SHARD_INDEX = "by-raised-day-shard"


class DailyStatistics(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: LambdaRuntime,
        analytics: Analytics,
        quarantine_bucket: s3.IBucket,
        evidence_bucket: s3.IBucket,
        alerts_table: dynamodb.ITable,
        audit_table: dynamodb.ITable,
        voi_table: dynamodb.ITable,
        storage_key: kms.IKey,
        tables_key: kms.IKey,
        readers: list[lambda_.Function],
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = runtime.function(
            STATISTICS_FUNCTION,
            handler="handlers.statistics.lambda_handler",
            description="NAS daily statistics (R-STATS): counts without personal data, one document a day",
            environment={
                catalogue.ALERTS.env_var: alerts_table.table_name,
                catalogue.AUDIT.env_var: audit_table.table_name,
                catalogue.VOI.env_var: voi_table.table_name,
                catalogue.Bucket.QUARANTINE.env_var: quarantine_bucket.bucket_name,
                catalogue.Bucket.EVIDENCE.env_var: evidence_bucket.bucket_name,
                catalogue.ATHENA_WORKGROUP_ENV: analytics.workgroup.ref,
                catalogue.GLUE_DATABASE_ENV: analytics.database_name,
            },
            timeout_seconds=JOB_TIMEOUT_S,
            reserved_concurrency=1,
        )
        role = self.function.role
        assert role is not None
        # Counting reads is a query of the search workgroup: the same grants as a search's.
        analytics.grant_searches(self.function)
        # Alerts of a day by its shards; the day's audit chains (and its own run appended); VOI
        # entries counted by source with a Scan.
        grant_index_queries(
            alerts_table,
            catalogue.ALERTS,
            self.function,
            excluding=[i.name for i in catalogue.ALERTS.indexes if i.name != DAY_SHARD_INDEX],
        )
        grant_items(audit_table, self.function, "dynamodb:PutItem", "dynamodb:Query")
        grant_items(voi_table, self.function, "dynamodb:Scan")
        grant_via(tables_key, self.function, Via.DYNAMODB, *KEY_TABLE_ITEMS)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[quarantine_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [QUARANTINE]}},
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[quarantine_bucket.arn_for_objects(QUARANTINE)]
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[evidence_bucket.arn_for_objects(REPORTS)]
            )
        )
        grant_via(storage_key, self.function, Via.S3, "kms:Decrypt", "kms:GenerateDataKey")
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(quarantine_bucket)}/{QUARANTINE}]",
            "The job reads the day's quarantine documents, named by day, shard and sequence range as"
            " the archive consumer wrote them; read-only, limited to the quarantine/ prefix.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(evidence_bucket)}/{REPORTS}]",
            "One statistics document a day, named by the day; writes limited to the statistics/daily/"
            " prefix of the evidence bucket (no personal data in them).",
        )
        for reader in readers:
            self._reader_grants(reader, evidence_bucket, storage_key)
        events.Rule(
            self,
            "Daily",
            description="NAS daily statistics (R-STATS)",
            schedule=STATISTICS_SCHEDULE,
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        job_alarms(self, self.function, alarm_topic, "daily statistics job (R-STATS)")

    def _reader_grants(self, function: lambda_.Function, evidence: s3.IBucket, storage_key: kms.IKey) -> None:
        """GET /reports/daily: read a day's document (a missing one is a 404, so ListBucket too)."""
        function.add_environment(catalogue.Bucket.EVIDENCE.env_var, evidence.bucket_name)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[evidence.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [REPORTS]}},
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[evidence.arn_for_objects(REPORTS)])
        )
        grant_via(storage_key, function, Via.S3, "kms:Decrypt")
        assert function.role is not None
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(evidence)}/{REPORTS}]",
            "GET /reports/daily reads one day's statistics document: read-only, limited to the"
            " statistics/daily/ prefix (no personal data in them).",
        )
