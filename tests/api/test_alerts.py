"""GET /alerts (R-ALERT, R-CIRC) and POST /alerts/{alert_id}/outcome (R-HIT) against moto."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas import catalogue
from nas.adapters import StoreConflict, StoreError, StoreRejected
from nas.adapters.alerts import DynamoAlertReader, OutcomeConflict
from nas.adapters.corrections import InMemoryCorrectionStore
from nas.adapters.dynamo import from_item
from nas.api import wiring
from nas.api.params import encode_token
from nas.api.routes.alerts import AlertView
from nas.domain.alerts import AlertRecord, OutcomeChange
from nas.domain.timefmt import iso_utc, utc_date
from nas.services.alerts import AlertService
from nas.settings import settings
from tests.api.conftest import (
    ALERTS_TABLE,
    OPERATOR_ESSEX,
    OPERATOR_KENT,
    OPERATOR_NATIONAL,
    ApiAccount,
    claims,
)


def ids(reply_body: dict[str, Any]) -> list[str]:
    return [a["read_id"] for a in reply_body["alerts"]]


def outcome(
    api: ApiAccount, alert_id: str, who: dict[str, str], raw_body: str | None = None, **body: Any
) -> Any:
    return api.call(
        "POST",
        f"/alerts/{alert_id}/outcome",
        who,
        body=body if raw_body is None else raw_body,
        path_parameters={"alert_id": alert_id},
        resource="/alerts/{alert_id}/outcome",
    )


@pytest.fixture
def three_forces(api: ApiAccount) -> ApiAccount:
    now = datetime.now(UTC)
    api.put_alert(read_id="kent-read", lea="KENT", owner_lea="ESSEX", raised_at=now - timedelta(minutes=3))
    api.put_alert(
        read_id="essex-owned-by-kent", lea="ESSEX", owner_lea="KENT", raised_at=now - timedelta(minutes=2)
    )
    api.put_alert(read_id="essex-only", lea="ESSEX", owner_lea="ESSEX", raised_at=now - timedelta(minutes=1))
    api.put_alert(read_id="kent-own", lea="KENT", owner_lea="KENT", raised_at=now - timedelta(minutes=4))
    return api


def test_operator_sees_own_lea_reads_and_owned_entries_newest_first(three_forces: ApiAccount) -> None:
    reply = three_forces.call("GET", "/alerts", OPERATOR_KENT)
    assert reply.status == 200
    assert ids(reply.body) == ["essex-owned-by-kent", "kent-read", "kent-own"]
    assert reply.body["next_page_token"] is None
    assert all(set(a) == set(AlertView.model_fields) for a in reply.body["alerts"])


def test_other_force_does_not_see_kent_only_alerts(three_forces: ApiAccount) -> None:
    reply = three_forces.call("GET", "/alerts", OPERATOR_ESSEX)
    assert ids(reply.body) == ["essex-only", "essex-owned-by-kent", "kent-read"]


def test_national_operator_sees_all(three_forces: ApiAccount) -> None:
    reply = three_forces.call("GET", "/alerts", OPERATOR_NATIONAL)
    assert ids(reply.body) == ["essex-only", "essex-owned-by-kent", "kent-read", "kent-own"]


def test_since_excludes_older_alerts(three_forces: ApiAccount) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=150)).isoformat()
    reply = three_forces.call("GET", "/alerts", OPERATOR_NATIONAL, query={"since": since})
    assert ids(reply.body) == ["essex-only", "essex-owned-by-kent"]


def test_sensitive_alert_only_for_circulated_leas_and_owner(api: ApiAccount) -> None:
    api.put_alert(read_id="secret", lea="KENT", owner_lea="ESSEX", circulation=("KENT",), sensitive=True)
    # Not producible by the pipeline (the read's LEA is always circulated), but the rule still holds.
    api.put_alert(read_id="odd", lea="SURREY", owner_lea="ESSEX", circulation=("ESSEX",), sensitive=True)
    assert ids(api.call("GET", "/alerts", OPERATOR_KENT).body) == ["secret"]
    assert sorted(ids(api.call("GET", "/alerts", OPERATOR_ESSEX).body)) == ["odd", "secret"]
    assert ids(api.call("GET", "/alerts", OPERATOR_NATIONAL).body) == []
    assert ids(api.call("GET", "/alerts", claims("op.surrey", "operator", "SURREY")).body) == []


def test_pagination_over_more_than_100_alerts(api: ApiAccount) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    for n in range(130):
        # pairs share a raised_at, so the cursor must break ties by alert_id
        api.put_alert(read_id=f"r-{n:03d}", raised_at=start + timedelta(seconds=n // 2))
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"limit": "100"} | ({"page_token": token} if token else {})
        reply = api.call("GET", "/alerts", OPERATOR_KENT, query=query)
        assert reply.status == 200
        assert len(reply.body["alerts"]) <= 100
        seen += ids(reply.body)
        pages += 1
        token = reply.body["next_page_token"]
        if token is None:
            break
    assert pages == 2
    assert len(seen) == 130 == len(set(seen))
    raised = [int(r[2:]) // 2 for r in seen]
    assert raised == sorted(raised, reverse=True)


def test_national_pagination_across_days(api: ApiAccount) -> None:
    now = datetime.now(UTC)
    for n in range(5):
        api.put_alert(
            read_id=f"d-{n}", lea="ESSEX", owner_lea="ESSEX", raised_at=now - timedelta(days=n, minutes=1)
        )
    since = (now - timedelta(days=6)).isoformat()
    first = api.call("GET", "/alerts", OPERATOR_NATIONAL, query={"since": since, "limit": "3"})
    assert ids(first.body) == ["d-0", "d-1", "d-2"]
    second = api.call(
        "GET",
        "/alerts",
        OPERATOR_NATIONAL,
        query={"since": since, "limit": "3", "page_token": first.body["next_page_token"]},
    )
    assert ids(second.body) == ["d-3", "d-4"]
    assert second.body["next_page_token"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"since": "2020-01-01T00:00:00Z"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"page_token": "not-a-token!"}, "page_token"),
        ({"page_token": encode_token({"raised_at": "x", "alert_id": "y"})}, "page_token"),
        ({"page_token": encode_token({"user": "someone"})}, "page_token"),
        ({"since": "9999-12-31T23:59:59-05:00"}, "since"),
        ({"since": "0001-01-01T00:00:00+05:00"}, "since"),
        ({"since": "2999-01-01T00:00:00Z"}, "since"),
        (
            {"page_token": encode_token({"raised_at": "9999-12-31T23:59:59-05:00", "alert_id": "a"})},
            "page_token",
        ),
        ({"page_token": encode_token({"raised_at": "20260101T000000Z", "alert_id": "a"})}, "page_token"),
        (
            {"page_token": encode_token({"raised_at": "2026-01-01T00:00:00.000000Z", "alert_id": 10**40})},
            "page_token",
        ),
    ],
)
def test_bad_query_is_400_naming_the_field(api: ApiAccount, query: dict[str, str], field: str) -> None:
    reply = api.call("GET", "/alerts", OPERATOR_KENT, query=query)
    assert reply.status == 400
    assert reply.body["error"]["fields"] == [field]
    assert field in reply.body["error"]["message"]


def test_outcome_recorded_changed_and_repeated(api: ApiAccount) -> None:
    alert = api.put_alert(read_id="hit-1")
    first = outcome(api, alert.alert_id, OPERATOR_KENT, outcome="misread", note="plate dirty")
    assert first.status == 200
    assert (first.body["outcome"], first.body["note"], first.body["outcome_history"]) == (
        "misread",
        "plate dirty",
        [],
    )

    changed = outcome(api, alert.alert_id, OPERATOR_KENT, outcome="confirmed", note="stopped, vehicle stolen")
    assert changed.status == 200
    assert changed.body["outcome"] == "confirmed"
    [earlier] = changed.body["outcome_history"]
    assert (earlier["outcome"], earlier["note"], earlier["recorded_by"]) == (
        "misread",
        "plate dirty",
        "op.kent",
    )

    again = outcome(api, alert.alert_id, OPERATOR_KENT, outcome="confirmed", note="stopped, vehicle stolen")
    assert again.status == 200
    assert len(again.body["outcome_history"]) == 1

    listed = api.call("GET", "/alerts", OPERATOR_KENT)
    assert listed.body["alerts"][0]["outcome"] == "confirmed"


def test_stale_page_token_before_since_is_an_empty_page(three_forces: ApiAccount) -> None:
    now = datetime.now(UTC)
    token = encode_token({"raised_at": iso_utc(now - timedelta(hours=2)), "alert_id": "a"})
    since = (now - timedelta(hours=1)).isoformat()
    for who in (OPERATOR_KENT, OPERATOR_NATIONAL):
        reply = three_forces.call("GET", "/alerts", who, query={"since": since, "page_token": token})
        assert (reply.status, reply.body) == (200, {"alerts": [], "next_page_token": None})


class ConflictingOnce:
    """The alerts adapter, but the first outcome write finds that someone else got there first."""

    def __init__(self, reader: DynamoAlertReader) -> None:
        self._reader = reader
        self.writes = 0

    def get(self, alert_id: str) -> AlertRecord | None:
        return self._reader.get(alert_id)

    def newest(self, *args: Any) -> Any:
        return self._reader.newest(*args)

    def replace_outcome(self, change: OutcomeChange) -> None:
        self.writes += 1
        if self.writes == 1:
            raise OutcomeConflict("someone else changed it")
        self._reader.replace_outcome(change)


def test_concurrent_change_is_retried_without_losing_history(api: ApiAccount) -> None:
    alert = api.put_alert(read_id="hit-2")
    assert outcome(api, alert.alert_id, OPERATOR_KENT, outcome="misread", note="first").status == 200
    conflicting = ConflictingOnce(DynamoAlertReader(api.dynamodb, ALERTS_TABLE))
    built = wiring.build_services(settings())
    wiring.install(
        replace(
            built,
            alerts=AlertService(conflicting, corrections=InMemoryCorrectionStore(), clock=wiring.utc_now),
        )
    )
    reply = outcome(api, alert.alert_id, OPERATOR_KENT, outcome="confirmed", note="second")
    assert reply.status == 200
    assert conflicting.writes == 2
    assert reply.body["outcome"] == "confirmed"
    assert [(h["outcome"], h["note"]) for h in reply.body["outcome_history"]] == [("misread", "first")]
    stored = DynamoAlertReader(api.dynamodb, ALERTS_TABLE).get(alert.alert_id)
    assert stored is not None
    assert stored.alert.outcome == "confirmed"
    assert [h.outcome for h in stored.outcome_history] == ["misread"]


@pytest.mark.parametrize("body", ["[" * 5000, "{not json", '{"outcome": ' + "[" * 5000 + "]" * 5000 + "}"])
def test_unparsable_or_deeply_nested_body_is_400_and_audited(api: ApiAccount, body: str) -> None:
    alert = api.put_alert(read_id="hit-5")
    reply = outcome(api, alert.alert_id, OPERATOR_KENT, raw_body=body)
    assert reply.status == 400
    assert (reply.body["error"]["code"], reply.body["error"]["fields"]) == ("invalid-request", ["body"])
    record = api.audit_for(reply.request_id)
    assert record["status"] == 400
    assert record["parameters"]["refused"] is True
    assert record["parameters"]["body"] == body[:2048]
    assert record["parameters"].get("cut", {}).get("body_chars", 0) == max(0, len(body) - 2048)


def test_outcome_for_invisible_or_unknown_alert_is_404(api: ApiAccount) -> None:
    alert = api.put_alert(read_id="kent-only", lea="KENT", owner_lea="KENT")
    assert outcome(api, alert.alert_id, OPERATOR_ESSEX, outcome="confirmed").status == 404
    assert outcome(api, "no-such-alert", OPERATOR_KENT, outcome="confirmed").status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "arrested"}, "outcome"),
        ({}, "outcome"),
        ({"outcome": "confirmed", "note": "x" * 1001}, "note"),
        ({"outcome": "confirmed", "extra": 1}, "extra"),
    ],
)
def test_bad_outcome_body_is_400_naming_the_field(api: ApiAccount, body: dict[str, Any], field: str) -> None:
    alert = api.put_alert(read_id="hit-3")
    reply = outcome(api, alert.alert_id, OPERATOR_KENT, **body)
    assert reply.status == 400
    assert field in reply.body["error"]["fields"]


def test_outcome_needs_operator(api: ApiAccount) -> None:
    alert = api.put_alert(read_id="hit-4")
    reply = outcome(api, alert.alert_id, claims("aud", "auditor", "KENT"), outcome="confirmed")
    assert (reply.status, reply.body["error"]["code"]) == (403, "role-not-permitted")


def test_outcome_history_keeps_the_last_20_and_counts_the_rest(api: ApiAccount) -> None:
    alert = api.put_alert(read_id="busy")
    long_note = "n" * 1000
    for n in range(26):
        note = f"{n:02d}{long_note[2:]}"
        reply = outcome(api, alert.alert_id, OPERATOR_KENT, outcome="no-trace", note=note)
        assert reply.status == 200
    assert len(reply.body["outcome_history"]) == 20
    assert reply.body["outcome_history_omitted"] == 5
    assert reply.body["outcome_history"][0]["note"].startswith("05")
    assert reply.body["outcome_history"][-1]["note"].startswith("24")
    stored = api.dynamodb.get_item(TableName=ALERTS_TABLE, Key={"alert_id": {"S": alert.alert_id}})["Item"]
    assert len(str(stored)) < 40_000  # far from DynamoDB's 400 KB item limit, however often it changes


class FailingReader:
    """An alerts adapter whose store fails as a throttled or refusing DynamoDB would."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def get(self, alert_id: str) -> AlertRecord | None:
        raise self._error

    def newest(self, *args: Any) -> Any:
        raise self._error

    def replace_outcome(self, change: OutcomeChange) -> None:
        raise self._error


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (StoreError("alerts Query: ProvisionedThroughputExceededException"), 503, "store-unavailable"),
        (StoreRejected("alerts UpdateItem: ValidationException"), 409, "store-rejected"),
        (StoreConflict("kept changing"), 409, "conflict"),
    ],
)
def test_store_failures_are_503_or_409_never_500(
    api: ApiAccount, error: Exception, status: int, code: str
) -> None:
    alert = api.put_alert(read_id="store-fault")
    built = wiring.build_services(settings())
    wiring.install(
        replace(
            built,
            alerts=AlertService(
                FailingReader(error), corrections=InMemoryCorrectionStore(), clock=wiring.utc_now
            ),
        )
    )
    listed = api.call("GET", "/alerts", OPERATOR_KENT)
    changed = outcome(api, alert.alert_id, OPERATOR_KENT, outcome="confirmed")
    for reply in (listed, changed):
        assert (reply.status, reply.body["error"]["code"]) == (status, code)
        assert api.audit_for(reply.request_id)["status"] == status


