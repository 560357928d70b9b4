"""What the api Lambda may do (R-AUDIT append-only, alerts read and outcome, R-ACCOUNT disabling a
leaver), its reserved concurrency, and the Cognito pre-token trigger (R-ROLE)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Match, Template
from moto import mock_aws

from infra.config import StageConfig
from nas import catalogue
from nas.adapters.alerts import DynamoAlertReader, DynamoAlertStore
from nas.adapters.dynamo import create_table
from nas.domain.alerts import outcome_change
from nas.domain.models import Alert, Outcome, VoiAction, VoiSource, alert_id_for
from tests.infra.conftest import (
    TEST_CIDR,
    app_context,
    as_list,
    granted,
    one_resource,
    render,
    resources,
    sent_attributes,
    statements,
    synth_stack,
)

API_POLICY = "RuntimeApiFunctionServiceRoleDefaultPolicy"


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
        ("dynamodb:Query", "TablesAlerts.Arn/index/by-raised-day-shard"),
        ("dynamodb:Query", "TablesAlerts.Arn/index/by-vrm"),  # R-SAR: alerts on a VRM in an export
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


def update_condition(template: Template, policy_prefix: str, table: str) -> dict[str, Any]:
    """The condition of the one UpdateItem statement on `table` in the policy."""
    [statement] = [
        s
        for s in statements(template, policy_prefix)
        if "dynamodb:UpdateItem" in as_list(s["Action"]) and render(s["Resource"]) == f"{table}.Arn"
    ]
    condition: dict[str, Any] = statement["Condition"]
    return condition


def test_api_may_update_an_alert_only_in_its_outcome_attributes(template: Template) -> None:
    condition = update_condition(template, API_POLICY, "TablesAlerts")
    attributes = condition["ForAllValues:StringEquals"]["dynamodb:Attributes"]
    assert sorted(attributes) == sorted([catalogue.ALERT_KEY_ATTRIBUTE, *catalogue.ALERT_OUTCOME_ATTRIBUTES])
    assert not {"published", "lea", "owner_lea", "vrm", "raised_at"} & set(attributes)
    # ALL_OLD / ALL_NEW would hand back the whole alert; absent means NONE.
    assert condition["StringEqualsIfExists"] == {
        "dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"]
    }


def test_api_reads_alerts_without_attribute_conditions(template: Template) -> None:
    reads = [
        s
        for s in statements(template, API_POLICY)
        if render(as_list(s["Resource"])[0]).startswith("TablesAlerts")
        and set(as_list(s["Action"])) & {"dynamodb:GetItem", "dynamodb:Query"}
    ]
    assert reads
    assert all("Condition" not in s for s in reads)


@pytest.fixture
def recorded_alert_updates() -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """A moto alerts table, and the UpdateItem requests made on it as sent."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        create_table(client, catalogue.ALERTS, "alerts")
        sent: list[dict[str, Any]] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            sent.append(dict(params))

        client.meta.events.register("provide-client-params.dynamodb.UpdateItem", record)
        yield client, sent


def test_every_outcome_update_the_api_sends_is_one_its_policy_allows(
    template: Template, recorded_alert_updates: tuple[Any, list[dict[str, Any]]]
) -> None:
    condition = update_condition(template, API_POLICY, "TablesAlerts")
    allowed = set(condition["ForAllValues:StringEquals"]["dynamodb:Attributes"])
    client, sent = recorded_alert_updates
    at = datetime(2024, 5, 30, 12, 0, tzinfo=UTC)
    alert = Alert(
        alert_id=alert_id_for("KENT-0001", "r-1", "voi-1"),
        read_id="r-1",
        vrm="AB12CDE",
        captured_at=at,
        camera_id="KENT-0001",
        lea="KENT",
        voi_id="voi-1",
        source=VoiSource.PNC,
        category="stolen",
        action=VoiAction.STOP,
        priority=1,
        reason="Stolen vehicle",
        owner_lea="KENT",
        circulation=("KENT",),
        sensitive=False,
        raised_at=at,
    )
    DynamoAlertStore(client, "alerts").put_new(alert)
    reader = DynamoAlertReader(client, "alerts")
    record = reader.get(alert.alert_id)
    for outcome in (Outcome.NO_TRACE, Outcome.CONFIRMED):  # the first, then one replacing it
        assert record is not None
        change = outcome_change(record, outcome, "seen on the A2", user="op.kent", now=at)
        assert change is not None
        reader.replace_outcome(change)
        record = reader.get(alert.alert_id)
    assert record is not None
    assert record.outcome_history, "the second outcome replaced the first"
    assert len(sent) == 2
    for request in sent:
        assert sent_attributes(request) <= allowed, sent_attributes(request) - allowed
        assert (
            request.get("ReturnValues", "NONE") in condition["StringEqualsIfExists"]["dynamodb:ReturnValues"]
        )


