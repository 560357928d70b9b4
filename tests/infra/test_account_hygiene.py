"""R-ACCOUNT in the template: the account hygiene job runs daily, one at a time, with the tables and
user pool actions it needs and no more, and alarms when it fails, stops or cannot suspend."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from nas import catalogue
from tests.infra.conftest import granted, one_resource, render, resources

POLICY = "RuntimeAccountHygieneFunctionServiceRoleDefaultPolicy"


def function_id(template: Template) -> str:
    [found] = [
        lid for lid in resources(template, "AWS::Lambda::Function") if lid.startswith("RuntimeAccountHygiene")
    ]
    return found


def test_the_job_runs_daily_one_at_a_time(template: Template) -> None:
    props = one_resource(template, "AWS::Lambda::Function", "RuntimeAccountHygieneFunction")["Properties"]
    assert props["Handler"] == "handlers.account_hygiene.lambda_handler"
    assert (props["ReservedConcurrentExecutions"], props["Timeout"]) == (1, 900)
    variables = props["Environment"]["Variables"]
    assert render(variables[catalogue.ACCOUNTS.env_var]) == "TablesAccounts"
    assert render(variables[catalogue.ACCOUNT_REVIEWS.env_var]) == "TablesAccountReviews"
    assert render(variables[catalogue.AUDIT.env_var]) == "TablesAudit"
    assert render(variables[catalogue.USER_POOL_ENV]) == "IdentityUsers"
    assert catalogue.SIGN_IN_EVENTS_ENV not in variables  # AWS keeps auth events (threat protection)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "cron(15 4 * * ? *)",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function_id(template), "Arn"]}})],
        },
    )


def test_the_job_may_suspend_but_never_enable_or_delete_users(template: Template) -> None:
    allowed = granted(template, POLICY)
    assert {a for a, r in allowed if r == "IdentityUsers.Arn"} == {
        "cognito-idp:ListUsers",
        "cognito-idp:ListUsersInGroup",
        "cognito-idp:AdminListUserAuthEvents",
        "cognito-idp:AdminDisableUser",
        "cognito-idp:AdminUserGlobalSignOut",
    }
    assert {a for a, r in allowed if r == "TablesAccounts.Arn"} == {
        "dynamodb:Scan",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
    }
    assert {a for a, r in allowed if r == "TablesAccountReviews.Arn"} == {"dynamodb:PutItem"}
    # The audit trail: appended (never updated or deleted) and read by user, nothing else.
    assert {(a, r) for a, r in allowed if r.startswith("TablesAudit")} == {
        ("dynamodb:PutItem", "TablesAudit.Arn"),
        ("dynamodb:Query", "TablesAudit.Arn"),
        ("dynamodb:Query", "TablesAudit.Arn/index/by-user"),
    }


def test_alarms_fire_when_the_job_fails_stops_or_cannot_suspend(template: Template) -> None:
    for prefix in ("AccountsJobFailing", "AccountsJobNotRunning", "AccountsSuspensionsFailed"):
        alarm = one_resource(template, "AWS::CloudWatch::Alarm", prefix)["Properties"]
        assert render(alarm["AlarmActions"][0]) == "MonitoringAlarmTopic"
    not_running = one_resource(template, "AWS::CloudWatch::Alarm", "AccountsJobNotRunning")["Properties"]
    assert (not_running["MetricName"], not_running["Period"], not_running["TreatMissingData"]) == (
        "Invocations",
        86400,
        "breaching",
    )
