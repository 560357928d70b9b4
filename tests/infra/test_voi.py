"""VOI management in the template (R-VOI-BULK, R-VOI-56, R-VOI-28): the imports bucket and what an
upload triggers, the import state machine, the voi table's stream and its TTL filter, the
schedules, and each function's least-privilege grants."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from nas import catalogue
from tests.infra.conftest import granted, one_resource, render, resources

KEY_TABLE_ITEMS = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
XRAY = {("xray:PutTelemetryRecords", "*"), ("xray:PutTraceSegments", "*")}


def pairs(actions: set[str], *targets: str) -> set[tuple[str, str]]:
    return {(action, target) for action in actions for target in targets}


def own_logs(function: str) -> set[tuple[str, str]]:
    return pairs({"logs:CreateLogStream", "logs:PutLogEvents"}, f"Runtime{function}Logs.Arn")


def function(template: Template, name: str) -> dict[str, Any]:
    return one_resource(template, "AWS::Lambda::Function", f"Runtime{name}Function")["Properties"]


def environment(template: Template, name: str) -> dict[str, str]:
    return {k: render(v) for k, v in function(template, name)["Environment"]["Variables"].items()}


def definition(template: Template) -> dict[str, Any]:
    machine = one_resource(template, "AWS::StepFunctions::StateMachine", "VoiImport")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else render(p) for p in parts)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


# --- the imports bucket and the upload ------------------------------------------------------------


def test_imports_bucket_is_encrypted_versioned_and_sends_object_created_to_eventbridge(
    template: Template,
) -> None:
    bucket = one_resource(template, "AWS::S3::Bucket", "StorageImports")["Properties"]
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert render(encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == "KeysStorage.Arn"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


def test_import_files_never_outlive_the_lists_they_hold(template: Template) -> None:
    bucket = one_resource(template, "AWS::S3::Bucket", "StorageImports")["Properties"]
    rules = bucket["LifecycleConfiguration"]["Rules"]
    by_prefix = {r.get("Prefix"): r["ExpirationInDays"] for r in rules if "ExpirationInDays" in r}
    assert by_prefix == {"incoming/": 2, "work/": 1, "rejects/": 28, None: 28}
    # R-VOI-56: whatever an import leaves, nothing of a list is kept past 56 days.
    assert max(by_prefix.values()) < 56
    assert all(
        r.get("NoncurrentVersionExpiration") == {"NoncurrentDays": 1}
        for r in rules
        if "ExpirationInDays" in r
    )


def test_an_upload_under_incoming_starts_the_upload_function(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [{"Ref": Match.string_like_regexp("^StorageImports")}]},
                    "object": {"key": [{"prefix": "incoming/"}]},
                },
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::GetAtt": [Match.string_like_regexp("^RuntimeVoiImportUploadFunction"), "Arn"]
                        }
                    }
                )
            ],
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "FunctionName": {
                "Fn::GetAtt": [Match.string_like_regexp("^RuntimeVoiImportUploadFunction"), "Arn"]
            },
        },
    )


def test_upload_function_starts_the_state_machine_with_the_catalogued_environment(template: Template) -> None:
    assert function(template, "VoiImportUpload")["Handler"] == "handlers.voi_import.upload_handler"
    env = environment(template, "VoiImportUpload")
    assert env[catalogue.VOI.env_var] == "TablesVoi"
    assert env[catalogue.Bucket.IMPORTS.env_var] == "StorageImports"
    assert env[catalogue.VOI_IMPORT_STATE_MACHINE_ENV] == "VoiImport"


def test_upload_function_reads_uploads_claims_and_starts_nothing_else(template: Template) -> None:
    assert granted(template, "RuntimeVoiImportUploadFunctionServiceRoleDefaultPolicy") == (
        XRAY
        | own_logs("VoiImportUpload")
        | pairs({"dynamodb:GetItem", "dynamodb:UpdateItem"}, "TablesVoi.Arn")
        | pairs(KEY_TABLE_ITEMS, "KeysTables.Arn")
        | pairs({"s3:GetObject", "s3:DeleteObject"}, "StorageImports.Arn/incoming/*")
        | pairs({"kms:Decrypt"}, "KeysStorage.Arn")
        | pairs({"states:StartExecution"}, "VoiImport")
    )


# --- the state machine ----------------------------------------------------------------------------


def test_the_state_machine_fans_chunks_and_groups_out_then_flips_waits_and_cleans_up(
    template: Template,
) -> None:
    states = definition(template)["States"]
    assert definition(template)["StartAt"] == "LoadChunks"
    for name, items, child in (
        ("LoadChunks", "$.chunks", "LoadChunk"),
        ("MergeGroups", "$.groups", "MergeGroup"),
    ):
        state = states[name]
        assert state["Type"] == "Map"
        assert state["ItemsPath"] == items
        assert state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
        assert state["MaxConcurrency"] >= 32  # 10,000,000 rows: about 40 chunks and 128 groups
        assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Fail"}]
        step = state["ItemProcessor"]["States"][child]
        assert {r for rule in step["Retry"] for r in rule["ErrorEquals"]} >= {"StoreError"}
        assert "Superseded" not in {r for rule in step["Retry"] for r in rule["ErrorEquals"]}
    assert states["MergeGroups"]["Next"] == "Finish"
    assert states["Finish"]["Next"] == "LetMatchCatchUp"
    assert states["LetMatchCatchUp"] == {"Type": "Wait", "Seconds": 60, "Next": "CleanUp"}
    assert states["Fail"]["Next"] == "ImportFailed"
    assert states["ImportFailed"]["Type"] == "Fail"
    payloads = {name: states[name]["Parameters"] for name in ("Finish", "CleanUp", "Fail")}
    assert render(states["Finish"]["Resource"]) == "RuntimeVoiImportStepFunction.Arn"
    assert payloads["Finish"] == {"step": "finish", "import_id.$": "$.import_id"}
    assert payloads["CleanUp"] == {"step": "clean-up", "import_id.$": "$.import_id"}
    assert payloads["Fail"] == {"step": "fail", "import_id.$": "$.import_id", "error.$": "$.error"}


def test_the_state_machine_logs_without_execution_data_and_is_traced(template: Template) -> None:
    props = one_resource(template, "AWS::StepFunctions::StateMachine", "VoiImport")["Properties"]
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_step_function_writes_generations_and_work_files_within_its_prefixes(template: Template) -> None:
    assert function(template, "VoiImportStep")["Handler"] == "handlers.voi_import.step_handler"
    grants = granted(template, "RuntimeVoiImportStepFunctionServiceRoleDefaultPolicy")
    assert grants == (
        XRAY
        | own_logs("VoiImportStep")
        | pairs(
            {
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            },
            "TablesVoi.Arn",
        )
        | pairs(KEY_TABLE_ITEMS, "KeysTables.Arn")
        | pairs(
            {"s3:GetObject", "s3:DeleteObject"}, "StorageImports.Arn/incoming/*", "StorageImports.Arn/work/*"
        )
        | pairs(
            {"s3:PutObject", "s3:AbortMultipartUpload"},
            "StorageImports.Arn/work/*",
            "StorageImports.Arn/rejects/*",
        )
        | pairs({"s3:ListBucket"}, "StorageImports.Arn")
        | pairs({"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"}, "KeysStorage.Arn")
    )


# --- expiry (R-VOI-56) ----------------------------------------------------------------------------


def test_voi_table_streams_keys_only(template: Template) -> None:
    table = one_resource(template, "AWS::DynamoDB::Table", "TablesVoi")["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "KEYS_ONLY"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_only_ttl_removals_of_entries_reach_the_expiry_function(template: Template) -> None:
    [mapping] = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if render(m["Properties"]["FunctionName"]) == "RuntimeVoiExpiryFunction"
    ]
    assert render(mapping["EventSourceArn"]) == "TablesVoi.StreamArn"
    [pattern] = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert pattern == {
        "eventName": ["REMOVE"],
        "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
        "dynamodb": {"Keys": {"record": {"S": [{"prefix": "ENTRY#"}]}}},
    }
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert render(mapping["DestinationConfig"]["OnFailure"]["Destination"]) == "VoiExpiryFailures.Arn"


def test_expiry_function_rebuilds_match_items_and_reads_the_stream_through_dynamodb(
    template: Template,
) -> None:
    grants = granted(template, "RuntimeVoiExpiryFunctionServiceRoleDefaultPolicy")
    assert (
        pairs(
            {
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            },
            "TablesVoi.Arn",
        )
        <= grants
    )
    assert ("dynamodb:GetRecords", "TablesVoi.StreamArn") in grants
    assert not {a for a, _ in grants if a.startswith("s3:") or a.startswith("events:")}
    # The table key only through DynamoDB: the stream grant is given the table without its key.
    [key_statement] = [
        s
        for s in one_resource(
            template, "AWS::IAM::Policy", "RuntimeVoiExpiryFunctionServiceRoleDefaultPolicy"
        )["Properties"]["PolicyDocument"]["Statement"]
        if render(s["Resource"]) == "KeysTables.Arn"
    ]
    assert key_statement["Condition"] == {
        "StringEquals": {"kms:ViaService": "dynamodb.eu-west-2.amazonaws.com"}
    }


# --- housekeeping (R-VOI-28) ----------------------------------------------------------------------


def test_reviews_run_daily_and_the_sweep_hourly_through_one_scheduler_role(template: Template) -> None:
    schedules = {
        json.loads(s["Properties"]["Target"]["Input"])["job"]: s["Properties"]
        for s in resources(template, "AWS::Scheduler::Schedule").values()
    }
    assert set(schedules) == {"reviews", "sweep"}
    assert schedules["reviews"]["ScheduleExpression"] == "cron(0 7 * * ? *)"
    assert schedules["reviews"]["ScheduleExpressionTimezone"] == "Europe/London"
    assert schedules["sweep"]["ScheduleExpression"] == "rate(1 hour)"
    for schedule in schedules.values():
        assert render(schedule["Target"]["Arn"]) == "RuntimeVoiHousekeepingFunction.Arn"
        assert render(schedule["Target"]["RoleArn"]) == "VoiSchedulesRole.Arn"
    assert {a for a, _ in granted(template, "VoiSchedulesRoleDefaultPolicy")} == {"lambda:InvokeFunction"}


def test_housekeeping_publishes_reminders_to_the_alert_bus(template: Template) -> None:
    env = environment(template, "VoiHousekeeping")
    assert env[catalogue.ALERT_BUS_ENV] == "AlertingBus"
    grants = granted(template, "RuntimeVoiHousekeepingFunctionServiceRoleDefaultPolicy")
    assert ("events:PutEvents", "AlertingBus.Arn") in grants
    assert ("dynamodb:Query", "TablesVoi.Arn/index/by-owner-review") in grants


def test_failed_imports_and_set_aside_expiries_alarm(template: Template) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    descriptions = [a["Properties"].get("AlarmDescription", "") for a in alarms.values()]
    assert any("VOI import" in d for d in descriptions)
    assert any("VOI expiry" in d for d in descriptions)


# --- the api's share ------------------------------------------------------------------------------


def test_api_signs_uploads_and_rejects_downloads_only(template: Template) -> None:
    grants = granted(template, "RuntimeApiFunctionServiceRoleDefaultPolicy")
    on_imports = {(a, r) for a, r in grants if r.startswith("StorageImports")}
    assert on_imports == {
        ("s3:PutObject", "StorageImports.Arn/incoming/*"),
        ("s3:GetObject", "StorageImports.Arn/rejects/*"),
    }
    assert ("dynamodb:Query", "TablesVoi.Arn/index/by-voi-id") in grants
    assert not {a for a, r in grants if r == "TablesVoi.Arn" and a == "dynamodb:BatchWriteItem"}


def test_match_reads_the_voi_state_and_lookups_only(template: Template) -> None:
    grants = granted(template, "RuntimeMatchFunctionServiceRoleDefaultPolicy")
    assert {a for a, r in grants if r == "TablesVoi.Arn"} == {"dynamodb:GetItem", "dynamodb:BatchGetItem"}
