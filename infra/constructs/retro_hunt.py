"""Retro-hunts (issue 10, item 5): the queue the API puts a requested hunt on, and the function that
runs it (search on Athena, wait, rows, alerts on the alerting bus, audit), with a dead-letter queue
for a hunt that keeps failing. The API never waits on a search: it writes the hunt and sends one
message (`grant_requests`).

A hunt's query runs for seconds; the function waits up to four minutes of its five, then leaves the
message to come back after the visibility timeout (six times the function's timeout, as AWS advises
for an SQS event source) and resumes the same query. After five receives the message is set aside on
the dead-letter queue, which alarms.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.analytics import Analytics
from infra.constructs.keys import KEY_DECRYPT, KEY_TABLE_ITEMS, Via, grant_via, keyless_queue
from infra.constructs.pipeline import ROWS_BUFFER_S
from infra.constructs.runtime import LambdaRuntime
from infra.constructs.tables import Tables, grant_item_updates, grant_items
from infra.nag import acknowledge
from nas import catalogue

FUNCTION_TIMEOUT_S = 300
VISIBILITY_TIMEOUT = cdk.Duration.seconds(6 * FUNCTION_TIMEOUT_S)
MAX_RECEIVES = 5
# A hunt starts once the reads captured before its request are in the reads store: a read that
# arrived just before the entry was listed met the lists without it and may still be in the rows
# Firehose's buffer (up to ROWS_BUFFER_S); two minutes more covers the archive consumer's own lag.
# Reads arriving after the request meet the entry in the live match.
HUNT_DELAY = cdk.Duration.seconds(ROWS_BUFFER_S + 120)
HUNT_PROGRESS = (*catalogue.RETRO_HUNT_KEY_ATTRIBUTES, *catalogue.RETRO_HUNT_PROGRESS_ATTRIBUTES)
ALERT_PUBLISH_UPDATE = (catalogue.ALERT_KEY_ATTRIBUTE, *catalogue.ALERT_PUBLISH_ATTRIBUTES)


class RetroHunts(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: LambdaRuntime,
        tables: Tables,
        tables_key: kms.IKey,
        queues_key: kms.IKey,
        analytics: Analytics,
        alert_bus: events.IEventBus,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._runtime = runtime
        self._tables = tables
        self._tables_key = tables_key
        self._queues_key = queues_key
        self.hunts = tables.table(catalogue.RETRO_HUNTS)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=queues_key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "The retro-hunt queue's dead-letter queue: it alarms and holds hunts for an operator to"
            " look at; a dead-letter queue of its own would hold nothing more.",
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=queues_key,
            enforce_ssl=True,
            visibility_timeout=VISIBILITY_TIMEOUT,
            delivery_delay=HUNT_DELAY,
            retention_period=cdk.Duration.days(1),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVES),
        )
        self.function = self._function(analytics, alert_bus)
        self._alarm(alarm_topic)

    def _function(self, analytics: Analytics, alert_bus: events.IEventBus) -> lambda_.Function:
        voi, alerts, audit = (
            self._tables.table(t) for t in (catalogue.VOI, catalogue.ALERTS, catalogue.AUDIT)
        )
        function = self._runtime_function(analytics, alert_bus)
        # The hunt: read, then its progress attributes only (the request is the API's, never rewritten).
        grant_items(self.hunts, function, "dynamodb:GetItem")
        grant_item_updates(self.hunts, function, HUNT_PROGRESS)
        # The entry, read consistently from its VRM's partition; the VRM's listing (white list).
        grant_items(voi, function, "dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem")
        # R-DUP as match: conditional put of each alert, then its published flags only.
        grant_items(alerts, function, "dynamodb:PutItem", "dynamodb:GetItem")
        grant_item_updates(alerts, function, ALERT_PUBLISH_UPDATE)
        # R-AUDIT: append to the day's chains (head query, conditional put).
        grant_items(audit, function, "dynamodb:PutItem", "dynamodb:Query")
        grant_via(self._tables_key, function, Via.DYNAMODB, *KEY_TABLE_ITEMS)
        grant_via(self._queues_key, function, Via.SQS, *KEY_DECRYPT)
        alert_bus.grant_put_events_to(function)
        analytics.grant_searches(function)
        function.add_event_source(
            # Without its key: the source's consume grant would add the key with no kms:ViaService.
            sources.SqsEventSource(keyless_queue(self.queue), batch_size=1, report_batch_item_failures=True)
        )
        return function

    def _runtime_function(self, analytics: Analytics, alert_bus: events.IEventBus) -> lambda_.Function:
        return self._runtime.function(
            "RetroHunt",
            handler="handlers.retro_hunt.lambda_handler",
            description="NAS retro-hunts: a new VOI entry's VRM in stored reads, retro alerts (R-DUP)",
            environment={
                catalogue.RETRO_HUNTS.env_var: self.hunts.table_name,
                catalogue.VOI.env_var: self._tables.table(catalogue.VOI).table_name,
                catalogue.ALERTS.env_var: self._tables.table(catalogue.ALERTS).table_name,
                catalogue.AUDIT.env_var: self._tables.table(catalogue.AUDIT).table_name,
                catalogue.ALERT_BUS_ENV: alert_bus.event_bus_name,
                catalogue.SEARCH_ENGINE_ENV: "athena",
                catalogue.ATHENA_WORKGROUP_ENV: analytics.workgroup.ref,
                catalogue.GLUE_DATABASE_ENV: analytics.database_name,
            },
            memory_size=512,
            timeout_seconds=FUNCTION_TIMEOUT_S,
        )

    def grant_requests(self, api: lambda_.Function) -> None:
        """The API's part: create a hunt, read an entry's latest, mark one that could not be queued
        failed (progress attributes only), send it to the queue, and delete a deleted entry's hunts."""
        api.add_environment(catalogue.RETRO_HUNTS.env_var, self.hunts.table_name)
        api.add_environment(catalogue.RETRO_HUNT_QUEUE_ENV, self.queue.queue_url)
        grant_items(
            self.hunts, api, "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:DeleteItem"
        )
        grant_item_updates(self.hunts, api, HUNT_PROGRESS)
        iam.Grant.add_to_principal(
            grantee=api, actions=["sqs:SendMessage"], resource_arns=[self.queue.queue_arn]
        )
        grant_via(self._queues_key, api, Via.SQS, "kms:Decrypt", "kms:GenerateDataKey")

    def _alarm(self, topic: sns.ITopic) -> None:
        alarm = cloudwatch.Alarm(
            self,
            "DeadLettersAlarm",
            alarm_description="Retro-hunts set aside after repeated failures (their hunts show running)",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5)
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(topic))
        alarm.add_ok_action(actions.SnsAction(topic))