def test_throttled_dynamodb_is_503_store_unavailable(api: ApiAccount) -> None:
    from botocore.exceptions import ClientError

    class Throttled:
        def __getattr__(self, name: str) -> Any:
            def fail(**_: Any) -> Any:
                error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
                raise ClientError({"Error": error}, name)

            return fail

    reader = DynamoAlertReader(Throttled(), ALERTS_TABLE)  # type: ignore[arg-type]
    built = wiring.build_services(settings())
    wiring.install(
        replace(
            built, alerts=AlertService(reader, corrections=InMemoryCorrectionStore(), clock=wiring.utc_now)
        )
    )
    reply = api.call("GET", "/alerts", OPERATOR_KENT)
    assert (reply.status, reply.body["error"]["code"]) == (503, "store-unavailable")
    reply = outcome(api, "any-alert", OPERATOR_KENT, outcome="confirmed")
    assert (reply.status, reply.body["error"]["code"]) == (503, "store-unavailable")


class CountingReader:
    """The alerts adapter, recording which index partitions a listing reads."""

    def __init__(self, reader: DynamoAlertReader) -> None:
        self._reader = reader
        self.keys: list[tuple[str, str]] = []

    def get(self, alert_id: str) -> AlertRecord | None:
        return self._reader.get(alert_id)

    def newest(self, index: Any, key: str, since: str, until: str) -> Any:
        self.keys.append((index.value, key))
        return self._reader.newest(index, key, since, until)

    def replace_outcome(self, change: OutcomeChange) -> None:
        self._reader.replace_outcome(change)


