"""Retro-hunts end to end on moto, through the handlers (issue 10, item 5): POST /voi with
`retro_hunt_days` answers at once with the hunt queued; the retro-hunt function, fed the queue's
message, runs the search on Athena (moto's canned rows), raises `retro` alerts that GET /alerts and
the alerting bus show, audits the system search, and GET /voi/{voi_id} shows what it found. A second
hunt over the same reads raises nothing new (R-DUP)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from nas import catalogue
from nas.api import wiring
from nas.domain.search_sql import READ_RESULT_COLUMNS
from nas.settings import settings
from tests.api.conftest import REGION, ApiAccount, claims
from tests.handlers.events import FakeLambdaContext

BUS = "nas-test-alerts-bus"
MANAGER = claims("vm.kent", "voi-manager", "KENT")
OPERATOR_KENT = claims("op.kent", "operator", "KENT")
OPERATOR_ESSEX = claims("op.essex", "operator", "ESSEX")
HUNT = {"retro_hunt_days": 3, "purpose": "crime", "case_ref": "KENT-2026-000123"}


@pytest.fixture
def hunting(api: ApiAccount, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ApiAccount, str]]:
    """The api account with the alerting bus, whose every alert event lands on a queue to read."""
    from handlers import retro_hunt

    boto3.client("athena", region_name=REGION).create_work_group(
        Name="nas-test-search",
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://nas-test-athena-results/results/"}},
    )
    events = boto3.client("events", region_name=REGION)
    events.create_event_bus(Name=BUS)
    queue = api.sqs.create_queue(QueueName="alert-events")["QueueUrl"]
    arn = api.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="all-alerts",
        EventBusName=BUS,
        EventPattern=json.dumps({"source": [catalogue.ALERT_EVENT_SOURCE]}),
    )
    events.put_targets(Rule="all-alerts", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    monkeypatch.setenv(catalogue.ALERT_BUS_ENV, BUS)
    settings.cache_clear()
    wiring.reset()
    retro_hunt.service.cache_clear()
    yield api, queue
    retro_hunt.service.cache_clear()


def stored_reads(*reads: tuple[str, str, datetime]) -> None:
    """What Athena will answer the next query with: (read id, LEA, captured) rows of AB12CDE."""
    header = {"Data": [{"VarCharValue": c} for c in READ_RESULT_COLUMNS]}
    rows = [
        {
            "Data": [
                {"VarCharValue": v}
                for v in (
                    read_id,
                    "AB12CDE",
                    str(int(at.timestamp() * 1000)),
                    f"{lea}-0001",
                    lea,
                    "51.2",
                    "1.07",
                    "N",
                    "90",
                    "live",
                    at.date().isoformat(),
                    "5",
                    "false",  # corrected (R-CORRECT)
                )
            ]
        }
        for read_id, lea, at in reads
    ]
    backend = athena_backends[DEFAULT_ACCOUNT_ID][REGION]
    backend.query_results_queue.append(QueryResults(rows=[header, *rows], column_info=[]))


def run_queued_hunts(api: ApiAccount) -> dict[str, Any]:
    """The retro-hunt function, invoked by its event source mapping with what the queue holds."""
    from handlers.retro_hunt import lambda_handler

    messages = api.sqs.receive_message(QueueUrl=api.retro_hunt_queue, MaxNumberOfMessages=10)["Messages"]
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:nas-test-retro-hunts",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }
    response: dict[str, Any] = lambda_handler(event, FakeLambdaContext())
    return response


def published(api: ApiAccount, queue: str) -> list[dict[str, Any]]:
    messages = api.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["detail"] for m in messages]


def test_a_retro_hunt_is_queued_then_raises_retro_alerts_once(hunting: tuple[ApiAccount, str]) -> None:
    api, events_queue = hunting
    now = datetime.now(UTC)
    created = api.call(
        "POST",
        "/voi",
        MANAGER,
        body={
            "vrm": "AB12CDE",
            "category": "stolen",
            "action": "stop",
            "priority": 1,
            "reason": "Reported stolen, PNC 24/123456A",
            "circulation": ["KENT"],
            **HUNT,
        },
    )
    assert created.status == 201, created.body
    hunt = created.body["retro_hunt"]
    assert (hunt["status"], hunt["days"], hunt["reads_found"]) == ("queued", 3, None)
    voi_id = created.body["voi_id"]

    stored_reads(
        ("r-kent-1", "KENT", now - timedelta(hours=6)),
        ("r-kent-2", "KENT", now - timedelta(days=2)),
        ("r-essex", "ESSEX", now - timedelta(hours=2)),  # not circulated to Essex (R-CIRC)
    )
    assert run_queued_hunts(api) == {"batchItemFailures": []}

    shown = api.call("GET", f"/voi/{voi_id}", MANAGER).body["retro_hunt"]
    assert (shown["status"], shown["reads_found"], shown["alerts_raised"]) == ("succeeded", 3, 2)
    alerts = api.call("GET", "/alerts", OPERATOR_KENT, query={"limit": "10"}).body["alerts"]
    assert sorted(a["read_id"] for a in alerts) == ["r-kent-1", "r-kent-2"]
    assert all(a["retro"] for a in alerts)
    assert api.call("GET", "/alerts", OPERATOR_ESSEX, query={"limit": "10"}).body["alerts"] == []
    details = published(api, events_queue)
    assert sorted(d["read_id"] for d in details) == ["r-kent-1", "r-kent-2"]
    assert all(d["retro"] is True for d in details)

    [audit] = [r for r in api.audit_records() if r["user"] == "job:retro-hunt"]
    assert (audit["case_ref"], audit["purpose"], audit["lea"], audit["result_count"]) == (
        "KENT-2026-000123",
        "crime",
        "KENT",
        3,
    )
    arguments = json.loads(audit["parameters"])["arguments"]
    assert (arguments["requested_by"], arguments["voi_id"], arguments["days"]) == ("vm.kent", voi_id, 3)

    # A revision asking again hunts the same reads: nothing new is raised or published (R-DUP).
    again = api.call(
        "PUT",
        f"/voi/{voi_id}",
        MANAGER,
        body={
            "category": "stolen",
            "action": "stop",
            "priority": 2,
            "reason": "Reported stolen, PNC 24/123456A",
            "circulation": ["KENT"],
            **HUNT,
        },
    )
    assert again.status == 200, again.body
    assert again.body["retro_hunt"]["hunt_id"] != hunt["hunt_id"]
    stored_reads(
        ("r-kent-1", "KENT", now - timedelta(hours=6)),
        ("r-kent-2", "KENT", now - timedelta(days=2)),
    )
    assert run_queued_hunts(api) == {"batchItemFailures": []}
    latest = api.call("GET", f"/voi/{voi_id}", MANAGER).body["retro_hunt"]
    assert (latest["hunt_id"], latest["reads_found"], latest["alerts_raised"]) == (
        again.body["retro_hunt"]["hunt_id"],
        2,
        0,
    )
    assert len(api.call("GET", "/alerts", OPERATOR_KENT, query={"limit": "10"}).body["alerts"]) == 2
    assert published(api, events_queue) == []

    # R-VOI-DEL: the entry's hunts go with it.
    assert api.call("DELETE", f"/voi/{voi_id}", MANAGER).status == 200
    hunts = api.dynamodb.scan(TableName=f"nas-test-{catalogue.RETRO_HUNTS.logical_name}")["Items"]
    assert hunts == []


def test_the_post_that_asks_for_a_hunt_is_audited_with_its_case(hunting: tuple[ApiAccount, str]) -> None:
    api, _ = hunting
    created = api.call(
        "POST",
        "/voi",
        MANAGER,
        body={
            "vrm": "AB12CDE",
            "category": "stolen",
            "action": "stop",
            "priority": 1,
            "reason": "Reported stolen, PNC 24/123456A",
            "circulation": ["KENT"],
            **HUNT,
        },
    )
    record = api.audit_for(created.request_id)
    assert (record["purpose"], record["case_ref"]) == ("crime", "KENT-2026-000123")
    assert record["parameters"]["uses"]["retro_hunt_id"] == created.body["retro_hunt"]["hunt_id"]
