"""The stream consumers (SPEC §4): event source mappings, least-privilege roles, the on-failure queue,
and the read-rows Firehose stream that writes Parquet for Athena."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Match, Template
from moto import mock_aws

from nas import catalogue
from nas.adapters.alerts import DynamoAlertStore
from nas.adapters.dynamo import create_table, from_item
from nas.domain.models import Alert, alert_id_for
from tests.infra.conftest import (
    as_list,
    granted,
    one_resource,
    render,
    resources,
    sent_attributes,
    statements,
)

CONSUMERS = ("Match", "Archive")
STREAM_READ = {
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamConsumer",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
    "kinesis:ListStreams",
    "kinesis:SubscribeToShard",
}
QUEUE_SEND = {"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"}
KEY_WRITE = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"}
OBJECT_PUT = {
    "s3:Abort*",
    "s3:PutObject",
    "s3:PutObjectLegalHold",
    "s3:PutObjectRetention",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
}
XRAY = {("xray:PutTelemetryRecords", "*"), ("xray:PutTraceSegments", "*")}


def own_logs(function: str) -> set[tuple[str, str]]:
    return pairs({"logs:CreateLogStream", "logs:PutLogEvents"}, f"Runtime{function}Logs.Arn")


def pairs(actions: set[str], *targets: str) -> set[tuple[str, str]]:
    return {(action, target) for action in actions for target in targets}


def mapping(template: Template, consumer: str) -> dict[str, Any]:
    [props] = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if render(m["Properties"]["FunctionName"]) == f"Runtime{consumer}Function"
    ]
    return props


def function(template: Template, consumer: str) -> dict[str, Any]:
    return one_resource(template, "AWS::Lambda::Function", f"Runtime{consumer}Function")["Properties"]


def delivery(template: Template) -> dict[str, Any]:
    stream = one_resource(template, "AWS::KinesisFirehose::DeliveryStream", "PipelineReadRows")
    return stream["Properties"]


# --- event source mappings ------------------------------------------------------------------------


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_consumer_reports_partial_failures_bisects_and_sets_failures_aside(
    template: Template, consumer: str
) -> None:
    props = mapping(template, consumer)
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert render(props["DestinationConfig"]["OnFailure"]["Destination"]) == "PipelineConsumerFailures.Arn"


def test_match_retries_a_failing_batch_for_minutes_then_sets_it_aside(template: Template) -> None:
    props = mapping(template, "Match")
    assert props["MaximumRetryAttempts"] >= 10  # more than a blip: throttling rides out
    # What is set aside is minutes old, so replaying it still gives a useful alert.
    assert 60 <= props["MaximumRecordAgeInSeconds"] <= 15 * 60


def test_archive_retries_until_the_records_maximum_age(template: Template) -> None:
    props = mapping(template, "Archive")
    assert props["MaximumRetryAttempts"] == -1  # off the alert path: no attempt limit
    retention_s = (
        one_resource(template, "AWS::Kinesis::Stream", "IngestReads")["Properties"]["RetentionPeriodHours"]
        * 3600
    )
    # Set aside at least a day before the stream trims the records, so they can still be replayed.
    assert props["MaximumRecordAgeInSeconds"] <= retention_s - 24 * 3600


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_records_are_set_aside_before_the_stream_trims_them(template: Template, consumer: str) -> None:
    retention_s = (
        one_resource(template, "AWS::Kinesis::Stream", "IngestReads")["Properties"]["RetentionPeriodHours"]
        * 3600
    )
    # The on-failure record points into the stream, so it must arrive while the records are there.
    assert 60 <= mapping(template, consumer)["MaximumRecordAgeInSeconds"] < retention_s


def test_match_reads_through_its_own_enhanced_fan_out_consumer(template: Template) -> None:
    props = mapping(template, "Match")
    assert render(props["EventSourceArn"]) == "PipelineMatchConsumer.ConsumerARN"
    consumer = one_resource(template, "AWS::Kinesis::StreamConsumer", "PipelineMatchConsumer")
    assert render(consumer["Properties"]["StreamARN"]) == "IngestReads.Arn"


def test_match_alerts_without_waiting_to_fill_a_batch(template: Template) -> None:
    props = mapping(template, "Match")
    assert props["MaximumBatchingWindowInSeconds"] <= 1
    assert props["BatchSize"] <= 100  # one BatchGetItem (100 keys) per batch


def test_archive_reads_the_shared_stream_in_big_batches(template: Template) -> None:
    props = mapping(template, "Archive")
    assert render(props["EventSourceArn"]) == "IngestReads.Arn"
    assert (
        props["MaximumBatchingWindowInSeconds"] > mapping(template, "Match")["MaximumBatchingWindowInSeconds"]
    )
    assert props["BatchSize"] <= 500  # Firehose PutRecordBatch takes at most 500 records
    assert props["ParallelizationFactor"] == 1


def test_failure_queue_is_encrypted_with_the_queues_key_and_tls_only(template: Template) -> None:
    queue = one_resource(template, "AWS::SQS::Queue", "PipelineConsumerFailures")["Properties"]
    assert render(queue["KmsMasterKeyId"]) == "KeysQueues.Arn"
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [Match.object_like({"Ref": Match.string_like_regexp("^PipelineConsumerFailures")})],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )


# --- functions: handlers, environment -------------------------------------------------------------


def test_consumers_run_their_handlers_with_the_catalogued_environment(template: Template) -> None:
    match = function(template, "Match")
    archive = function(template, "Archive")
    assert match["Handler"] == "handlers.match.lambda_handler"
    assert archive["Handler"] == "handlers.archive.lambda_handler"
    match_env = {k: render(v) for k, v in match["Environment"]["Variables"].items()}
    archive_env = {k: render(v) for k, v in archive["Environment"]["Variables"].items()}
    assert match_env[catalogue.VOI.env_var] == "TablesVoi"
    assert match_env[catalogue.CAMERAS.env_var] == "TablesCameras"
    assert match_env[catalogue.ALERTS.env_var] == "TablesAlerts"
    assert match_env[catalogue.ALERT_BUS_ENV] == "AlertingBus"  # Ref of a bus is its name
    assert archive_env[catalogue.CAMERAS.env_var] == "TablesCameras"
    assert archive_env[catalogue.Bucket.READS.env_var] == "StorageReads"
    assert archive_env[catalogue.Bucket.QUARANTINE.env_var] == "StorageQuarantine"
    assert archive_env[catalogue.READ_ROWS_DELIVERY_ENV] == "PipelineReadRows"
    assert match_env[catalogue.SERVICE_ENV] == "nas-match"
    assert archive_env[catalogue.SERVICE_ENV] == "nas-archive"


# --- least privilege ------------------------------------------------------------------------------


def test_match_may_only_look_up_voi_and_cameras_write_alerts_and_publish(template: Template) -> None:
    assert granted(template, "RuntimeMatchFunctionServiceRoleDefaultPolicy") == (
        XRAY
        | own_logs("Match")
        | pairs({"dynamodb:BatchGetItem"}, "TablesVoi.Arn", "TablesCameras.Arn")
        | pairs({"dynamodb:GetItem"}, "TablesVoi.Arn")  # the VOI state item, every few seconds
        | pairs({"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"}, "TablesAlerts.Arn")
        | pairs({"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}, "KeysTables.Arn")
        | pairs({"events:PutEvents"}, "AlertingBus.Arn")
        | pairs(STREAM_READ, "IngestReads.Arn")
        | pairs({"kms:Decrypt"}, "KeysStream.Arn")
        | pairs(
            {"kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"},
            "PipelineMatchConsumer.ConsumerARN",
        )
        | pairs(QUEUE_SEND, "PipelineConsumerFailures.Arn")
        | pairs(KEY_WRITE, "KeysQueues.Arn")
    )


def test_archive_may_only_read_cameras_put_objects_under_its_prefixes_and_send_rows(
    template: Template,
) -> None:
    assert granted(template, "RuntimeArchiveFunctionServiceRoleDefaultPolicy") == (
        XRAY
        | own_logs("Archive")
        | pairs({"dynamodb:BatchGetItem"}, "TablesCameras.Arn")
        | pairs({"kms:Decrypt"}, "KeysTables.Arn", "KeysStream.Arn")
        | pairs(OBJECT_PUT, "StorageReads.Arn/images/*", "StorageQuarantine.Arn/quarantine/*")
        | pairs(KEY_WRITE, "KeysStorage.Arn", "KeysQueues.Arn")
        | pairs({"firehose:PutRecordBatch"}, "PipelineReadRows.Arn")
        | pairs(STREAM_READ, "IngestReads.Arn")
        | pairs(QUEUE_SEND, "PipelineConsumerFailures.Arn")
    )


PUBLISHERS = ("Match", "PublishSweeper")


def publish_update(template: Template, function: str) -> dict[str, Any]:
    [update] = [
        s
        for s in statements(template, f"Runtime{function}FunctionServiceRoleDefaultPolicy")
        if "dynamodb:UpdateItem" in as_list(s["Action"])
    ]
    return update


@pytest.mark.parametrize("function", PUBLISHERS)
def test_publishers_may_mark_an_alert_published_and_change_nothing_else(
    template: Template, function: str
) -> None:
    update = publish_update(template, function)
    assert render(update["Resource"]) == "TablesAlerts.Arn"
    assert update["Condition"] == {
        "ForAllValues:StringEquals": {
            "dynamodb:Attributes": [catalogue.ALERT_KEY_ATTRIBUTE, "published", "publish_pending"]
        },
        "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"]},
    }


@pytest.mark.parametrize("function", PUBLISHERS)
def test_marking_alerts_published_sends_only_what_the_publishers_policy_allows(
    template: Template, function: str
) -> None:
    allowed = set(
        publish_update(template, function)["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
    )
    alerts = [
        Alert.model_validate(
            {
                "alert_id": alert_id_for("KENT-0001", read_id, "voi-1"),
                "read_id": read_id,
                "vrm": "AB12CDE",
                "captured_at": "2026-03-01T11:59:58Z",
                "camera_id": "KENT-0001",
                "lea": "KENT",
                "voi_id": "voi-1",
                "source": "pnc",
                "category": "stolen",
                "action": "stop",
                "priority": 1,
                "reason": "Stolen vehicle",
                "owner_lea": "KENT",
                "circulation": ["NATIONAL"],
                "sensitive": False,
                "raised_at": "2026-03-01T12:00:00Z",
            },
            strict=False,
        )
        for read_id in ("r-1", "r-2")
    ]
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        create_table(client, catalogue.ALERTS, "alerts")
        store = DynamoAlertStore(client, "alerts")
        for alert in alerts:
            store.put_new(alert)
        sent: list[dict[str, Any]] = []
        client.meta.events.register(
            "provide-client-params.dynamodb.UpdateItem", lambda params, **_: sent.append(dict(params))
        )
        assert store.mark_published([a.alert_id for a in alerts]) == set()
        item = from_item(
            client.get_item(TableName="alerts", Key={"alert_id": {"S": alerts[0].alert_id}})["Item"]
        )
        assert item["published"] is True
        assert "publish_pending" not in item  # out of the sweeper's index
    assert len(sent) == 2
    for request in sent:
        assert sent_attributes(request) <= allowed, sent_attributes(request) - allowed
        assert "ReturnValues" not in request or request["ReturnValues"] in {
            "NONE",
            "UPDATED_OLD",
            "UPDATED_NEW",
        }


def test_publish_sweeper_may_only_read_unpublished_alerts_mark_them_and_publish(template: Template) -> None:
    assert granted(template, "RuntimePublishSweeperFunctionServiceRoleDefaultPolicy") == (
        XRAY
        | own_logs("PublishSweeper")
        | pairs({"dynamodb:Query"}, "TablesAlerts.Arn/index/by-publish-pending")
        | pairs({"dynamodb:UpdateItem"}, "TablesAlerts.Arn")
        | pairs({"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}, "KeysTables.Arn")
        | pairs({"events:PutEvents"}, "AlertingBus.Arn")
    )


def test_publish_sweeper_runs_every_minute_one_at_a_time(template: Template) -> None:
    sweeper = function(template, "PublishSweeper")
    assert sweeper["Handler"] == "handlers.publish_sweeper.lambda_handler"
    assert sweeper["ReservedConcurrentExecutions"] == 1  # two sweeps would publish the same alerts twice
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 minute)",
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::GetAtt": [Match.string_like_regexp("^RuntimePublishSweeperFunction"), "Arn"]
                        }
                    }
                )
            ],
        },
    )


def test_archive_cannot_put_objects_outside_images_and_quarantine(template: Template) -> None:
    puts = {
        r
        for a, r in granted(template, "RuntimeArchiveFunctionServiceRoleDefaultPolicy")
        if a.startswith("s3:")
    }
    assert puts == {"StorageReads.Arn/images/*", "StorageQuarantine.Arn/quarantine/*"}
    # Parquet rows under reads/ are Firehose's alone.
    assert not any(r.startswith("StorageReads.Arn/reads") for r in puts)


def test_only_firehose_writes_read_rows(template: Template) -> None:
    puts = {
        r for a, r in granted(template, "PipelineReadRowsDeliveryRoleDefaultPolicy") if a == "s3:PutObject"
    }
    assert puts == {"StorageReads.Arn/reads/*", "StorageReads.Arn/firehose-errors/*"}


def test_delivery_role_reads_only_the_reads_table_schema(template: Template) -> None:
    allowed = granted(template, "PipelineReadRowsDeliveryRoleDefaultPolicy")
    glue = "arn:AWS::Partition:glue:eu-west-2:AWS::AccountId"
    assert {(a, r) for a, r in allowed if a.startswith("glue:")} == pairs(
        {"glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"},
        f"{glue}:catalog",
        f"{glue}:database/nas_dev",
        f"{glue}:table/nas_dev/reads",
    )
    assert {(a, r) for a, r in allowed if a.startswith(("kms:", "logs:"))} == (
        pairs(KEY_WRITE, "KeysStorage.Arn") | pairs({"logs:PutLogEvents"}, "PipelineReadRowsDeliveryLogs.Arn")
    )
    assert {(a, r) for a, r in allowed if a in {"s3:GetBucketLocation", "s3:ListBucketMultipartUploads"}} == (
        pairs({"s3:GetBucketLocation", "s3:ListBucketMultipartUploads"}, "StorageReads.Arn")
    )


def test_delivery_role_is_for_firehose_of_this_account_only(template: Template) -> None:
    role = one_resource(template, "AWS::IAM::Role", "PipelineReadRowsDeliveryRole")["Properties"]
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}}


# --- read rows: Firehose → Parquet ----------------------------------------------------------------


def test_read_rows_stream_is_encrypted_with_a_customer_managed_key(template: Template) -> None:
    props = delivery(template)
    assert props["DeliveryStreamType"] == "DirectPut"
    encryption = props["DeliveryStreamEncryptionConfigurationInput"]
    assert encryption["KeyType"] == "CUSTOMER_MANAGED_CMK"
    assert render(encryption["KeyARN"]) == "KeysStream.Arn"
    destination = props["ExtendedS3DestinationConfiguration"]
    assert render(destination["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"]) == (
        "KeysStorage.Arn"
    )


def test_read_rows_land_in_the_partitions_athena_projects(template: Template) -> None:
    destination = delivery(template)["ExtendedS3DestinationConfiguration"]
    assert render(destination["BucketARN"]) == "StorageReads.Arn"
    assert destination["Prefix"] == (
        "reads/arrival=!{partitionKeyFromQuery:arrival}/day=!{partitionKeyFromQuery:day}"
        "/vrm_bucket=!{partitionKeyFromQuery:vrm_bucket}/"
    )
    # The Glue table's projection template must name the same objects, or searches find nothing.
    glue = one_resource(template, "AWS::Glue::Table", "AnalyticsReadsTable")["Properties"]["TableInput"]
    location = render(glue["Parameters"]["storage.location.template"])
    firehose_path = re.sub(r"!\{partitionKeyFromQuery:(\w+)\}", r"${\1}", destination["Prefix"])
    assert location == f"s3://StorageReads/{firehose_path}"
    assert destination["ErrorOutputPrefix"] == (
        "firehose-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
    )


def test_read_rows_are_partitioned_by_a_jq_query_on_the_rows_partition_values(template: Template) -> None:
    destination = delivery(template)["ExtendedS3DestinationConfiguration"]
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    processing = destination["ProcessingConfiguration"]
    assert processing["Enabled"] is True
    processors = {p["Type"]: p for p in processing["Processors"]}
    # Rows arrive many to a record (JSON lines): split first, then partitioned row by row.
    assert [p["Type"] for p in processing["Processors"]] == [
        "RecordDeAggregation",
        "MetadataExtraction",
        "AppendDelimiterToRecord",
    ]
    assert processors["RecordDeAggregation"]["Parameters"] == [
        {"ParameterName": "SubRecordType", "ParameterValue": "JSON"}
    ]
    parameters = {
        p["ParameterName"]: p["ParameterValue"] for p in processors["MetadataExtraction"]["Parameters"]
    }
    assert parameters == {
        "MetadataExtractionQuery": "{arrival: (.arrival | tostring), day: (.day | tostring),"
        " vrm_bucket: (.vrm_bucket | tostring)}",
        "JsonParsingEngine": "JQ-1.6",
    }


def test_read_rows_are_converted_to_parquet_with_the_glue_reads_schema(template: Template) -> None:
    destination = delivery(template)["ExtendedS3DestinationConfiguration"]
    conversion = destination["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    # Archive sends captured_at and ingested_at as epoch milliseconds.
    assert conversion["InputFormatConfiguration"] == {
        "Deserializer": {"HiveJsonSerDe": {"TimestampFormats": ["millis"]}}
    }
    assert conversion["OutputFormatConfiguration"] == {
        "Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}
    }
    schema = conversion["SchemaConfiguration"]
    assert schema["DatabaseName"] == "nas_dev"
    assert schema["TableName"] == catalogue.GLUE_READS_TABLE
    assert schema["Region"] == "eu-west-2"
    assert schema["CatalogId"] == {"Ref": "AWS::AccountId"}
    assert render(schema["RoleARN"]) == "PipelineReadRowsDeliveryRole.Arn"
    assert destination["CompressionFormat"] == "UNCOMPRESSED"  # Parquet compresses itself


def test_read_rows_buffer_large_files_and_log_delivery_errors(template: Template) -> None:
    destination = delivery(template)["ExtendedS3DestinationConfiguration"]
    assert destination["BufferingHints"] == {"SizeInMBs": 128, "IntervalInSeconds": 300}
    logging = destination["CloudWatchLoggingOptions"]
    assert logging["Enabled"] is True
    assert render(logging["LogGroupName"]) == "PipelineReadRowsDeliveryLogs"
