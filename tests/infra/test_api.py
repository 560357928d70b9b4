"""API Gateway: Cognito on every data method (R-ROLE), WAF allow-list (R-NET), logs, throttling."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from tests.infra.conftest import TEST_CIDR, one_resource, resources


def methods(template: Template) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::ApiGateway::Method")


def path_of(template: Template, method: dict[str, Any]) -> str:
    resource_id = method["Properties"]["ResourceId"]
    if "Fn::GetAtt" in resource_id:
        return "/"
    return str(resources(template, "AWS::ApiGateway::Resource")[resource_id["Ref"]]["Properties"]["PathPart"])


# Methods without a token: the liveness probe and the console's static assets (the app signs in
# before it calls anything else).
OPEN_METHODS = [("health", "GET"), ("console", "GET"), ("{asset}", "GET")]


def test_every_method_but_health_and_the_console_assets_requires_a_cognito_token(template: Template) -> None:
    [authorizer_id] = resources(
        template, "AWS::ApiGateway::Authorizer", {"Properties": {"Type": "COGNITO_USER_POOLS"}}
    )
    data_methods = [
        m
        for m in methods(template).values()
        if (path_of(template, m), m["Properties"]["HttpMethod"]) not in OPEN_METHODS
    ]
    assert data_methods
    for method in data_methods:
        assert method["Properties"]["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert method["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}


def test_health_and_the_console_assets_are_the_only_open_methods_and_only_for_get(template: Template) -> None:
    open_methods = [m for m in methods(template).values() if m["Properties"]["AuthorizationType"] == "NONE"]
    assert sorted((path_of(template, m), m["Properties"]["HttpMethod"]) for m in open_methods) == sorted(
        OPEN_METHODS
    )


def test_every_method_validates_requests(template: Template) -> None:
    [validator_id] = resources(
        template,
        "AWS::ApiGateway::RequestValidator",
        {"Properties": {"ValidateRequestBody": True, "ValidateRequestParameters": True}},
    )
    for method in methods(template).values():
        assert method["Properties"]["RequestValidatorId"] == {"Ref": validator_id}


def test_stage_logs_access_throttles_and_traces(template: Template) -> None:
    props = one_resource(template, "AWS::ApiGateway::Stage", "ApiRestApiDeploymentStage")["Properties"]
    assert props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0].startswith("ApiAccessLogs")
    assert "$context.identity.sourceIp" in props["AccessLogSetting"]["Format"]
    [settings] = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 200
    assert settings["ThrottlingBurstLimit"] == 400
    assert settings["DataTraceEnabled"] is False
    assert settings["LoggingLevel"] == "ERROR"
    assert props["TracingEnabled"] is True


def test_waf_blocks_everything_outside_the_allow_list(template: Template) -> None:
    [(ip_set_id, ip_set)] = resources(template, "AWS::WAFv2::IPSet").items()
    assert ip_set["Properties"]["Addresses"] == [TEST_CIDR]
    assert ip_set["Properties"]["Scope"] == "REGIONAL"
    acl = one_resource(template, "AWS::WAFv2::WebACL", "ApiWebAcl")["Properties"]
    assert acl["DefaultAction"] == {"Block": {}}
    rules = sorted(acl["Rules"], key=lambda r: r["Priority"])
    allow = rules[-1]
    assert allow["Action"] == {"Allow": {}}
    assert allow["Statement"]["IPSetReferenceStatement"]["Arn"] == {"Fn::GetAtt": [ip_set_id, "Arn"]}
    # Blocking rules run before the allow rule, so an approved network gets no pass on them.
    assert all("Allow" not in r.get("Action", {}) for r in rules[:-1])
    assert any("RateBasedStatement" in r["Statement"] for r in rules[:-1])


def test_waf_is_attached_to_the_api_stage(template: Template) -> None:
    template.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation",
        {
            "ResourceArn": Match.any_value(),
            "WebACLArn": {"Fn::GetAtt": [Match.string_like_regexp("^ApiWebAcl"), "Arn"]},
        },
    )
    association = one_resource(template, "AWS::WAFv2::WebACLAssociation", "ApiWebAclAssociation")
    assert "ApiRestApiDeploymentStage" in str(association["Properties"]["ResourceArn"])


def test_authorizer_keeps_a_token_verdict_for_at_most_a_minute(template: Template) -> None:
    # R-ACCOUNT: a disabled user's live token is refused within a minute.
    [authorizer] = resources(
        template, "AWS::ApiGateway::Authorizer", {"Properties": {"Type": "COGNITO_USER_POOLS"}}
    ).values()
    assert 0 <= authorizer["Properties"]["AuthorizerResultTtlInSeconds"] <= 60
