"""Operations: alarms on what would break R-ALERT (lag), R-QUARANTINE (failures, quarantine rate)
and storage (Firehose delivery), sent to one encrypted topic, and a dashboard of the pipeline."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from nas import catalogue

ONE_MINUTE = cdk.Duration.minutes(1)
FIVE_MINUTES = cdk.Duration.minutes(5)
# A consumer a minute behind the stream no longer alerts "within seconds" (R-ALERT).
ITERATOR_AGE_LIMIT_MS = 60_000
# R-QUARANTINE: a few bad records are normal; more than 1 in 100 means a camera or a release is
# sending bad data and someone should look.
QUARANTINE_RATE_LIMIT_PERCENT = 1
# Three 300-s buffer intervals: rows older than this and still not in S3 are stuck, not buffered.
DATA_FRESHNESS_LIMIT_S = 900

# Custom metrics (powertools, namespace NAS, dimension `service` = the function's service name).
READS_RECEIVED = "ReadsReceived"
READS_QUARANTINED = "ReadsQuarantined"
READS_SKIPPED_INVALID = "ReadsSkippedInvalid"
ALERTS_RAISED = "AlertsRaised"
CAPTURE_TO_ALERT_LATENCY = "CaptureToAlertLatency"


def service_metric(name: str, service: str, statistic: str = "Sum") -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=catalogue.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic=statistic,
        period=FIVE_MINUTES,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        stream: kinesis.IStream,
        match: lambda_.IFunction,
        archive: lambda_.IFunction,
        match_service: str,
        archive_service: str,
        failure_queue: sqs.IQueue,
        alert_delivery_failures: sqs.IQueue,
        read_rows_delivery_stream_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._alarm_topic(key)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        iterator_age = {
            name: function.metric("IteratorAge", statistic="Maximum", period=ONE_MINUTE)
            for name, function in (("Match", match), ("Archive", archive))
        }
        for name, metric in iterator_age.items():
            self._alarm(
                f"{name}IteratorAge",
                f"{name} consumer is more than {ITERATOR_AGE_LIMIT_MS // 1000} s behind the reads stream",
                metric,
                threshold=ITERATOR_AGE_LIMIT_MS,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                # Alerts are the service's purpose: one minute behind is already an incident. Archive
                # batches for up to 30 s and retries storage faults, so it gets five minutes.
                evaluation_periods=1 if name == "Match" else 5,
                # The metric exists only while the function is invoked, and a consumer that is behind
                # is invoked continuously: no data means no records waiting, not lag. (A silent
                # stream, cameras sending nothing, is a different fault and not this alarm's.)
                missing=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        # Messages sent, not messages visible: a queue still holding the first incident's ranges
        # would keep a "visible" alarm in ALARM, and the next incident would notify nobody.
        failures_sent = failure_queue.metric_number_of_messages_sent(statistic="Sum", period=FIVE_MINUTES)
        failures_visible = failure_queue.metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=FIVE_MINUTES
        )
        self._alarm(
            "ConsumerFailures",
            "Stream records were set aside after retries: `nas replay failures` re-sends them",
            failures_sent,
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            # No message sent in a period publishes no point (or 0): nothing new was set aside.
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        delivery_failures = alert_delivery_failures.metric_number_of_messages_sent(
            statistic="Sum", period=FIVE_MINUTES
        )
        self._alarm(
            "AlertDeliveryFailures",
            "Alert events EventBridge could not deliver to a terminal topic within an hour (dead letters)",
            delivery_failures,
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        received = service_metric(READS_RECEIVED, archive_service)
        quarantined = service_metric(READS_QUARANTINED, archive_service)
        quarantine_rate = cloudwatch.MathExpression(
            # FILL: a period with reads and no quarantines publishes no ReadsQuarantined point.
            expression="100 * FILL(quarantined, 0) / received",
            using_metrics={"quarantined": quarantined, "received": received},
            label="Reads quarantined (%)",
            period=FIVE_MINUTES,
        )
        self._alarm(
            "QuarantineRate",
            f"More than {QUARANTINE_RATE_LIMIT_PERCENT}% of reads quarantined over 5 minutes",
            quarantine_rate,
            threshold=QUARANTINE_RATE_LIMIT_PERCENT,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            # No reads received gives no rate (nothing to divide): there is nothing to quarantine.
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        delivery_success = self._firehose_metric("DeliveryToS3.Success", read_rows_delivery_stream_name)
        self._alarm(
            "ReadRowsDeliveryFailures",
            "Firehose failed to deliver read rows to S3 (permissions, KMS or the Glue schema)",
            delivery_success.with_(statistic="Average"),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=1,
            # Published only when Firehose attempts a delivery: none in a period means nothing to
            # deliver, and a failing delivery publishes 0, which breaches.
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # Capacity (docs/capacity.md): writes the stream refused for want of shards, rows Firehose
        # refused for want of quota, rows the Glue schema could not convert (kept in firehose-errors/).
        write_throttled = stream.metric_write_provisioned_throughput_exceeded(
            statistic="Sum", period=ONE_MINUTE
        )
        self._alarm(
            "ReadStreamWriteThrottled",
            "Cameras' writes to the reads stream are being throttled: add shards (or raise on-demand)",
            write_throttled,
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # Every minute for three minutes: a hot shard for a moment is retried by the gateways;
            # minutes of it means the stream is too small for the load.
            evaluation_periods=3,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        throttled_rows = self._firehose_metric("ThrottledRecords", read_rows_delivery_stream_name)
        self._alarm(
            "ReadRowsThrottled",
            "Firehose throttled read rows (Direct PUT quota): archive retries them; raise the quota",
            throttled_rows.with_(statistic="Sum"),
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        failed_conversion = self._firehose_metric("FailedConversion.Records", read_rows_delivery_stream_name)
        self._alarm(
            "ReadRowsFailedConversion",
            "Read rows did not convert to Parquet with the Glue schema: they are in firehose-errors/,"
            " `nas replay firehose-errors` re-delivers them after the fix",
            failed_conversion.with_(statistic="Sum"),
            threshold=0,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        data_freshness = self._firehose_metric("DeliveryToS3.DataFreshness", read_rows_delivery_stream_name)
        self._alarm(
            "ReadRowsDataFreshness",
            f"Read rows older than {DATA_FRESHNESS_LIMIT_S} s are still not in S3 (not yet searchable)",
            data_freshness.with_(statistic="Maximum"),
            threshold=DATA_FRESHNESS_LIMIT_S,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            # Published while Firehose holds records, and it keeps growing while delivery is stuck;
            # missing means Firehose holds nothing.
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        self.dashboard = self._dashboard(
            iterator_age=iterator_age,
            match_service=match_service,
            received=received,
            quarantined=quarantined,
            quarantine_rate=quarantine_rate,
            failures_visible=failures_visible,
            delivery_success=delivery_success,
            data_freshness=data_freshness,
        )

    def _alarm_topic(self, key: kms.IKey) -> sns.Topic:
        stack = cdk.Stack.of(self)
        alarms_of_account = f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
        topic = sns.Topic(
            self, "AlarmTopic", display_name="NAS operations alarms", master_key=key, enforce_ssl=True
        )
        # CloudWatch publishes alarm notifications as itself: the topic and its key must allow it,
        # only for this account's alarms and topics.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"ArnLike": {"aws:SourceArn": alarms_of_account}},
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:sns:topicArn": (
                            f"arn:{stack.partition}:sns:{stack.region}:{stack.account}:*"
                        )
                    }
                },
            )
        )
        return topic

    def _alarm(
        self,
        construct_id: str,
        description: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        evaluation_periods: int,
        missing: cloudwatch.TreatMissingData,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms[construct_id] = alarm
        return alarm

    @staticmethod
    def _firehose_metric(name: str, delivery_stream_name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/Firehose",
            metric_name=name,
            dimensions_map={"DeliveryStreamName": delivery_stream_name},
            period=FIVE_MINUTES,
        )

    def _dashboard(
        self,
        *,
        iterator_age: dict[str, cloudwatch.Metric],
        match_service: str,
        received: cloudwatch.Metric,
        quarantined: cloudwatch.Metric,
        quarantine_rate: cloudwatch.MathExpression,
        failures_visible: cloudwatch.Metric,
        delivery_success: cloudwatch.Metric,
        data_freshness: cloudwatch.Metric,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=cdk.Duration.hours(3))

        def graph(title: str, *metrics: cloudwatch.IMetric) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(metrics), width=8)

        dashboard.add_widgets(
            graph("Alerts raised", service_metric(ALERTS_RAISED, match_service)),
            graph(
                "Capture to alert latency (p99)",
                service_metric(CAPTURE_TO_ALERT_LATENCY, match_service, statistic="p99"),
            ),
            graph("Reads skipped as invalid (match)", service_metric(READS_SKIPPED_INVALID, match_service)),
        )
        dashboard.add_widgets(
            graph(
                "Consumer iterator age (max, ms)",
                *(m.with_(label=f"{name} iterator age") for name, m in iterator_age.items()),
            ),
            graph("Reads received and quarantined (archive)", received, quarantined),
            graph("Quarantine rate (%)", quarantine_rate),
        )
        dashboard.add_widgets(
            graph("On-failure queue: records set aside", failures_visible),
            graph("Read rows delivered to S3 (success ratio)", delivery_success.with_(statistic="Average")),
            graph("Read rows data freshness (max, s)", data_freshness.with_(statistic="Maximum")),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24)
        )
        return dashboard
