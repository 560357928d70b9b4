"""Lambda functions and the runtime layer: arm64, Python 3.12, the layer, tracing, JSON logs to a group
only the function itself may write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from infra.stack import NasStack
from tests.infra.conftest import as_list, render, resources

# CDK's own bucket-deployment handler (the console's assets): CDK pins its runtime and AWS CLI layer.
CDK_DEPLOYMENT_FUNCTION = "CustomCDKBucketDeployment"


def nas_functions(template: Template) -> dict[str, dict[str, Any]]:
    """The functions running NAS code: every function but CDK's deployment handler."""
    return {
        lid: f
        for lid, f in resources(template, "AWS::Lambda::Function").items()
        if not lid.startswith(CDK_DEPLOYMENT_FUNCTION)
    }


def test_every_function_runs_on_arm64_python_312_with_the_runtime_layer(template: Template) -> None:
    [layer_id] = [
        lid
        for lid in resources(
            template, "AWS::Lambda::LayerVersion", {"Properties": {"CompatibleArchitectures": ["arm64"]}}
        )
        if lid.startswith("RuntimeRuntimeLayer")
    ]
    functions = nas_functions(template)
    assert functions
    for logical_id, function in functions.items():
        props = function["Properties"]
        assert props["Architectures"] == ["arm64"], logical_id
        assert props["Runtime"] == "python3.12", logical_id
        assert {"Ref": layer_id} in props["Layers"], logical_id
        assert props["TracingConfig"] == {"Mode": "Active"}, logical_id
        assert props["LoggingConfig"]["LogFormat"] == "JSON", logical_id
        assert props["Environment"]["Variables"]["NAS_STAGE"] == "dev", logical_id


def test_api_function_serves_the_api_handler(template: Template) -> None:
    api = [
        f for lid, f in resources(template, "AWS::Lambda::Function").items() if lid.startswith("RuntimeApi")
    ]
    assert [f["Properties"]["Handler"] for f in api] == ["handlers.api.lambda_handler"]


def test_function_code_holds_only_the_handlers(stack: NasStack) -> None:
    # The runtime package ships in the layer; shipping it twice would let the two copies drift.
    outdir = Path(stack.node.root.outdir)  # type: ignore[attr-defined]
    staged = [p for p in outdir.glob("asset.*") if (p / "handlers").is_dir()]
    assert staged
    for asset in staged:
        assert (asset / "handlers" / "api.py").is_file()
        assert not (asset / "nas").exists()


def policies_of(template: Template, role_id: str) -> list[dict[str, Any]]:
    return [
        p["Properties"]
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]


def test_every_function_writes_logs_only_to_its_own_log_group(template: Template) -> None:
    functions = resources(template, "AWS::Lambda::Function")
    assert functions
    for logical_id, function in functions.items():
        props = function["Properties"]
        own_group = render(props["LoggingConfig"]["LogGroup"])
        role_id = props["Role"]["Fn::GetAtt"][0]
        on_logs = [
            (set(as_list(s["Action"])), [render(r) for r in as_list(s["Resource"])])
            for policy in policies_of(template, role_id)
            for s in policy["PolicyDocument"]["Statement"]
            if any(a.startswith("logs:") for a in as_list(s["Action"]))
        ]
        assert on_logs == [({"logs:CreateLogStream", "logs:PutLogEvents"}, [f"{own_group}.Arn"])], logical_id


def test_function_roles_are_their_own_and_carry_no_managed_policy(template: Template) -> None:
    roles = resources(template, "AWS::IAM::Role")
    role_ids = {
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in resources(template, "AWS::Lambda::Function").values()
    }
    assert len(role_ids) == len(resources(template, "AWS::Lambda::Function"))  # one role per function
    for role_id in role_ids:
        props = roles[role_id]["Properties"]
        assert not props.get("ManagedPolicyArns"), role_id
        [statement] = props["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}, role_id
    # The AWS-managed basic execution policy lets a function write every log group of the account.
    for logical_id, role in roles.items():
        assert "AWSLambdaBasicExecutionRole" not in json.dumps(role["Properties"]), logical_id


def test_the_console_deployment_handler_is_cdks_with_a_role_and_log_group_of_this_stack(
    template: Template,
) -> None:
    [(logical_id, function)] = [
        (lid, f)
        for lid, f in resources(template, "AWS::Lambda::Function").items()
        if lid.startswith(CDK_DEPLOYMENT_FUNCTION)
    ]
    props = function["Properties"]
    assert render(props["Role"]).startswith("ConsoleDeployRole"), logical_id
    assert render(props["LoggingConfig"]["LogGroup"]).startswith("ConsoleDeployLogs"), logical_id
