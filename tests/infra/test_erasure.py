"""R-SAR erasure in AWS (`infra/constructs/erasure.py`): a function with the runtime layer and its own
pyarrow layer, fed one message at a time from an encrypted queue with a dead-letter queue and an
alarm; it may rewrite only the read rows and packs, and write only a request's outcome."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_cdk.assertions import Match, Template
from moto import mock_aws

from nas import catalogue
from nas.adapters.dynamo import create_table
from nas.adapters.subject_requests import DynamoSubjectRequestStore
from nas.domain.subject_requests import Decision, RequestKind, RequestStatus, SubjectRequest
from tests.infra.conftest import as_list, granted, one_resource, render, sent_attributes, statements

POLICY = "RuntimeErasureFunctionServiceRoleDefaultPolicy"
API_POLICY = "RuntimeApiFunctionServiceRoleDefaultPolicy"


def erasure_function(template: Template) -> dict[str, Any]:
    return one_resource(template, "AWS::Lambda::Function", "RuntimeErasureFunction")


def test_the_erasure_function_has_the_runtime_layer_and_the_pyarrow_layer(template: Template) -> None:
    props = erasure_function(template)["Properties"]
    layers = {render(layer) for layer in props["Layers"]}
    assert layers == {"RuntimeRuntimeLayer", "ErasureLayer"}
    assert props["Handler"] == "handlers.erasure.lambda_handler"
    assert props["Timeout"] == 900
    assert props["ReservedConcurrentExecutions"] == 1  # two rewrites of one file would undo each other
    variables = props["Environment"]["Variables"]
    for spec in (catalogue.SUBJECT_REQUESTS, catalogue.CORRECTIONS, catalogue.PRESERVATIONS):
        assert spec.env_var in variables
    assert catalogue.Bucket.READS.env_var in variables
    template.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"Description": Match.string_like_regexp("pyarrow"), "CompatibleArchitectures": ["arm64"]},
    )


def test_the_queue_is_encrypted_and_sends_what_fails_every_attempt_to_an_alarmed_dead_letter_queue(
    template: Template,
) -> None:
    queue = one_resource(template, "AWS::SQS::Queue", "ErasureQueue")["Properties"]
    assert render(queue["KmsMasterKeyId"]) == "KeysQueues.Arn"
    assert queue["RedrivePolicy"]["maxReceiveCount"] == catalogue.ERASURE_MAX_RECEIVES
    assert render(queue["RedrivePolicy"]["deadLetterTargetArn"]) == "ErasureDeadLetters.Arn"
    assert queue["VisibilityTimeout"] >= 6 * 900
    dead = one_resource(template, "AWS::SQS::Queue", "ErasureDeadLetters")["Properties"]
    assert render(dead["KmsMasterKeyId"]) == "KeysQueues.Arn"
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": Match.string_like_regexp("^RuntimeErasureFunction")},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    alarm = one_resource(template, "AWS::CloudWatch::Alarm", "ErasureFailed")["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert [render(d["Value"]) for d in alarm["Dimensions"]] == ["ErasureDeadLetters.QueueName"]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert [render(a) for a in alarm["AlarmActions"]] == ["MonitoringAlarmTopic"]


def test_the_erasure_function_rewrites_only_read_rows_and_packs(template: Template) -> None:
    allowed = granted(template, POLICY)
    on_objects = {(a, r) for a, r in allowed if a.startswith("s3:") and "Storage" in r}
    prefixes = ("StorageReads.Arn/reads/*", "StorageReads.Arn/images/*")
    actions = (
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
    )
    assert on_objects == {(a, p) for a in actions for p in prefixes} | {
        ("s3:ListBucket", "StorageReads.Arn"),
        ("s3:ListBucketVersions", "StorageReads.Arn"),
    }
    [listing] = [s for s in statements(template, POLICY) if "s3:ListBucket" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["reads/*", "images/*"]}}
    assert {a for a, r in allowed if r == "*"} == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    assert not [r for _, r in allowed if r.startswith("StorageEvidence")]


def test_the_erasure_function_writes_a_requests_outcome_only(template: Template) -> None:
    allowed = granted(template, POLICY)
    on_requests = {a for a, r in allowed if r == "TablesSubjectRequests.Arn"}
    assert on_requests == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    [update] = [s for s in statements(template, POLICY) if "dynamodb:UpdateItem" in as_list(s["Action"])]
    assert set(update["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]) == {
        "request_id",
        "outcome",
        "version",
    }
    assert not [
        a
        for a, r in allowed
        if r.startswith(("TablesCorrections", "TablesPreservations")) and a != "dynamodb:Query"
    ]


def test_the_outcome_update_the_function_sends_is_one_its_policy_allows(template: Template) -> None:
    [update] = [s for s in statements(template, POLICY) if "dynamodb:UpdateItem" in as_list(s["Action"])]
    allowed = set(update["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"])
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        create_table(client, catalogue.SUBJECT_REQUESTS, "requests")
        sent: list[dict[str, Any]] = []
        client.meta.events.register(
            "provide-client-params.dynamodb.UpdateItem", lambda params, **_: sent.append(dict(params))
        )
        store = DynamoSubjectRequestStore(client, "requests")
        request = SubjectRequest(
            request_id="r-1",
            kind=RequestKind.ERASURE,
            vrm="AB12CDE",
            received_at=at,
            due=at.date(),
            requester_ref="SAR-1",
            notes="",
            created_by="dora",
            created_at=at,
            entry_salt="00" * 32,
            status=RequestStatus.DECIDED,
            decision=Decision.GRANTED,
            outcome={"erasure_state": "pending"},
        )
        store.put_new(request)
        store.update_outcome(
            replace(request, outcome={"erasure_state": "done", "erasure": {"rows_removed": 2}})
        )
        assert store.get("r-1").outcome["erasure_state"] == "done"  # type: ignore[union-attr]
    assert len(sent) == 1
    assert sent_attributes(sent[0]) <= allowed


def test_the_api_may_only_send_to_the_erasure_queue(template: Template) -> None:
    api = one_resource(template, "AWS::Lambda::Function", "RuntimeApiFunction")["Properties"]
    assert render(api["Environment"]["Variables"][catalogue.ERASURE_QUEUE_ENV]) == "ErasureQueue"
    allowed = granted(template, API_POLICY)
    assert {a for a, r in allowed if r == "ErasureQueue.Arn"} == {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    assert not [a for a, r in allowed if r.startswith("StorageReads.Arn/reads") and a != "s3:GetObject"]
