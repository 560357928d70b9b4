"""Synthesises the stage stack once per session (jsii start-up costs seconds) with the feature flags
of cdk.json, as the CDK CLI would, and Lambda bundling skipped (the layer build is exercised by
`make synth` and tests/infra/test_bundling.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.stack import NasStack

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_CIDR = "192.0.2.0/24"  # RFC 5737 documentation range


def app_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    context["aws:cdk:bundling-stacks"] = []
    context.update(overrides)
    return context


def synth_stack(tmp_dir: Path, **overrides: Any) -> NasStack:
    app = cdk.App(context=app_context(**overrides), outdir=str(tmp_dir))
    _, stack = build_app(app)
    return stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> NasStack:
    return synth_stack(tmp_path_factory.mktemp("cdk"), api_allowed_cidrs=[TEST_CIDR])


@pytest.fixture(scope="session")
def template(stack: NasStack) -> Template:
    return Template.from_stack(stack)


def resources(template: Template, type_: str, props: Any = None) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.find_resources(type_, props or {})
    return found


def one_resource(template: Template, type_: str, logical_prefix: str) -> dict[str, Any]:
    """The resource of `type_` whose logical id starts with `logical_prefix` (construct path)."""
    matches = [r for lid, r in resources(template, type_).items() if lid.startswith(logical_prefix)]
    assert len(matches) == 1, f"expected one {type_} under {logical_prefix}, found {len(matches)}"
    return matches[0]


def _without_hash(logical_id: str) -> str:
    """CDK logical ids end in an 8-character hash of the construct path; tests name the path only."""
    if len(logical_id) > 8 and all(c in "0123456789ABCDEF" for c in logical_id[-8:]):
        return logical_id[:-8]
    return logical_id


def render(value: Any) -> str:
    """A readable form of a template value: `{"Fn::GetAtt": ["StorageReads7194BD81", "Arn"]}` reads
    `StorageReads.Arn`, `{"Ref": "AWS::AccountId"}` reads `AWS::AccountId`, joins are joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return _without_hash(value["Ref"]) if "::" not in value["Ref"] else value["Ref"]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"{_without_hash(logical_id)}.{attribute}"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(p) for p in parts)
    raise AssertionError(f"cannot render {value!r}")


def statements(template: Template, policy_prefix: str) -> list[dict[str, Any]]:
    """The statements of the one identity policy whose logical id starts with `policy_prefix`, and of
    the managed policies CDK moves the rest of a role's statements to when they outgrow one inline
    policy (`<role>OverflowPolicy<n>`, beside `<role>DefaultPolicy`)."""
    policy = one_resource(template, "AWS::IAM::Policy", policy_prefix)
    found: list[dict[str, Any]] = list(policy["Properties"]["PolicyDocument"]["Statement"])
    if policy_prefix.endswith("DefaultPolicy"):
        overflow = policy_prefix.removesuffix("DefaultPolicy") + "OverflowPolicy"
        for logical_id, managed in resources(template, "AWS::IAM::ManagedPolicy").items():
            if logical_id.startswith(overflow):
                found += managed["Properties"]["PolicyDocument"]["Statement"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted(template: Template, policy_prefix: str) -> set[tuple[str, str]]:
    """Every (action, resource) an identity policy allows, for the one policy whose logical id starts
    with `policy_prefix`; resources rendered by `render`."""
    pairs: set[tuple[str, str]] = set()
    for statement in statements(template, policy_prefix):
        assert statement["Effect"] == "Allow", statement
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        pairs |= {(action, render(target)) for action in actions for target in targets}
    return pairs


def sent_attributes(request: dict[str, Any]) -> set[str]:
    """The top-level attribute names an UpdateItem request names: its key, its expression attribute
    names and the bare names in its update and condition expressions (`dynamodb:Attributes`)."""
    bare = re.compile(r"(?<![:#\w])[A-Za-z_]\w*")
    names = set(request["Key"]) | set(request.get("ExpressionAttributeNames", {}).values())
    for expression in (request.get("UpdateExpression", ""), request.get("ConditionExpression", "")):
        names |= {m.group(0) for m in bare.finditer(expression)} - _EXPRESSION_WORDS
    return names


_EXPRESSION_WORDS = {
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
    "list_append",
    "if_not_exists",
}