def test_api_may_read_and_write_accounts_and_disable_users_of_its_own_pool(template: Template) -> None:
    allowed = granted(template, API_POLICY)
    assert {(a, r) for a, r in allowed if r.startswith("TablesAccounts.")} == {
        ("dynamodb:GetItem", "TablesAccounts.Arn"),
        ("dynamodb:BatchGetItem", "TablesAccounts.Arn"),  # GET /admin/accounts: a page's records
        ("dynamodb:PutItem", "TablesAccounts.Arn"),
        ("dynamodb:UpdateItem", "TablesAccounts.Arn"),
    }
    # Disable and reinstate; list users, their groups and sign-ins. Never create, delete or regroup.
    assert {(a, r) for a, r in allowed if a.startswith("cognito-idp:")} == {
        ("cognito-idp:AdminDisableUser", "IdentityUsers.Arn"),
        ("cognito-idp:AdminUserGlobalSignOut", "IdentityUsers.Arn"),
        ("cognito-idp:AdminEnableUser", "IdentityUsers.Arn"),
        ("cognito-idp:ListUsers", "IdentityUsers.Arn"),
        ("cognito-idp:ListUsersInGroup", "IdentityUsers.Arn"),
        ("cognito-idp:AdminListGroupsForUser", "IdentityUsers.Arn"),
        ("cognito-idp:AdminListUserAuthEvents", "IdentityUsers.Arn"),
    }


def test_api_function_environment_names_the_accounts_table_and_the_user_pool(template: Template) -> None:
    variables = one_resource(template, "AWS::Lambda::Function", "RuntimeApiFunction")["Properties"][
        "Environment"
    ]["Variables"]
    assert render(variables[catalogue.ACCOUNTS.env_var]) == "TablesAccounts"
    assert render(variables[catalogue.USER_POOL_ENV]) == "IdentityUsers"  # Ref of a pool is its id


def test_api_function_reserves_the_stages_concurrency(template: Template) -> None:
    # Reserved and capped: API load cannot take the stream consumers' concurrency (R-ALERT).
    expected = StageConfig.from_context(app_context()).api_reserved_concurrency
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "handlers.api.lambda_handler", "ReservedConcurrentExecutions": expected},
    )
    # Match reserves what every shard's batches use at once, the publish sweeper one (two sweeps must
    # never run together); archive and the rest draw on the unreserved pool, which the reservations
    # cannot eat into (docs/capacity.md).
    reserved = {
        logical_id: function["Properties"].get("ReservedConcurrentExecutions")
        for logical_id, function in resources(template, "AWS::Lambda::Function").items()
    }
    config = StageConfig.from_context(app_context())
    for logical_id, value in reserved.items():
        if logical_id.startswith("RuntimeApi"):
            assert value == expected
        elif logical_id.startswith("RuntimeMatch"):
            assert value == config.match_concurrency == config.shards * 2
        elif logical_id.startswith(
            (
                "RuntimePublishSweeper",
                "RuntimeAuditDigest",
                "RuntimeAccountHygiene",
                "RuntimeRetention",
                "RuntimeStatistics",
                "RuntimeErasure",  # two erasures rewriting one Parquet file would undo each other
            )
        ):
            assert value == 1  # two runs must never overlap
        else:
            assert value is None, logical_id


def test_api_reserved_concurrency_follows_the_setting(tmp_path: Path) -> None:
    stack = synth_stack(tmp_path, api_allowed_cidrs=[TEST_CIDR], api_reserved_concurrency=37)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "handlers.api.lambda_handler", "ReservedConcurrentExecutions": 37},
    )
