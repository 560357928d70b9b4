"""R-AUDIT in the template: the audit table refuses in-place changes to everyone; the digest job runs
on its two schedules with its own asymmetric signing key, which only it may use to sign; what the
digest job and the api function may do with the table, the digests and the key; the job's
environment and alarms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match, Template

from nas import catalogue
from tests.infra.conftest import granted, one_resource, resources, synth_stack

DIGEST_POLICY = "RuntimeAuditDigestFunctionServiceRoleDefaultPolicy"
API_POLICY = "RuntimeApiFunctionServiceRoleDefaultPolicy"
PREFIX = f"{catalogue.AUDIT_DIGEST_PREFIX}*"


def logical_id(template: Template, type_: str, prefix: str) -> str:
    [found] = [lid for lid in resources(template, type_) if lid.startswith(prefix)]
    return found


def signing_key(template: Template) -> dict[str, Any]:
    return one_resource(template, "AWS::KMS::Key", "AuditSigningKey")


def test_the_audit_table_denies_in_place_changes_to_every_principal(template: Template) -> None:
    table = one_resource(template, "AWS::DynamoDB::Table", "TablesAudit")["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "chain_id", "KeyType": "HASH"},
        {"AttributeName": "seq", "KeyType": "RANGE"},
    ]
    [statement] = table["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Resource"] == "*"
    assert "Condition" not in statement
    assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} <= set(
        statement["Action"]
    )
    assert "dynamodb:PutItem" not in statement["Action"]


def test_only_record_tables_carry_a_resource_policy(template: Template) -> None:
    """The audit trail (append-only) and the records of what was done to reads (no deletes:
    tests/infra/test_read_evidence.py)."""
    with_policy = {
        lid
        for lid, t in resources(template, "AWS::DynamoDB::Table").items()
        if "ResourcePolicy" in t["Properties"]
    }
    assert with_policy == {
        logical_id(template, "AWS::DynamoDB::Table", prefix)
        for prefix in ("TablesAudit", "TablesCorrections", "TablesPreservations", "TablesSubjectRequests")
    }


def test_the_signing_key_is_asymmetric_for_signing(template: Template) -> None:
    props = signing_key(template)["Properties"]
    assert (props["KeySpec"], props["KeyUsage"]) == (catalogue.AUDIT_SIGNING_KEY_SPEC, "SIGN_VERIFY")
    assert props["KeySpec"] in {"ECC_NIST_P256", "RSA_2048"}


def test_only_the_digest_job_may_sign_by_the_key_policy(template: Template) -> None:
    role = logical_id(template, "AWS::IAM::Role", "RuntimeAuditDigestFunctionServiceRole")
    statements = signing_key(template)["Properties"]["KeyPolicy"]["Statement"]
    signing = [s for s in statements if "kms:Sign" in _actions(s) or "kms:*" in _actions(s)]
    assert signing == [
        {
            "Sid": "DigestJobSigns",
            "Effect": "Allow",
            "Principal": {"AWS": {"Fn::GetAtt": [role, "Arn"]}},
            "Action": "kms:Sign",
            "Resource": "*",
        },
        {
            "Sid": "NobodyElseSigns",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:Sign",
            "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [role, "Arn"]}}},
        },
    ]
    # The account administers the key and may delegate Verify through IAM (auditors, the api).
    verify = next(s for s in statements if s.get("Sid") == "VerifyThroughIam")
    assert set(_actions(verify)) == {"kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"}
    admin = next(s for s in statements if s.get("Sid") == "KeyAdministration")
    assert not {
        a for a in _actions(admin) if a.startswith(("kms:Sign", "kms:*", "kms:Encrypt", "kms:Decrypt"))
    }


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_the_digest_job_runs_every_five_minutes_and_just_after_each_day(template: Template) -> None:
    function = logical_id(template, "AWS::Lambda::Function", "RuntimeAuditDigestFunction")
    for expression in ("rate(5 minutes)", "cron(2 0 * * ? *)"):
        template.has_resource_properties(
            "AWS::Events::Rule",
            {
                "ScheduleExpression": expression,
                "State": "ENABLED",
                "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function, "Arn"]}})],
            },
        )
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [function, "Arn"]},
        },
    )


def test_the_digest_job_runs_one_at_a_time_with_its_settings(template: Template) -> None:
    props = one_resource(template, "AWS::Lambda::Function", "RuntimeAuditDigestFunction")["Properties"]
    assert props["Handler"] == "handlers.audit_digest.lambda_handler"
    assert props["ReservedConcurrentExecutions"] == 1
    variables = props["Environment"]["Variables"]
    assert variables[catalogue.AUDIT.env_var]["Ref"].startswith("TablesAudit")
    assert variables[catalogue.Bucket.EVIDENCE.env_var]["Ref"].startswith("StorageEvidence")
    assert variables[catalogue.AUDIT_SIGNING_KEY_ENV]["Fn::GetAtt"][0].startswith("AuditSigningKey")
    assert variables[catalogue.AUDIT_DIGEST_RETENTION_ENV] == "1"  # cdk.json's dev stage


def test_prod_locks_digests_for_seven_years(tmp_path: Path) -> None:
    prod = Template.from_stack(synth_stack(tmp_path, stage="prod"))
    props = one_resource(prod, "AWS::Lambda::Function", "RuntimeAuditDigestFunction")["Properties"]
    assert props["Environment"]["Variables"][catalogue.AUDIT_DIGEST_RETENTION_ENV] == "2557"
    assert one_resource(prod, "AWS::KMS::Key", "AuditSigningKey")["DeletionPolicy"] == "Retain"


def test_the_digest_job_reads_the_chains_and_writes_locked_digests_only(template: Template) -> None:
    allowed = granted(template, DIGEST_POLICY)
    assert {a for a, r in allowed if r.startswith("TablesAudit")} == {"dynamodb:Query"}
    on_evidence = {(a, r) for a, r in allowed if r.startswith("StorageEvidence")}
    # Preserved copies (R-PRESERVE) are tests/infra/test_read_evidence.py's.
    assert {(a, r) for a, r in on_evidence if "/preservations/" not in r} == {
        ("s3:ListBucketVersions", "StorageEvidence.Arn"),
        ("s3:GetObjectVersion", "StorageEvidence.Arn/audit-digests/*"),
        ("s3:PutObject", "StorageEvidence.Arn/audit-digests/*"),
        ("s3:PutObjectRetention", "StorageEvidence.Arn/audit-digests/*"),
    }
    assert {a for a, r in allowed if r.startswith("AuditSigningKey")} == {"kms:Sign", "kms:Verify"}
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyName": Match.string_like_regexp(DIGEST_POLICY),
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "s3:ListBucketVersions",
                                "Condition": {"StringLike": {"s3:prefix": [PREFIX]}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_the_api_appends_and_queries_and_verifies_but_never_signs(template: Template) -> None:
    allowed = granted(template, API_POLICY)
    assert {a for a, r in allowed if r.startswith("TablesAudit")} == {"dynamodb:PutItem", "dynamodb:Query"}
    assert {a for a, r in allowed if r.startswith("AuditSigningKey")} == {"kms:Verify", "kms:GetPublicKey"}
    on_evidence = {(a, r) for a, r in allowed if r.startswith("StorageEvidence")}
    # Preserved copies (R-PRESERVE) are tests/infra/test_read_evidence.py's.
    assert {(a, r) for a, r in on_evidence if "/preservations/" not in r} == {
        ("s3:ListBucketVersions", "StorageEvidence.Arn"),
        ("s3:GetObjectVersion", "StorageEvidence.Arn/audit-digests/*"),
        # GET /reports/retention (tests/infra/test_retention.py): read only, statements only.
        ("s3:ListBucket", "StorageEvidence.Arn"),
        ("s3:GetObject", "StorageEvidence.Arn/retention-statements/*"),
        # GET /reports/daily (tests/infra/test_statistics.py): the daily documents, read only.
        ("s3:GetObject", "StorageEvidence.Arn/statistics/daily/*"),
    }
    api = one_resource(template, "AWS::Lambda::Function", "RuntimeApiFunction")["Properties"]
    variables = api["Environment"]["Variables"]
    assert variables[catalogue.AUDIT_SIGNING_KEY_ENV]["Fn::GetAtt"][0].startswith("AuditSigningKey")
    assert variables[catalogue.Bucket.EVIDENCE.env_var]["Ref"].startswith("StorageEvidence")


def test_alarms_fire_when_the_job_fails_stops_or_finds_the_trail_changed(template: Template) -> None:
    topic = logical_id(template, "AWS::SNS::Topic", "MonitoringAlarmTopic")
    for prefix in ("AuditDigestJobFailing", "AuditAuditTrailChanged", "AuditDigestJobNotRunning"):
        alarm = one_resource(template, "AWS::CloudWatch::Alarm", prefix)["Properties"]
        assert alarm["AlarmActions"] == [{"Ref": topic}]
    not_running = one_resource(template, "AWS::CloudWatch::Alarm", "AuditDigestJobNotRunning")["Properties"]
    assert (not_running["MetricName"], not_running["TreatMissingData"]) == ("Invocations", "breaching")


def test_the_stack_outputs_the_signing_key_for_auditors(template: Template) -> None:
    outputs = template.find_outputs("AuditSigningKeyArn")
    [output] = outputs.values()
    assert output["Value"]["Fn::GetAtt"][0].startswith("AuditSigningKey")
