"""cdk-nag AwsSolutions: the stage stack synthesises with no unacknowledged error, and the checks are
really wired (a non-compliant resource fails synthesis)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from infra.nag import acknowledge, enable_checks
from infra.stack import NasStack
from tests.infra.conftest import app_context


def test_stage_stack_has_no_unacknowledged_findings(stack: NasStack) -> None:
    # The session fixture synthesised the whole app with the checks on; synthesis raises on any error.
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    assert assembly.get_stack_by_name(stack.stack_name).template["Resources"]


def test_a_non_compliant_resource_fails_synthesis(tmp_path: Path) -> None:
    app = cdk.App(context=app_context(), outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(region="eu-west-2"))
    s3.Bucket(stack, "Unlogged")  # no access logs, no TLS-only policy
    enable_checks(app)
    with pytest.raises(RuntimeError, match="AwsSolutions-S1"):
        app.synth()


def test_an_acknowledgement_needs_a_real_reason(tmp_path: Path) -> None:
    app = cdk.App(context=app_context(), outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(s3.Bucket(stack, "Bucket"), "AwsSolutions-S1", "because")
