"""Operations: every alarm's metric, threshold and missing-data rule, the encrypted topic they notify,
and the pipeline dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from nas import catalogue
from tests.infra.conftest import one_resource, render


def alarm(template: Template, name: str) -> dict[str, Any]:
    props: dict[str, Any] = one_resource(template, "AWS::CloudWatch::Alarm", f"Monitoring{name}")[
        "Properties"
    ]
    return props


def service_of(template: Template, consumer: str) -> str:
    function = one_resource(template, "AWS::Lambda::Function", f"Runtime{consumer}Function")
    service: str = function["Properties"]["Environment"]["Variables"][catalogue.SERVICE_ENV]
    return service


ALARMS = (
    "MatchIteratorAge",
    "ArchiveIteratorAge",
    "ConsumerFailures",
    "AlertDeliveryFailures",
    "QuarantineRate",
    "ReadRowsDeliveryFailures",
    "ReadRowsDataFreshness",
    "ReadStreamWriteThrottled",
    "ReadRowsThrottled",
    "ReadRowsFailedConversion",
)


@pytest.mark.parametrize("name", ALARMS)
def test_every_alarm_notifies_the_operations_topic_both_ways(template: Template, name: str) -> None:
    props = alarm(template, name)
    assert [render(a) for a in props["AlarmActions"]] == ["MonitoringAlarmTopic"]
    assert [render(a) for a in props["OKActions"]] == ["MonitoringAlarmTopic"]
    # Every metric here is published only while there is work: no data means nothing is wrong.
    assert props["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(("consumer", "periods"), [("Match", 1), ("Archive", 5)])
def test_consumer_lag_over_a_minute_alarms(template: Template, consumer: str, periods: int) -> None:
    props = alarm(template, f"{consumer}IteratorAge")
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        "AWS/Lambda",
        "IteratorAge",
        "Maximum",
    )
    assert [(d["Name"], render(d["Value"])) for d in props["Dimensions"]] == [
        ("FunctionName", f"Runtime{consumer}Function")
    ]
    assert props["Period"] == 60
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["Threshold"] == 60_000
    assert props["EvaluationPeriods"] == periods


def test_every_record_set_aside_alarms_even_while_earlier_ones_wait_in_the_queue(template: Template) -> None:
    props = alarm(template, "ConsumerFailures")
    # Messages sent, not visible: a queue still holding the first incident's ranges would keep the
    # alarm in ALARM, and a second incident would notify nobody.
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        "AWS/SQS",
        "NumberOfMessagesSent",
        "Sum",
    )
    assert [(d["Name"], render(d["Value"])) for d in props["Dimensions"]] == [
        ("QueueName", "PipelineConsumerFailures.QueueName")
    ]
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["Threshold"] == 0


def test_every_alert_event_undeliverable_to_a_terminal_alarms(template: Template) -> None:
    props = alarm(template, "AlertDeliveryFailures")
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        "AWS/SQS",
        "NumberOfMessagesSent",
        "Sum",
    )
    assert [(d["Name"], render(d["Value"])) for d in props["Dimensions"]] == [
        ("QueueName", "AlertingDeliveryFailures.QueueName")
    ]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_quarantining_more_than_one_percent_of_reads_alarms(template: Template) -> None:
    props = alarm(template, "QuarantineRate")
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["Threshold"] == 1
    metrics = {m["Id"]: m for m in props["Metrics"]}
    [expression] = [m for m in metrics.values() if "Expression" in m]
    assert expression["ReturnData"] is True
    assert expression["Expression"] == "100 * FILL(quarantined, 0) / received"
    archive_service = service_of(template, "Archive")
    for metric_id, name in (("quarantined", "ReadsQuarantined"), ("received", "ReadsReceived")):
        stat = metrics[metric_id]["MetricStat"]
        assert stat["Metric"] == {
            "Namespace": catalogue.METRICS_NAMESPACE,
            "MetricName": name,
            # The dimension powertools adds: the archive function's service name.
            "Dimensions": [{"Name": "service", "Value": archive_service}],
        }
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)


def test_failed_read_row_deliveries_alarm(template: Template) -> None:
    props = alarm(template, "ReadRowsDeliveryFailures")
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        "AWS/Firehose",
        "DeliveryToS3.Success",
        "Average",
    )
    assert [(d["Name"], render(d["Value"])) for d in props["Dimensions"]] == [
        ("DeliveryStreamName", "PipelineReadRows")
    ]
    assert props["ComparisonOperator"] == "LessThanThreshold"
    assert props["Threshold"] == 1


def test_writes_throttled_by_the_read_stream_for_three_minutes_alarm(template: Template) -> None:
    props = alarm(template, "ReadStreamWriteThrottled")
    assert (props["Namespace"], props["MetricName"], props["Statistic"], props["Period"]) == (
        "AWS/Kinesis",
        "WriteProvisionedThroughputExceeded",
        "Sum",
        60,
    )
    assert [(d["Name"], render(d["Value"])) for d in props["Dimensions"]] == [("StreamName", "IngestReads")]
    assert (props["ComparisonOperator"], props["Threshold"], props["EvaluationPeriods"]) == (
        "GreaterThanThreshold",
        0,
        3,
    )


@pytest.mark.parametrize(
    ("name", "metric"),
    [("ReadRowsThrottled", "ThrottledRecords"), ("ReadRowsFailedConversion", "FailedConversion.Records")],
)
def test_read_rows_throttled_or_not_converted_alarm(template: Template, name: str, metric: str) -> None:
    props = alarm(template, name)
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == ("AWS/Firehose", metric, "Sum")
    assert [(d["Name"], render(d["Value"])) for d in props["Dimensions"]] == [
        ("DeliveryStreamName", "PipelineReadRows")
    ]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_read_rows_stuck_for_fifteen_minutes_alarm(template: Template) -> None:
    props = alarm(template, "ReadRowsDataFreshness")
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        "AWS/Firehose",
        "DeliveryToS3.DataFreshness",
        "Maximum",
    )
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["Threshold"] == 900


def test_operations_topic_is_encrypted_and_cloudwatch_may_publish_to_it(template: Template) -> None:
    topic = one_resource(template, "AWS::SNS::Topic", "MonitoringAlarmTopic")["Properties"]
    assert render(topic["KmsMasterKeyId"]) == "KeysOperations.Arn"
    policy = one_resource(template, "AWS::SNS::TopicPolicy", "MonitoringAlarmTopicPolicy")["Properties"]
    statements = policy["PolicyDocument"]["Statement"]
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert render(allow["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(":alarm:*")
    assert {"Bool": {"aws:SecureTransport": "false"}} in [
        s.get("Condition") for s in statements if s["Effect"] == "Deny"
    ]
    key = one_resource(template, "AWS::KMS::Key", "KeysOperations")["Properties"]
    [for_cloudwatch] = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert render(
        for_cloudwatch["Condition"]["ArnLike"]["kms:EncryptionContext:aws:sns:topicArn"]
    ).startswith("arn:AWS::Partition:sns:eu-west-2:AWS::AccountId:")


def test_dashboard_shows_the_pipeline_metrics(template: Template) -> None:
    dashboard = one_resource(template, "AWS::CloudWatch::Dashboard", "MonitoringDashboard")["Properties"]
    body = json.loads(render(dashboard["DashboardBody"]))
    metric_lines = [line for widget in body["widgets"] for line in widget["properties"].get("metrics", [])]
    names = {name for line in metric_lines for name in line if isinstance(name, str)}
    assert {
        "AlertsRaised",
        "CaptureToAlertLatency",
        "ReadsSkippedInvalid",
        "ReadsReceived",
        "ReadsQuarantined",
        "IteratorAge",
        "ApproximateNumberOfMessagesVisible",
        "DeliveryToS3.Success",
        "DeliveryToS3.DataFreshness",
    } <= names
    latency = [line for line in metric_lines if "CaptureToAlertLatency" in line]
    assert latency
    assert all(line[-1]["stat"] == "p99" for line in latency)
    match_service = service_of(template, "Match")
    for name in ("AlertsRaised", "CaptureToAlertLatency", "ReadsSkippedInvalid"):
        [line] = [line for line in metric_lines if name in line]
        assert line[:4] == [catalogue.METRICS_NAMESPACE, name, "service", match_service]
    assert any(
        w["type"] == "alarm" and len(w["properties"]["alarms"]) == len(ALARMS) for w in body["widgets"]
    )
