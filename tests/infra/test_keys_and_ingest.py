"""R-CRYPTO keys, how roles are given them (only through the service that uses each), and the
Kinesis `reads` stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from infra.constructs.keys import (
    Via,
    grant_via,
    keyless_bucket,
    keyless_queue,
    keyless_stream,
)
from tests.infra.conftest import as_list, one_resource, render, resources


def test_every_encryption_key_is_customer_managed_with_yearly_rotation(template: Template) -> None:
    keys = resources(template, "AWS::KMS::Key")
    # The audit and retention signing keys are asymmetric: KMS cannot rotate those
    # (tests/infra/test_audit.py, test_retention.py).
    encryption = {k: v for k, v in keys.items() if v["Properties"].get("KeyUsage") != "SIGN_VERIFY"}
    assert len(encryption) == len(keys) - 2
    for logical_id, key in encryption.items():
        assert key["Properties"]["EnableKeyRotation"] is True, logical_id
        assert key["Properties"]["RotationPeriodInDays"] == 365, logical_id


def test_reads_stream_is_on_demand_and_encrypted_with_the_stream_key(template: Template) -> None:
    stream = one_resource(template, "AWS::Kinesis::Stream", "IngestReads")
    props = stream["Properties"]
    assert props["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert props["StreamEncryption"]["EncryptionType"] == "KMS"
    key_ref = props["StreamEncryption"]["KeyId"]["Fn::GetAtt"][0]
    assert key_ref.startswith("KeysStream")
    assert props["RetentionPeriodHours"] == 168


def test_logs_key_lets_cloudwatch_logs_use_it_only_for_this_accounts_groups(template: Template) -> None:
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "Description": "NAS CloudWatch log groups",
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "logs.eu-west-2.amazonaws.com"},
                                "Condition": {
                                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": Match.any_value()}
                                },
                            }
                        )
                    ]
                )
            },
        },
    )


def test_every_log_group_is_encrypted_and_has_a_retention(template: Template) -> None:
    groups = resources(template, "AWS::Logs::LogGroup")
    assert groups
    for logical_id, group in groups.items():
        assert group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0].startswith("KeysLogs"), logical_id
        assert group["Properties"]["RetentionInDays"] > 0, logical_id


# Written out from R-CRYPTO's design rather than read from the code: the service that uses each key
# on a caller's behalf. No role is given the logs or operations keys at all (their services encrypt
# as themselves, by key policy).
KEY_SERVICES = {
    "KeysTables": "dynamodb",
    "KeysStorage": "s3",
    "KeysStream": "kinesis",
    "KeysQueues": "sqs",
    "KeysAlerts": "sns",
}


def identity_statements(template: Template) -> list[tuple[str, dict[str, Any]]]:
    """Every statement of every identity policy in the stack, with the policy's logical id."""
    found = [
        (lid, statement)
        for lid, policy in resources(template, "AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    for lid, role in resources(template, "AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            found += [(lid, statement) for statement in inline["PolicyDocument"]["Statement"]]
    return found


def test_every_key_grant_to_a_role_holds_only_through_the_service_that_uses_the_key(
    template: Template,
) -> None:
    keys_granted = set()
    for policy, statement in identity_statements(template):
        if not any(action.startswith("kms:") for action in as_list(statement["Action"])):
            continue
        [key_arn] = as_list(statement["Resource"])
        key = render(key_arn).removesuffix(".Arn")
        if key in ("AuditSigningKey", "RetentionSigningKey"):
            # Used with KMS itself, not through a store: only signature actions, no decrypt or
            # encrypt; signing is further limited to the digest job (retention check) by the key policy.
            assert set(as_list(statement["Action"])) <= {"kms:Sign", "kms:Verify", "kms:GetPublicKey"}
            continue
        assert key in KEY_SERVICES, f"{policy} holds {key}, which no role should"
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": f"{KEY_SERVICES[key]}.eu-west-2.amazonaws.com"}
        }, policy
        keys_granted.add(key)
    assert keys_granted == set(KEY_SERVICES)


@pytest.mark.parametrize("kind", ["stream", "queue", "bucket"])
def test_grants_on_a_keyless_view_leave_the_key_out(tmp_path: Path, kind: str) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(region="eu-west-2"))
    key = kms.Key(stack, "Key")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    if kind == "stream":
        stream = kinesis.Stream(stack, "Stream", encryption=kinesis.StreamEncryption.KMS, encryption_key=key)
        keyless_stream(stream).grant_read(role)
    elif kind == "queue":
        queue = sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key)
        keyless_queue(queue).grant_send_messages(role)
    else:
        bucket = s3.Bucket(stack, "Bucket", encryption=s3.BucketEncryption.KMS, encryption_key=key)
        keyless_bucket(bucket).grant_put(role)
    grant_via(key, role, Via.S3, "kms:Decrypt")
    [policy] = resources(Template.from_stack(stack), "AWS::IAM::Policy").values()
    on_key = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("kms:") for a in as_list(s["Action"]))
    ]
    # Only the grant made through the service: the view's own grant added nothing on the key.
    assert on_key == [
        {
            "Action": "kms:Decrypt",
            "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-2.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]},
        }
    ]
    assert len(policy["Properties"]["PolicyDocument"]["Statement"]) > 1  # the view's own actions