def test_a_days_alerts_are_spread_over_its_shards_and_listed_together(api: ApiAccount) -> None:
    start = datetime.now(UTC) - timedelta(minutes=30)
    for n in range(48):
        api.put_alert(
            read_id=f"s-{n:02d}", lea="ESSEX", owner_lea="ESSEX", raised_at=start + timedelta(seconds=n)
        )
    items = [from_item(i) for i in api.dynamodb.scan(TableName=ALERTS_TABLE)["Items"]]
    shards = {i["raised_day_shard"] for i in items}
    assert len(shards) >= 8  # no one key takes the day's alerts
    assert all(key.startswith(f"{utc_date(start)}#") for key in shards)

    seen: list[str] = []
    token: str | None = None
    while True:
        query = {"limit": "20", "since": (start - timedelta(minutes=1)).isoformat()}
        reply = api.call(
            "GET", "/alerts", OPERATOR_NATIONAL, query=query | ({"page_token": token} if token else {})
        )
        seen += ids(reply.body)
        token = reply.body["next_page_token"]
        if token is None:
            break
    assert seen == [f"s-{n:02d}" for n in reversed(range(48))]  # newest first across every shard


def test_a_national_listing_reads_each_days_shards_and_no_more_than_33_days(api: ApiAccount) -> None:
    counting = CountingReader(DynamoAlertReader(api.dynamodb, ALERTS_TABLE))
    built = wiring.build_services(settings())
    wiring.install(
        replace(
            built, alerts=AlertService(counting, corrections=InMemoryCorrectionStore(), clock=wiring.utc_now)
        )
    )
    since = (datetime.now(UTC) - timedelta(days=31) + timedelta(minutes=1)).isoformat()
    assert api.call("GET", "/alerts", OPERATOR_NATIONAL, query={"since": since}).status == 200
    days = {key.split("#")[0] for index, key in counting.keys}
    assert {index for index, _ in counting.keys} == {"by-raised-day-shard"}
    assert 31 <= len(days) <= 33
    assert len(counting.keys) == len(days) * catalogue.ALERT_SHARDS
