"""R-RET-367 in the template: the retention check runs daily with its own signing key (only it may
sign), lists and deletes versions under the retained prefixes only, writes statements only under
retention-statements/, and `OldestReadAgeDays` above 367 raises an alarm; the api reads statements
and verifies, never signs."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from nas import catalogue
from tests.infra.conftest import granted, one_resource, render, resources, statements

POLICY = "RuntimeRetentionFunctionServiceRoleDefaultPolicy"
API_POLICY = "RuntimeApiFunctionServiceRoleDefaultPolicy"


def role_id(template: Template) -> str:
    [found] = [
        lid
        for lid in resources(template, "AWS::IAM::Role")
        if lid.startswith("RuntimeRetentionFunctionServiceRole")
    ]
    return found


def test_the_check_runs_daily_one_at_a_time_with_its_stores(template: Template) -> None:
    props = one_resource(template, "AWS::Lambda::Function", "RuntimeRetentionFunction")["Properties"]
    assert props["Handler"] == "handlers.retention.lambda_handler"
    assert (props["ReservedConcurrentExecutions"], props["Timeout"]) == (1, 900)
    variables = props["Environment"]["Variables"]
    assert render(variables[catalogue.Bucket.READS.env_var]) == "StorageReads"
    assert render(variables[catalogue.Bucket.QUARANTINE.env_var]) == "StorageQuarantine"
    assert render(variables[catalogue.Bucket.EVIDENCE.env_var]) == "StorageEvidence"
    assert render(variables[catalogue.RETENTION_SIGNING_KEY_ENV]) == "RetentionSigningKey.Arn"
    assert variables[catalogue.RETENTION_STATEMENT_LOCK_ENV] == "1"  # the dev stage's evidence lock
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "cron(30 5 * * ? *)"})


def test_only_the_retention_check_signs_with_its_own_key(template: Template) -> None:
    key = one_resource(template, "AWS::KMS::Key", "RetentionSigningKey")["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    signing = [s for s in key["KeyPolicy"]["Statement"] if "kms:Sign" in _list(s["Action"])]
    role = {"Fn::GetAtt": [role_id(template), "Arn"]}
    assert signing == [
        {
            "Sid": "RetentionCheckSigns",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": "kms:Sign",
            "Resource": "*",
        },
        {
            "Sid": "NobodyElseSigns",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:Sign",
            "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": role}},
        },
    ]
    # And it cannot sign audit digests: the audit key names the digest job alone.
    audit_key = one_resource(template, "AWS::KMS::Key", "AuditSigningKey")["Properties"]
    assert role not in [s["Principal"].get("AWS") for s in audit_key["KeyPolicy"]["Statement"]]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_check_deletes_versions_under_the_retained_prefixes_only(template: Template) -> None:
    allowed = granted(template, POLICY)
    deletes = {r for a, r in allowed if a == "s3:DeleteObjectVersion"}
    assert deletes == {
        f"Storage{p.bucket.value.capitalize()}.Arn/{p.prefix}*" for p in catalogue.RETAINED_PREFIXES
    }
    assert not {a for a, _ in allowed if a in ("s3:DeleteObject", "s3:PutBucketLifecycleConfiguration")}
    assert {(a, r) for a, r in allowed if r.startswith("StorageEvidence")} == {
        ("s3:PutObject", "StorageEvidence.Arn/retention-statements/*"),
        ("s3:PutObjectRetention", "StorageEvidence.Arn/retention-statements/*"),
    }
    listing = [s for s in statements(template, POLICY) if s["Action"] == "s3:ListBucketVersions"]
    prefixes = sorted(p for s in listing for p in s["Condition"]["StringLike"]["s3:prefix"])
    assert prefixes == sorted(f"{p.prefix}*" for p in catalogue.RETAINED_PREFIXES)


def test_oldest_read_age_above_367_days_raises_an_alarm(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "OldestReadAgeDays",
            "Namespace": "NAS",
            "Dimensions": [{"Name": "service", "Value": "nas-retention"}],
            "Statistic": "Maximum",
            "Threshold": 367,
            "ComparisonOperator": "GreaterThanThreshold",
            "Period": 86400,
            "AlarmActions": [Match.object_like({"Ref": Match.string_like_regexp("MonitoringAlarmTopic")})],
        },
    )
    for prefix in ("RetentionJobFailing", "RetentionJobNotRunning", "RetentionDeletesFailing"):
        one_resource(template, "AWS::CloudWatch::Alarm", prefix)


def test_the_api_reads_statements_and_verifies_but_never_signs(template: Template) -> None:
    allowed = granted(template, API_POLICY)
    assert {a for a, r in allowed if r.startswith("RetentionSigningKey")} == {"kms:Verify"}
    listings = [s for s in statements(template, API_POLICY) if s["Action"] == "s3:ListBucket"]
    on_evidence = [s for s in listings if render(s["Resource"]).startswith("StorageEvidence")]
    # Statements, and the daily statistics documents (R-STATS): no other listing of the bucket.
    assert sorted(p for s in on_evidence for p in s["Condition"]["StringLike"]["s3:prefix"]) == [
        "retention-statements/*",
        "statistics/daily/*",
    ]
    outputs = template.find_outputs("RetentionSigningKeyArn")
    [output] = outputs.values()
    assert render(output["Value"]) == "RetentionSigningKey.Arn"
