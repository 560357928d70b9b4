"""`GET /reports/daily` (R-STATS) for analysts and auditors, JSON or CSV, from the document the daily
job stored; `GET /reports/usage` for auditors, per user with refusals by rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from handlers.api import lambda_handler
from nas import catalogue
from nas.adapters.statistics import S3ReportStore
from nas.domain.leas import NATIONAL, lea_codes
from nas.domain.statistics import DayInputs, Labels, ReadCount, daily_report
from tests.api.conftest import (
    AUDITOR_KENT,
    AUDITOR_NATIONAL,
    EVIDENCE_BUCKET,
    OPERATOR_KENT,
    ApiAccount,
    claims,
)
from tests.handlers.events import FakeLambdaContext, rest_proxy_event

ANALYST = claims("an.nat", "analyst", "NATIONAL")
INVESTIGATOR = claims("inv.kent", "investigator", "KENT")
NOW = datetime.now(UTC)
TODAY = NOW.date()


@pytest.fixture
def reported(api: ApiAccount) -> ApiAccount:
    """A stored report of today: Kent reads at 08:00 (12) and 09:00 (3)."""
    reads = [ReadCount("KENT", 8, "static", 12), ReadCount("KENT", 9, "static", 3)]
    inputs = DayInputs(reads=reads, quarantined={"unknown-camera": 7}, alerts=[], events=[], voi_entries={})
    document = daily_report(
        TODAY, inputs, Labels(lea_codes() | {NATIONAL}), now=NOW, voi_as_of=NOW
    ).document()
    store = S3ReportStore(
        boto3.client("s3", region_name="eu-west-2"), EVIDENCE_BUCKET, catalogue.STATISTICS_PREFIX
    )
    store.put(TODAY, document)
    return api


@pytest.mark.parametrize("who", [ANALYST, AUDITOR_KENT])
def test_analysts_and_auditors_read_the_days_statistics(reported: ApiAccount, who: dict[str, str]) -> None:
    reply = reported.call("GET", "/reports/daily", who, query={"date": TODAY.isoformat()})
    assert reply.status == 200
    assert reply.body["reads_by_lea_hour"] == [
        {"lea": "KENT", "hour": "08", "count": 12},
        {"lea": "KENT", "hour": "09", "count": "<5"},
    ]
    assert reply.body["quarantined_by_reason"] == [{"reason": "unknown-camera", "count": 7}]
    assert reply.body["complete"] is False
    assert reported.audit_for(reply.request_id)["parameters"]["uses"]["day"] == TODAY.isoformat()


def test_the_report_comes_as_csv_with_small_counts_hidden(reported: ApiAccount) -> None:
    event = rest_proxy_event("GET", "/reports/daily", claims=ANALYST, query={"format": "csv"})
    response = lambda_handler(event, FakeLambdaContext())  # type: ignore[arg-type]
    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Content-Type"][0].startswith("text/csv")
    lines = response["body"].splitlines()
    assert lines[0].split(",")[0] == "section"
    assert "reads_by_lea_hour,KENT,09,,,,,,,,<5" in lines


def test_other_roles_are_refused_and_a_day_not_counted_is_not_found(reported: ApiAccount) -> None:
    for who in (OPERATOR_KENT, INVESTIGATOR):
        reply = reported.call("GET", "/reports/daily", who)
        assert (reply.status, reply.body["error"]["code"]) == (403, "role-not-permitted")
    missing = reported.call(
        "GET", "/reports/daily", ANALYST, query={"date": (TODAY - timedelta(days=9)).isoformat()}
    )
    assert missing.status == 404
    bad = reported.call("GET", "/reports/daily", ANALYST, query={"date": "2026-13-01"})
    assert (bad.status, bad.body["error"]["fields"]) == (400, ["date"])
    wrong = reported.call("GET", "/reports/daily", ANALYST, query={"format": "xml"})
    assert wrong.status == 400


def test_auditors_see_usage_per_user_with_refusals_by_rule(reported: ApiAccount) -> None:
    assert reported.call("GET", "/reports/daily", INVESTIGATOR).status == 403
    assert reported.call("GET", "/reports/usage", ANALYST, query={"from": TODAY.isoformat()}).status == 403
    reply = reported.call("GET", "/reports/usage", AUDITOR_NATIONAL, query={"from": TODAY.isoformat()})
    assert reply.status == 200
    users = {u["user"]: u for u in reply.body["users"]}
    assert users["inv.kent"]["refusals"] == {"role-not-permitted": 1}
    assert users["an.nat"]["refusals"] == {"role-not-permitted": 1}
    assert "aud.nat" not in users  # its own request was allowed and is neither a search nor a view
    kent = reported.call("GET", "/reports/usage", AUDITOR_KENT, query={"from": TODAY.isoformat()})
    assert [u["user"] for u in kent.body["users"]] == ["inv.kent"]
    record = reported.audit_for(reply.request_id)
    assert record["parameters"]["arguments"] == {"from": TODAY.isoformat(), "to": None}
    too_long = reported.call(
        "GET", "/reports/usage", AUDITOR_NATIONAL, query={"from": "2026-01-01", "to": "2026-03-01"}
    )
    assert (too_long.status, too_long.body["error"]["fields"]) == (400, ["to"])
