"""cdk-nag (AwsSolutions) wiring and the one way this app acknowledges a finding: with a reason."""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct

MIN_REASON_LENGTH = 20


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledges an AwsSolutions finding on `scope` and its children. The reason is what an
    auditor reads in policy-validation-report.json, so it must say why, not just that."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(
            f"acknowledgement of {rule} needs a reason of at least {MIN_REASON_LENGTH} characters"
        )
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def arn_in_finding(resource: IConstruct) -> str:
    """How cdk-nag names the ARN of a resource of this stack inside a finding id, e.g.
    `<StorageReads7194BD81.Arn>`, so IAM5 acknowledgements can name one resource pattern exactly."""
    cfn = resource.node.default_child
    assert isinstance(cfn, cdk.CfnElement), f"{resource.node.path} has no CloudFormation resource"
    return f"<{cdk.Stack.of(resource).get_logical_id(cfn)}.Arn>"


def enable_checks(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(
        cdk_nag.AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
