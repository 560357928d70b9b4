"""What the api Lambda may do (R-AUDIT append-only, alerts read and outcome) and the Cognito
pre-token trigger (R-ROLE)."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from tests.infra.conftest import granted, one_resource, resources


def test_api_may_append_to_the_audit_trail_but_never_change_it(template: Template) -> None:
    allowed = granted(template, "RuntimeApiFunctionServiceRoleDefaultPolicy")
    on_audit = {action for action, resource in allowed if resource.startswith("TablesAudit")}
    assert on_audit == {"dynamodb:PutItem", "dynamodb:Query"}


def test_api_reads_alerts_through_named_indexes_and_records_outcomes(template: Template) -> None:
    allowed = granted(template, "RuntimeApiFunctionServiceRoleDefaultPolicy")
    assert {(a, r) for a, r in allowed if r.startswith("TablesAlerts")} == {
        ("dynamodb:GetItem", "TablesAlerts.Arn"),
        ("dynamodb:UpdateItem", "TablesAlerts.Arn"),
        ("dynamodb:Query", "TablesAlerts.Arn/index/by-read-lea"),
        ("dynamodb:Query", "TablesAlerts.Arn/index/by-owner-lea"),
        ("dynamodb:Query", "TablesAlerts.Arn/index/by-raised-day"),
    }
    assert not [r for _, r in allowed if r.endswith("/index/*")]


def test_api_function_environment_names_its_tables(template: Template) -> None:
    api = [
        f for lid, f in resources(template, "AWS::Lambda::Function").items() if lid.startswith("RuntimeApi")
    ]
    [variables] = [f["Properties"]["Environment"]["Variables"] for f in api]
    assert variables["NAS_TABLE_AUDIT"]["Ref"].startswith("TablesAudit")
    assert variables["NAS_TABLE_ALERTS"]["Ref"].startswith("TablesAlerts")


def test_pre_token_trigger_runs_the_admin_exclusivity_check(template: Template) -> None:
    pool = one_resource(template, "AWS::Cognito::UserPool", "IdentityUsers")["Properties"]
    trigger = pool["LambdaConfig"]["PreTokenGeneration"]["Fn::GetAtt"][0]
    function = resources(template, "AWS::Lambda::Function")[trigger]["Properties"]
    assert function["Handler"] == "handlers.pre_token.lambda_handler"
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "cognito-idp.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [trigger, "Arn"]},
            "SourceArn": Match.any_value(),
        },
    )
