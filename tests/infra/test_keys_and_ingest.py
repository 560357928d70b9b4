"""R-CRYPTO keys and the Kinesis `reads` stream."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from tests.infra.conftest import one_resource, resources


def test_every_encryption_key_is_customer_managed_with_yearly_rotation(template: Template) -> None:
    keys = resources(template, "AWS::KMS::Key")
    # The audit signing key is asymmetric: KMS cannot rotate those (tests/infra/test_audit.py).
    encryption = {k: v for k, v in keys.items() if v["Properties"].get("KeyUsage") != "SIGN_VERIFY"}
    assert len(encryption) == len(keys) - 1
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
