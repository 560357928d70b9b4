"""`GET /reports/retention` (R-RET-367): auditors and the DPO read the latest signed statement the
daily check wrote, its signature checked; nobody else may; a day without one is a 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nas.jobs.wiring import build_retention_ports
from nas.services.retention import run_retention_check
from nas.settings import settings
from tests.api.conftest import AUDITOR_NATIONAL, OPERATOR_KENT, ApiAccount, Reply, claims

DPO = claims("dpo.nat", "dpo", "NATIONAL")
ADMIN = claims("adm.nat", "admin", "NATIONAL")


@pytest.fixture
def checked(api: ApiAccount, monkeypatch: pytest.MonkeyPatch) -> ApiAccount:
    """One daily check over empty reads and quarantine buckets, wired as its Lambda is."""
    import boto3

    from nas import catalogue

    s3 = boto3.client("s3", region_name="eu-west-2")
    # The reads bucket is the `api` fixture's (read views serve images from it).
    quarantine = f"nas-test-{catalogue.Bucket.QUARANTINE.value}"
    s3.create_bucket(Bucket=quarantine, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    monkeypatch.setenv(catalogue.Bucket.QUARANTINE.env_var, quarantine)
    monkeypatch.setenv(catalogue.Bucket.READS.env_var, "nas-test-reads")
    settings.cache_clear()
    s3.put_object(Bucket="nas-test-reads", Key="images/2026-01-01/s/1-2.jpgpack", Body=b"\xff\xd8\xff")
    now = datetime.now(UTC)
    run_retention_check(
        build_retention_ports(settings()), now=now, written_at=now, writer="arn:test:retention", run_id="r"
    )
    return api


def statement(api: ApiAccount, who: dict[str, str], **query: str) -> Reply:
    return api.call("GET", "/reports/retention", who, query=query)


@pytest.mark.parametrize("who", [AUDITOR_NATIONAL, DPO])
def test_auditors_and_the_dpo_read_the_latest_signed_statement(
    checked: ApiAccount, who: dict[str, str]
) -> None:
    reply = statement(checked, who)
    assert reply.status == 200
    body = reply.body
    assert (body["signature_valid"], body["within_retention"], body["keep_for_days"]) == (True, True, 367)
    assert {(p["bucket"], p["prefix"]) for p in body["prefixes"]} == {
        ("reads", "reads/"),
        ("reads", "images/"),
        ("reads", "firehose-errors/"),
        ("quarantine", "quarantine/"),
        ("imports", "incoming/"),
        ("imports", "work/"),
        ("imports", "rejects/"),
    }
    [images] = [p for p in body["prefixes"] if p["prefix"] == "images/"]
    assert images["oldest"]["key"] == "images/2026-01-01/s/1-2.jpgpack"
    assert checked.audit_for(reply.request_id)["parameters"]["uses"]["statement"] == body["statement_key"]


def test_a_day_without_a_statement_is_not_found_and_bad_dates_are_refused(checked: ApiAccount) -> None:
    today = datetime.now(UTC).date()
    assert statement(checked, DPO, date=today.isoformat()).status == 200
    assert statement(checked, DPO, date=(today - timedelta(days=1)).isoformat()).status == 404
    refused = statement(checked, DPO, date="30-01-2026")
    assert (refused.status, refused.body["error"]["fields"]) == (400, ["date"])


@pytest.mark.parametrize("who", [OPERATOR_KENT, ADMIN])
def test_others_may_not_read_the_statement(checked: ApiAccount, who: dict[str, str]) -> None:
    reply = statement(checked, who)
    assert (reply.status, reply.body["error"]["code"]) == (403, "role-not-permitted")
