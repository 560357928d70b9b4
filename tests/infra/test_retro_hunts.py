"""Retro-hunts in the template (issue 10, item 5): an encrypted queue with a dead-letter queue that
alarms, the function it feeds and that function's least-privilege grants, and the API's part."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from nas import catalogue
from tests.infra.conftest import granted, one_resource, render, statements
from tests.infra.test_pipeline import delivery
from tests.infra.test_voi import environment, function

HUNT_POLICY = "RuntimeRetroHuntFunctionServiceRoleDefaultPolicy"
API_POLICY = "RuntimeApiFunctionServiceRoleDefaultPolicy"


def test_the_queue_is_encrypted_and_sets_hunts_aside_after_five_receives(template: Template) -> None:
    queue = one_resource(template, "AWS::SQS::Queue", "RetroHuntsQueue")["Properties"]
    assert render(queue["KmsMasterKeyId"]) == "KeysQueues.Arn"
    assert queue["VisibilityTimeout"] == 6 * function(template, "RetroHunt")["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert render(queue["RedrivePolicy"]["deadLetterTargetArn"]) == "RetroHuntsDeadLetters.Arn"
    dead = one_resource(template, "AWS::SQS::Queue", "RetroHuntsDeadLetters")["Properties"]
    assert render(dead["KmsMasterKeyId"]) == "KeysQueues.Arn"
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
            "Queues": [{"Ref": Match.string_like_regexp("^RetroHuntsQueue")}],
        },
    )


def test_a_hunt_waits_until_the_reads_before_it_have_left_the_rows_firehose_buffer(
    template: Template,
) -> None:
    """A read that arrived just before its VRM was listed met the lists without it; the hunt must
    find it in the store, so it may not start while the read can still sit in Firehose's buffer."""
    queue = one_resource(template, "AWS::SQS::Queue", "RetroHuntsQueue")["Properties"]
    extended = delivery(template)["ExtendedS3DestinationConfiguration"]
    buffered_s = extended["BufferingHints"]["IntervalInSeconds"]
    assert queue["DelaySeconds"] >= buffered_s + 60
    assert queue["DelaySeconds"] <= 900  # SQS's most


def test_set_aside_hunts_alarm(template: Template) -> None:
    alarm = one_resource(template, "AWS::CloudWatch::Alarm", "RetroHuntsDeadLettersAlarm")["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert [render(d["Value"]) for d in alarm["Dimensions"]] == ["RetroHuntsDeadLetters.QueueName"]
    assert alarm["Threshold"] == 1
    assert [render(a) for a in alarm["AlarmActions"]] == ["MonitoringAlarmTopic"]


def test_the_function_takes_one_hunt_at_a_time_reporting_failures_alone(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^RetroHuntsQueue"), "Arn"]},
            "FunctionName": {"Ref": Match.string_like_regexp("^RuntimeRetroHuntFunction")},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    env = environment(template, "RetroHunt")
    assert env[catalogue.SEARCH_ENGINE_ENV] == "athena"
    assert env[catalogue.RETRO_HUNTS.env_var] == "TablesRetroHunts"
    assert env[catalogue.ALERT_BUS_ENV] == "AlertingBus"


def test_the_function_writes_only_hunt_progress_and_alerts_publish_flags(template: Template) -> None:
    allowed = granted(template, HUNT_POLICY)
    on = {
        prefix: {a for a, r in allowed if r.startswith(prefix)}
        for prefix in ("TablesRetroHunts", "TablesVoi", "TablesAlerts", "TablesAudit")
    }
    assert on == {
        "TablesRetroHunts": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "TablesVoi": {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"},
        "TablesAlerts": {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"},
        "TablesAudit": {"dynamodb:PutItem", "dynamodb:Query"},
    }
    updates = {
        render(s["Resource"]): s["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
        for s in statements(template, HUNT_POLICY)
        if s["Action"] == "dynamodb:UpdateItem"
    }
    assert set(updates["TablesRetroHunts.Arn"]) == {
        *catalogue.RETRO_HUNT_KEY_ATTRIBUTES,
        *catalogue.RETRO_HUNT_PROGRESS_ATTRIBUTES,
    }
    assert set(updates["TablesAlerts.Arn"]) == {
        catalogue.ALERT_KEY_ATTRIBUTE,
        *catalogue.ALERT_PUBLISH_ATTRIBUTES,
    }
    assert ("events:PutEvents", "AlertingBus.Arn") in allowed
    assert any(a == "athena:StartQueryExecution" for a, _ in allowed)
    assert not [a for a, r in allowed if a.startswith("s3:Delete") or a == "dynamodb:DeleteItem"]


def test_the_api_creates_reads_and_deletes_hunts_and_sends_them_to_the_queue(template: Template) -> None:
    allowed = granted(template, API_POLICY)
    assert {a for a, r in allowed if r.startswith("TablesRetroHunts")} == {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    assert {a for a, r in allowed if r.startswith("RetroHuntsQueue")} == {"sqs:SendMessage"}
    assert not [r for _, r in allowed if r.startswith("RetroHuntsDeadLetters")]
    env = environment(template, "Api")
    assert env[catalogue.RETRO_HUNT_QUEUE_ENV] == "RetroHuntsQueue"
