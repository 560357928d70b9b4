"""R-STATS in the template: the statistics job runs each morning, one at a time, counting reads in
the search workgroup and reading the alerts (day shards only), audit and VOI tables and the day's
quarantine documents; it writes only its documents under statistics/daily/ of the evidence bucket
and its own audit events; the api reads those documents and nothing else of that prefix."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from nas import catalogue
from tests.infra.conftest import granted, one_resource, render, statements

POLICY = "RuntimeStatisticsFunctionServiceRoleDefaultPolicy"
API_POLICY = "RuntimeApiFunctionServiceRoleDefaultPolicy"


def test_the_job_runs_each_morning_one_at_a_time_with_its_stores(template: Template) -> None:
    props = one_resource(template, "AWS::Lambda::Function", "RuntimeStatisticsFunction")["Properties"]
    assert props["Handler"] == "handlers.statistics.lambda_handler"
    assert (props["ReservedConcurrentExecutions"], props["Timeout"]) == (1, 900)
    variables = props["Environment"]["Variables"]
    assert render(variables[catalogue.Bucket.EVIDENCE.env_var]) == "StorageEvidence"
    assert render(variables[catalogue.Bucket.QUARANTINE.env_var]) == "StorageQuarantine"
    assert render(variables[catalogue.ATHENA_WORKGROUP_ENV]) == "AnalyticsSearchWorkgroup"
    for spec in (catalogue.ALERTS, catalogue.AUDIT, catalogue.VOI):
        assert render(variables[spec.env_var]).startswith(f"Tables{spec.logical_name.capitalize()}")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "cron(15 2 * * ? *)",
            "Targets": [
                Match.object_like(
                    {"Arn": {"Fn::GetAtt": [Match.string_like_regexp("RuntimeStatisticsFunction"), "Arn"]}}
                )
            ],
        },
    )
    for prefix in ("StatisticsJobFailing", "StatisticsJobNotRunning"):
        one_resource(template, "AWS::CloudWatch::Alarm", prefix)


def test_the_job_reads_what_it_counts_and_writes_only_its_documents(template: Template) -> None:
    allowed = granted(template, POLICY)
    writes = {(a, r) for a, r in allowed if a in ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectRetention")}
    assert ("s3:PutObject", "StorageEvidence.Arn/statistics/daily/*") in writes
    assert not {
        r for _, r in writes if r.startswith(("StorageEvidence", "StorageQuarantine", "StorageReads"))
    } - {"StorageEvidence.Arn/statistics/daily/*"}
    assert ("s3:GetObject", "StorageQuarantine.Arn/quarantine/*") in allowed
    assert "athena:StartQueryExecution" in {a for a, _ in allowed}
    tables = {(a, r) for a, r in allowed if a.startswith("dynamodb:")}
    alert_indexes = {
        r.rsplit("/", 1)[-1] for a, r in tables if "/index/" in r and r.startswith("TablesAlerts")
    }
    assert alert_indexes == {"by-raised-day-shard"}
    assert {a for a, r in tables if r.startswith("TablesVoi")} == {"dynamodb:Scan"}
    assert {a for a, r in tables if r.startswith("TablesAudit")} == {"dynamodb:PutItem", "dynamodb:Query"}
    assert not {a for a, _ in tables if a in ("dynamodb:UpdateItem", "dynamodb:DeleteItem")}


def test_the_api_reads_the_documents_only(template: Template) -> None:
    allowed = granted(template, API_POLICY)
    assert ("s3:GetObject", "StorageEvidence.Arn/statistics/daily/*") in allowed
    assert ("s3:PutObject", "StorageEvidence.Arn/statistics/daily/*") not in allowed
    listings = [s for s in statements(template, API_POLICY) if s["Action"] == "s3:ListBucket"]
    assert any(s["Condition"] == {"StringLike": {"s3:prefix": ["statistics/daily/*"]}} for s in listings)
