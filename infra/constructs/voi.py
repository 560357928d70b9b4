"""VOI management (R-VOI-BULK, R-VOI-28, R-VOI-56): the functions behind bulk imports, expiry without
trace and review reminders, and what triggers them.

- imports: an object under `incoming/` in the imports bucket reaches the upload function (S3's
  Object Created event, through EventBridge), which
  checks the file, takes its source's claim and starts the import state machine: a Distributed Map
  over the file's 16 MB chunks, another over the generation's groups (each a step function call),
  then finish (the flip), a minute's wait for every match environment to let go of the old list,
  and clean-up. Any step's failure runs the fail step. 10,000,000 rows are about 40 chunk and 128
  group calls of seconds each: nothing comes near Lambda's 15 minutes.
- expiry: the voi table's stream (keys only), filtered in the event source mapping to DynamoDB's
  TTL removals of entry items, so the expiry function rebuilds their match items.
- housekeeping: EventBridge Scheduler invokes one function daily for review reminders on the
  alerting bus and hourly for the sweep of anything expired that TTL has not removed yet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs.keys import (
    KEY_DECRYPT,
    KEY_ENCRYPT_DECRYPT,
    KEY_TABLE_ITEMS,
    Via,
    grant_via,
    keyless_queue,
)
from infra.constructs.runtime import LambdaRuntime
from infra.constructs.tables import grant_index_queries, grant_items
from infra.nag import acknowledge, arn_in_finding
from nas import catalogue
from nas.adapters.import_files import INCOMING_PREFIX, REJECTS_PREFIX, WORK_PREFIX
from nas.adapters.voi_keys import ENTRY_PREFIX

# Parallel load calls: a 10,000,000-row list is about 40 chunks and 128 groups.
CHUNK_CONCURRENCY = 40
GROUP_CONCURRENCY = 64
# Every match environment refreshes its copy of the list state within 5 s; a minute is ample before
# the replaced list's items are deleted (docs/data-model.md, atomic replacement).
CLEAN_UP_WAIT = cdk.Duration.seconds(60)
IMPORT_TIMEOUT = cdk.Duration.hours(6)
# Errors of a step worth retrying (the store was busy); a superseded import is not retried.
TRANSIENT_ERRORS = ["StoreError", "UnprocessedItemsError", "ConcurrentUpdateError"]
ITEM_WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


class Voi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: LambdaRuntime,
        table: dynamodb.Table,
        imports_bucket: s3.Bucket,
        storage_key: kms.IKey,
        tables_key: kms.IKey,
        queues_key: kms.IKey,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        alert_bus: events.IEventBus,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._runtime = runtime
        self._table = table
        self._bucket = imports_bucket
        self._storage_key = storage_key
        self._tables_key = tables_key
        self._alarm_topic = alarm_topic
        self.step = self._step_function()
        self.state_machine = self._state_machine(logs_key, log_retention)
        self.upload = self._upload_function()
        self.failures = self._failure_queue(queues_key)
        self.expiry = self._expiry_function(queues_key)
        self.housekeeping = self._housekeeping_function(alert_bus)
        self._alarms()

    def _environment(self) -> dict[str, str]:
        return {
            catalogue.VOI.env_var: self._table.table_name,
            catalogue.Bucket.IMPORTS.env_var: self._bucket.bucket_name,
        }

    def _objects(self, grantee: iam.IGrantable, actions_: list[str], *prefixes: str) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=actions_,
            resource_arns=[self._bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
        )

    def _acknowledge(self, function: lambda_.Function, reasons: dict[str, str]) -> None:
        role = function.role
        assert role is not None
        for rule, reason in reasons.items():
            acknowledge(role, rule, reason)

    def _prefix_finding(self, prefix: str) -> str:
        return f"AwsSolutions-IAM5[Resource::{arn_in_finding(self._bucket)}/{prefix}*]"

    def _step_function(self) -> lambda_.Function:
        function = self._runtime.function(
            "VoiImportStep",
            handler="handlers.voi_import.step_handler",
            description="NAS VOI import steps: chunk, group, finish, clean-up, fail (R-VOI-BULK)",
            environment=self._environment(),
            # One vCPU: a 16 MB chunk parses in seconds; a group of 80,000 rows merges in less.
            memory_size=1769,
            timeout_seconds=600,
        )
        # Import records and plans (get, conditional updates), the state item's claim and the flip
        # (transaction of updates), generation items in batches (write, read, delete).
        grant_items(
            self._table,
            function,
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
            *ITEM_WRITES,
        )
        grant_via(self._tables_key, function, Via.DYNAMODB, *KEY_TABLE_ITEMS)
        self._objects(function, ["s3:GetObject"], INCOMING_PREFIX, WORK_PREFIX)
        self._objects(function, ["s3:PutObject", "s3:AbortMultipartUpload"], WORK_PREFIX, REJECTS_PREFIX)
        self._objects(function, ["s3:DeleteObject"], INCOMING_PREFIX, WORK_PREFIX)
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["s3:ListBucket"],
            resource_arns=[self._bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{INCOMING_PREFIX}*", f"{WORK_PREFIX}*"]}},
        )
        grant_via(self._storage_key, function, Via.S3, *KEY_ENCRYPT_DECRYPT)
        self._acknowledge(
            function,
            {
                self._prefix_finding(INCOMING_PREFIX): "Uploaded lists are named by import id; read and"
                " deleted by the import steps under incoming/ only.",
                self._prefix_finding(WORK_PREFIX): "The load's working files are named by import, chunk"
                " and group; limited to the work/ prefix.",
                self._prefix_finding(REJECTS_PREFIX): "Each import's rejected rows are one CSV named by"
                " import id; limited to the rejects/ prefix.",
                "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": "SSE-KMS object writes need data keys;"
                " limited to the storage key and to requests S3 makes (kms:ViaService).",
                "AwsSolutions-IAM5[Action::kms:ReEncrypt*]": "Part of the encrypt/decrypt set for the"
                " imports bucket, limited to the storage key and to requests S3 makes.",
            },
        )
        return function

    def _task(self, construct_id: str, payload: dict[str, str]) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            construct_id,
            lambda_function=self.step,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            result_path=sfn.JsonPath.DISCARD,
            retry_on_service_exceptions=True,
        )
        task.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=cdk.Duration.seconds(5),
            max_attempts=3,
            backoff_rate=2,
        )
        return task

    def _state_machine(self, logs_key: kms.IKey, log_retention: logs.RetentionDays) -> sfn.StateMachine:
        import_id = "$.import_id"
        fail = self._task("Fail", {"step": "fail", "import_id.$": import_id, "error.$": "$.error"}).next(
            sfn.Fail(self, "ImportFailed", cause="the import failed; its record says why")
        )

        chunks = sfn.DistributedMap(
            self,
            "LoadChunks",
            items_path="$.chunks",
            item_selector={"import_id.$": import_id, "chunk.$": "$$.Map.Item.Value"},
            max_concurrency=CHUNK_CONCURRENCY,
            result_path=sfn.JsonPath.DISCARD,
        )
        chunks.item_processor(
            self._task("LoadChunk", {"step": "chunk", "import_id.$": import_id, "chunk.$": "$.chunk"})
        )
        groups = sfn.DistributedMap(
            self,
            "MergeGroups",
            items_path="$.groups",
            item_selector={"import_id.$": import_id, "group.$": "$$.Map.Item.Value"},
            max_concurrency=GROUP_CONCURRENCY,
            result_path=sfn.JsonPath.DISCARD,
        )
        groups.item_processor(
            self._task("MergeGroup", {"step": "group", "import_id.$": import_id, "group.$": "$.group"})
        )
        finish = self._task("Finish", {"step": "finish", "import_id.$": import_id})
        for state in (chunks, groups, finish):
            state.add_catch(fail, result_path="$.error")
        definition = (
            chunks.next(groups)
            .next(finish)
            .next(sfn.Wait(self, "LetMatchCatchUp", time=sfn.WaitTime.duration(CLEAN_UP_WAIT)))
            .next(self._task("CleanUp", {"step": "clean-up", "import_id.$": import_id}))
        )
        log_group = logs.LogGroup(
            self,
            "ImportLogs",
            encryption_key=logs_key,
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        machine = sfn.StateMachine(
            self,
            "Import",
            comment="NAS VOI list import (R-VOI-BULK): chunks, groups, flip, clean-up",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=IMPORT_TIMEOUT,
            tracing_enabled=True,
            # Payloads hold import ids and numbers only, but execution data stays out of the logs.
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        acknowledge(
            machine,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(self.step)}:*]",
            "Step Functions invokes the step function by its versioned ARN form; the grant names"
            " that one function.",
        )
        # The Distributed Map runs its children as executions of this state machine, named by Step
        # Functions: the policy CDK writes names this machine's executions with a wildcard.
        stack = cdk.Stack.of(self)
        default_child = machine.node.default_child
        assert isinstance(default_child, cdk.CfnElement)
        name = json.dumps(
            {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": stack.get_logical_id(default_child)}]}]},
            separators=(",", ":"),
        )
        executions = f"arn:<AWS::Partition>:states:{stack.region}:<AWS::AccountId>:execution:{name}"
        for pattern in (f"{executions}:*", f"{executions}/*:*"):
            acknowledge(
                machine,
                f"AwsSolutions-IAM5[Resource::{pattern}]",
                "A Distributed Map starts, describes and stops child executions of this one state"
                " machine, whose names Step Functions generates.",
            )
        acknowledge(
            machine,
            "AwsSolutions-IAM5[Resource::*]",
            "Log delivery and X-Ray actions of a state machine support no resource-level permissions.",
        )
        return machine

    def _upload_function(self) -> lambda_.Function:
        function = self._runtime.function(
            "VoiImportUpload",
            handler="handlers.voi_import.upload_handler",
            description="NAS VOI import start: an uploaded list's header, claim and plan (R-VOI-BULK)",
            environment={
                **self._environment(),
                catalogue.VOI_IMPORT_STATE_MACHINE_ENV: self.state_machine.state_machine_arn,
            },
            memory_size=512,
            timeout_seconds=60,
        )
        grant_items(self._table, function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        grant_via(self._tables_key, function, Via.DYNAMODB, *KEY_TABLE_ITEMS)
        # Reads an upload's header; deletes an upload that cannot be loaded.
        self._objects(function, ["s3:GetObject", "s3:DeleteObject"], INCOMING_PREFIX)
        grant_via(self._storage_key, function, Via.S3, *KEY_DECRYPT)
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["states:StartExecution"],
            resource_arns=[self.state_machine.state_machine_arn],
        )
        # S3 sends Object Created to the default bus (the bucket's EventBridge setting); this rule
        # passes the imports bucket's uploads under incoming/ to the upload function.
        rule = events.Rule(
            self,
            "UploadArrived",
            description="R-VOI-BULK: an uploaded VOI list starts its import",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self._bucket.bucket_name]},
                    "object": {"key": [{"prefix": INCOMING_PREFIX}]},
                },
            ),
        )
        rule.add_target(
            events_targets.LambdaFunction(function, retry_attempts=8, max_event_age=cdk.Duration.hours(1))
        )
        self._acknowledge(
            function,
            {
                self._prefix_finding(INCOMING_PREFIX): "Uploaded lists are named by import id; the"
                " start reads their header under incoming/ only.",
            },
        )
        return function

    def _failure_queue(self, key: kms.IKey) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "ExpiryFailures",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "The expiry function's on-failure destination: it holds stream positions for an operator"
            " to replay (the hourly sweep also settles them); nothing consumes it.",
        )
        return queue

    def _expiry_function(self, queues_key: kms.IKey) -> lambda_.Function:
        function = self._runtime.function(
            "VoiExpiry",
            handler="handlers.voi_expiry.lambda_handler",
            description="NAS VOI expiry: TTL removals rebuild match items, no trace left (R-VOI-56)",
            environment=self._environment(),
            memory_size=512,
            timeout_seconds=60,
        )
        grant_items(self._table, function, "dynamodb:GetItem", "dynamodb:Query", *ITEM_WRITES)
        grant_via(self._tables_key, function, Via.DYNAMODB, *KEY_TABLE_ITEMS)
        grant_via(queues_key, function, Via.SQS, *KEY_ENCRYPT_DECRYPT)
        stream_arn = self._table.table_stream_arn
        assert stream_arn is not None, "the voi table has a stream (catalogue.VOI.stream)"
        # The table without its key: the event source's stream grant would add the key unconditioned.
        keyless = dynamodb.Table.from_table_attributes(
            self, "VoiTableKeyless", table_arn=self._table.table_arn, table_stream_arn=stream_arn
        )
        function.add_event_source(
            sources.DynamoEventSource(
                keyless,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                bisect_batch_on_error=True,
                retry_attempts=5,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(keyless_queue(self.failures)),
                filters=[ttl_removals_of_entries()],
            )
        )
        self._acknowledge(
            function,
            {
                "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": "The on-failure queue's encryption"
                " needs a data key; limited to the queues key and to requests SQS makes.",
                "AwsSolutions-IAM5[Action::kms:ReEncrypt*]": "Part of CDK's grant for sending to a"
                " KMS-encrypted queue, limited to the queues key and to requests SQS makes.",
            },
        )
        return function

    def _housekeeping_function(self, alert_bus: events.IEventBus) -> lambda_.Function:
        function = self._runtime.function(
            "VoiHousekeeping",
            handler="handlers.voi_jobs.lambda_handler",
            description="NAS VOI jobs: review reminders daily (R-VOI-28), the expiry sweep hourly",
            environment={**self._environment(), catalogue.ALERT_BUS_ENV: alert_bus.event_bus_name},
            memory_size=512,
            timeout_seconds=300,
        )
        grant_items(
            self._table,
            function,
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
            *ITEM_WRITES,
        )
        grant_index_queries(self._table, catalogue.VOI, function)
        grant_via(self._tables_key, function, Via.DYNAMODB, *KEY_TABLE_ITEMS)
        alert_bus.grant_put_events_to(function)
        # The schedules invoke through a role of their own, which may invoke this function only.
        role = iam.Role(
            self,
            "SchedulesRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
            ),
            description="EventBridge Scheduler: invoke the VOI housekeeping function",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(function)}:*]",
            "The scheduler target's grant names this one function, with its versions and aliases.",
        )
        for name, expression, job in (
            (
                "Reviews",
                scheduler.ScheduleExpression.cron(minute="0", hour="7", time_zone=cdk.TimeZone.EUROPE_LONDON),
                "reviews",
            ),
            ("Sweep", scheduler.ScheduleExpression.rate(cdk.Duration.hours(1)), "sweep"),
        ):
            scheduler.Schedule(
                self,
                name,
                description=f"NAS VOI housekeeping: {job}",
                schedule=expression,
                target=scheduler_targets.LambdaInvoke(
                    function,
                    input=scheduler.ScheduleTargetInput.from_object({"job": job}),
                    retry_attempts=3,
                    role=role,
                ),
            )
        return function

    def _alarms(self) -> None:
        action = actions.SnsAction(self._alarm_topic)
        for name, metric, description in (
            (
                "ExpiryFailuresAlarm",
                self.failures.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(5)),
                "VOI expiry: stream records set aside (match items may keep an expired entry's copy"
                " until the hourly sweep)",
            ),
            (
                "ImportFailuresAlarm",
                self.state_machine.metric_failed(period=cdk.Duration.minutes(5)),
                "VOI import state machine executions failed (the list in force is unchanged)",
            ),
        ):
            alarm = cloudwatch.Alarm(
                self,
                name,
                alarm_description=description,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)


def ttl_removals_of_entries() -> Mapping[str, Any]:
    """R-VOI-56: only DynamoDB's own (TTL) removals of entry items reach the expiry function; API
    deletes settle their match item in the same transaction already."""
    return lambda_.FilterCriteria.filter(
        {
            "eventName": lambda_.FilterRule.is_equal("REMOVE"),
            "userIdentity": {
                "type": lambda_.FilterRule.is_equal("Service"),
                "principalId": lambda_.FilterRule.is_equal("dynamodb.amazonaws.com"),
            },
            "dynamodb": {"Keys": {"record": {"S": lambda_.FilterRule.begins_with(ENTRY_PREFIX)}}},
        }
    )
