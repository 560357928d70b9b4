"""The match Lambda on real-shaped Kinesis events against moto: R-ALERT, R-VOI-56, R-CIRC, R-WHITE,
R-LATE, R-DUP, R-CAMERA, and partial batch responses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from handlers.match import lambda_handler
from nas import catalogue
from nas.domain.models import alert_id_for
from nas.domain.voi_lists import ListSource
from nas.pipeline.records import StreamRecord
from nas.pipeline.wiring import build_match_service
from nas.settings import settings
from tests.pipeline.conftest import CAMERAS, NAMES, PipelineAccount, read_payload, voi_entry
from tests.pipeline.faults import FaultyClients
from tests.pipeline.kinesis_events import kinesis_event
from tests.voi_support import Row, list_file

KENT, KENT_MOBILE, ESSEX, KENT_INACTIVE = CAMERAS


def run(event: dict[str, Any], context: Any) -> list[str]:
    response = lambda_handler(event, context)
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_a_hit_raises_one_alert_stored_and_published(account: PipelineAccount, lambda_context: Any) -> None:
    account.put_voi(voi_entry("AB12CDE", voi_id="voi-stolen"))
    failures = run(kinesis_event([read_payload(KENT, read_id="r-1", vrm="ab12 cde")]), lambda_context)

    assert failures == []
    [alert] = account.alerts()
    assert alert["alert_id"] == alert_id_for("KENT-0001", "r-1", "voi-stolen")
    assert (alert["vrm"], alert["lea"], alert["voi_id"], alert["published"]) == (
        "AB12CDE",
        "KENT",
        "voi-stolen",
        True,
    )
    [event] = account.events()
    assert event["source"] == "nas.match"
    assert event["detail-type"] == "nas.alert.v1"
    detail = event["detail"]
    assert detail["alert_id"] == alert["alert_id"]
    assert detail["camera_id"] == "KENT-0001"
    assert detail["category"] == "stolen"
    assert detail["action"] == "stop"
    assert detail["circulation"] == ["NATIONAL"]
    assert not {"plate_image", "overview_image"} & set(detail)  # images are never inline


def test_a_miss_raises_nothing(account: PipelineAccount, lambda_context: Any) -> None:
    account.put_voi(voi_entry("AB12CDE"))
    assert run(kinesis_event([read_payload(KENT, vrm="XY99ZZZ")]), lambda_context) == []
    assert account.alerts() == []
    assert account.events() == []


def test_an_expired_entry_never_matches_though_ttl_has_not_deleted_it(
    account: PipelineAccount, lambda_context: Any
) -> None:
    revised = datetime.now(UTC) - timedelta(days=56, minutes=1)
    account.put_voi(voi_entry("AB12CDE", revised=revised))  # still stored: TTL deletes lazily
    run(kinesis_event([read_payload(KENT, vrm="AB12CDE")]), lambda_context)
    assert account.alerts() == []


def test_an_entry_one_minute_from_expiry_still_matches(account: PipelineAccount, lambda_context: Any) -> None:
    account.put_voi(
        voi_entry("AB12CDE", revised=datetime.now(UTC) - timedelta(days=56) + timedelta(minutes=1))
    )
    run(kinesis_event([read_payload(KENT, vrm="AB12CDE")]), lambda_context)
    assert len(account.alerts()) == 1


def test_circulation_limits_alerts_to_the_circulated_leas(
    account: PipelineAccount, lambda_context: Any
) -> None:
    account.put_voi(voi_entry("AB12CDE", voi_id="essex-only", circulation=("ESSEX",), owner_lea="ESSEX"))
    run(
        kinesis_event(
            [
                read_payload(KENT, read_id="k-1", vrm="AB12CDE"),
                read_payload(ESSEX, read_id="e-1", vrm="AB12CDE"),
            ]
        ),
        lambda_context,
    )
    assert [(a["lea"], a["read_id"]) for a in account.alerts()] == [("ESSEX", "e-1")]


def test_white_list_suppresses_bulk_hits_but_not_pnc_hits(
    account: PipelineAccount, lambda_context: Any
) -> None:
    account.lists.rows(ListSource.DVLA, [Row("WL11AAA"), Row("NW33CCC")])
    account.lists.rows(ListSource.MIB, [Row("WL22BBB", category="no-insurance")])
    account.put_voi(voi_entry("WL22BBB", voi_id="pnc-stolen", source="pnc"))
    account.lists.load(ListSource.WHITELIST, list_file(["WL11AAA", "WL22BBB"], header="vrm"))

    run(
        kinesis_event(
            [
                read_payload(KENT, read_id="r-1", vrm="WL11AAA"),
                read_payload(KENT, read_id="r-2", vrm="WL22BBB"),
                read_payload(KENT, read_id="r-3", vrm="NW33CCC"),
            ]
        ),
        lambda_context,
    )
    assert sorted(a["voi_id"] for a in account.alerts()) == ["dvla:NW33CCC", "pnc-stolen"]


def test_a_read_older_than_24_hours_raises_no_live_alert(
    account: PipelineAccount, lambda_context: Any
) -> None:
    account.put_voi(voi_entry("AB12CDE"))
    old = datetime.now(UTC) - timedelta(hours=24, minutes=1)
    assert run(kinesis_event([read_payload(KENT, vrm="AB12CDE", captured_at=old)]), lambda_context) == []
    assert account.alerts() == []


def test_duplicate_read_and_retried_batch_give_one_alert_and_one_event(
    account: PipelineAccount, lambda_context: Any
) -> None:
    account.put_voi(voi_entry("AB12CDE"))
    payload = read_payload(KENT, read_id="dup-1", vrm="AB12CDE")
    event = kinesis_event([payload, payload])  # delivered twice in one batch

    run(event, lambda_context)
    run(event, lambda_context)  # the whole batch retried
    run(kinesis_event([payload], first_sequence=50), lambda_context)  # the camera re-sent it later

    assert len(account.alerts()) == 1
    assert len(account.events()) == 1


def test_invalid_records_are_skipped_not_retried_and_good_ones_still_alert(
    account: PipelineAccount, lambda_context: Any
) -> None:
    account.put_voi(voi_entry("AB12CDE"))
    future = datetime.now(UTC) + timedelta(minutes=10)
    event = kinesis_event(
        [
            ("junk", b"\x00\xff\xfe binary garbage"),
            read_payload(KENT, read_id="bad-schema", schema="nas.read.v2"),
            read_payload(KENT, read_id="future", vrm="AB12CDE", captured_at=future),
            read_payload(KENT, read_id="unknown-cam", vrm="AB12CDE", camera_id="NOPE-1"),
            read_payload(KENT, read_id="wrong-lea", vrm="AB12CDE", lea="ESSEX"),
            read_payload(KENT_INACTIVE, read_id="inactive", vrm="AB12CDE"),
            read_payload(KENT, read_id="good", vrm="AB12CDE"),
        ]
    )
    assert run(event, lambda_context) == []  # invalid records are not retried: archive quarantines them
    assert [a["read_id"] for a in account.alerts()] == ["good"]


def test_mobile_reads_match_like_any_other(account: PipelineAccount, lambda_context: Any) -> None:
    account.put_voi(voi_entry("MB07ILE"))
    run(kinesis_event([read_payload(KENT_MOBILE, vrm="MB07ILE")]), lambda_context)
    assert [a["camera_id"] for a in account.alerts()] == ["KENT-MOB-01"]


def test_throttled_batch_get_still_matches_every_read(account: PipelineAccount) -> None:
    vrms = [f"TH{i:02d}ROT" for i in range(30)]
    for i, vrm in enumerate(vrms):
        account.put_voi(voi_entry(vrm, voi_id=f"voi-{i}"))
    faults = FaultyClients()
    real = boto3.client("dynamodb")
    calls: list[int] = []

    def half_unprocessed(**request: Any) -> dict[str, Any]:
        # Like DynamoDB under throttling: answer the first half, hand back the rest as unprocessed.
        [(table, spec)] = request["RequestItems"].items()
        keys = spec["Keys"]
        if table != NAMES[catalogue.VOI] or not any(k["record"]["S"] == "MATCH" for k in keys):
            # Cameras, and the match path's state and directory reads, are answered in full.
            faults.fail("batch_get_item", 1, half_unprocessed)
            return real.batch_get_item(**request)
        calls.append(len(keys))
        answered = real.batch_get_item(RequestItems={table: {**spec, "Keys": keys[: len(keys) // 2]}})
        answered["UnprocessedKeys"] = {table: {**spec, "Keys": keys[len(keys) // 2 :]}}
        return answered

    faults.fail("batch_get_item", 1, half_unprocessed)
    service = build_match_service(settings(), faults)
    event = kinesis_event([read_payload(KENT, read_id=f"r-{i}", vrm=vrm) for i, vrm in enumerate(vrms)])
    now = datetime.now(UTC)

    result = service.process([StreamRecord.from_lambda_event(r) for r in event["Records"]], now=now)
    assert result.failed_sequence_numbers == set()
    assert len(account.alerts()) == 30
    assert calls == [30]  # one call for all distinct VRMs; the unprocessed half retried once
    # cameras, the match path's VOI state and directory, VOI (half answered), VOI (the rest)
    assert faults.calls["batch_get_item"] == 4
