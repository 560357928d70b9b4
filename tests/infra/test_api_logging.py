"""What the API's logs record: WAF's log of every request it sees (R-NET refusals included), with the
bearer token redacted, and API Gateway's access log naming the caller."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.config import StageConfig
from tests.infra.conftest import app_context, one_resource, render, resources

WAF_PREFIX = "aws-waf-logs-"  # AWS WAF's rule for CloudWatch Logs destinations, written out


def waf_log_group(template: Template) -> dict[str, Any]:
    return one_resource(template, "AWS::Logs::LogGroup", "ApiWafLogs")["Properties"]


def logging_configuration(template: Template) -> dict[str, Any]:
    return one_resource(template, "AWS::WAFv2::LoggingConfiguration", "ApiWafLogging")


def access_log(template: Template) -> dict[str, str]:
    stage = one_resource(template, "AWS::ApiGateway::Stage", "ApiRestApiDeploymentStage")["Properties"]
    fields: dict[str, str] = json.loads(stage["AccessLogSetting"]["Format"])
    return fields


def test_waf_log_group_name_starts_as_waf_requires_and_is_derived_from_the_stack(
    template: Template,
) -> None:
    name = waf_log_group(template)["LogGroupName"]
    separator, [fixed, *derived] = name["Fn::Join"]
    assert separator == ""
    assert fixed == f"{WAF_PREFIX}Nas-dev-"
    # The rest is this stack instance's id, so a group kept from a deleted stack never clashes.
    assert derived == [{"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]


def test_waf_log_group_is_encrypted_with_the_logs_key_and_kept_as_the_stage_says(
    template: Template,
) -> None:
    group = waf_log_group(template)
    assert render(group["KmsKeyId"]) == "KeysLogs.Arn"
    assert group["RetentionInDays"] == StageConfig.from_context(app_context()).log_retention_days
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": Match.object_like({"LogGroupName": group["LogGroupName"]}),
            "DeletionPolicy": "Retain",
        },
    )


def test_waf_logging_is_attached_to_the_api_web_acl(template: Template) -> None:
    props = logging_configuration(template)["Properties"]
    assert render(props["ResourceArn"]) == "ApiWebAcl.Arn"
    # WAF takes the group's own ARN, not CloudFormation's Arn attribute (which ends in `:*`).
    assert [render(d) for d in props["LogDestinationConfigs"]] == [
        "arn:AWS::Partition:logs:eu-west-2:AWS::AccountId:log-group:ApiWafLogs"
    ]


def test_waf_logs_redact_the_bearer_token(template: Template) -> None:
    template.has_resource_properties(
        "AWS::WAFv2::LoggingConfiguration",
        {"RedactedFields": Match.array_with([{"SingleHeader": {"Name": "authorization"}}])},
    )


def test_only_this_accounts_log_delivery_may_write_to_the_waf_log_group(template: Template) -> None:
    [policy] = [
        p["Properties"]
        for lid, p in resources(template, "AWS::Logs::ResourcePolicy").items()
        if lid.startswith("ApiWafLogDelivery")
    ]
    [statement] = json.loads(render(policy["PolicyDocument"]))["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == "ApiWafLogs.Arn"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "AWS::AccountId"},
        "ArnLike": {"aws:SourceArn": "arn:AWS::Partition:logs:eu-west-2:AWS::AccountId:*"},
    }


def test_waf_logging_starts_only_once_delivery_is_allowed(template: Template) -> None:
    depends_on = logging_configuration(template).get("DependsOn", [])
    assert [d for d in depends_on if d.startswith("ApiWafLogDelivery")]


def test_cloudwatch_logs_may_encrypt_the_waf_log_group_with_the_logs_key(template: Template) -> None:
    key = one_resource(template, "AWS::KMS::Key", "KeysLogs")["Properties"]
    patterns = [
        render(s["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "logs.eu-west-2.amazonaws.com"}
        and {"kms:Encrypt*", "kms:GenerateDataKey*"} <= set(s["Action"])
    ]
    group_arn = f"arn:AWS::Partition:logs:eu-west-2:AWS::AccountId:log-group:{WAF_PREFIX}Nas-dev-x"
    assert any(fnmatch.fnmatchcase(group_arn, pattern) for pattern in patterns), patterns


def test_access_log_names_the_cognito_user_and_their_immutable_id(template: Template) -> None:
    fields = access_log(template)
    # A claim whose name holds a colon is read with the bracket form; the dotted form stops at ':'.
    assert fields["username"] == "$context.authorizer.claims['cognito:username']"
    assert fields["sub"] == "$context.authorizer.claims.sub"
    assert fields["errorType"] == "$context.error.responseType"


@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ("requestId", "$context.requestId"),
        ("ip", "$context.identity.sourceIp"),
        ("requestTime", "$context.requestTime"),
        ("httpMethod", "$context.httpMethod"),
        ("resourcePath", "$context.resourcePath"),
        ("status", "$context.status"),
        ("protocol", "$context.protocol"),
        ("responseLength", "$context.responseLength"),
        ("caller", "$context.identity.caller"),
        ("user", "$context.identity.user"),
    ],
)
def test_access_log_keeps_the_standard_fields(template: Template, field: str, variable: str) -> None:
    assert access_log(template)[field] == variable
