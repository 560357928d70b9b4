"""Synthesises the stage stack once per session (jsii start-up costs seconds) with the feature flags
of cdk.json, as the CDK CLI would, and Lambda bundling skipped (the layer build is exercised by
`make synth` and tests/infra/test_bundling.py)."""

from __future__ import annotations

import json
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
