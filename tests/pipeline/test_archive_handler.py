"""The archive Lambda on real-shaped Kinesis events against moto: packed images, Firehose rows,
quarantine (R-QUARANTINE), partial batch responses."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3

from handlers.archive import lambda_handler
from nas.catalogue import READ_PARTITION_KEYS, READ_ROW_COLUMNS
from nas.domain.layout import vrm_bucket
from nas.pipeline.records import StreamRecord
from nas.pipeline.wiring import build_archive_service
from nas.settings import settings
from tests.pipeline.conftest import (
    CAMERAS,
    QUARANTINE_BUCKET,
    READS_BUCKET,
    PipelineAccount,
    image,
    read_payload,
)
from tests.pipeline.faults import FaultyClients
from tests.pipeline.kinesis_events import SHARD, kinesis_event, sequence_number

KENT, KENT_MOBILE, ESSEX, KENT_INACTIVE = CAMERAS


def run(event: dict[str, Any], context: Any) -> list[str]:
    return [f["itemIdentifier"] for f in lambda_handler(event, context)["batchItemFailures"]]


def test_good_reads_become_rows_with_images_packed_in_one_object(
    account: PipelineAccount, lambda_context: Any
) -> None:
    images = {
        "r-1": (image(3000, 1), image(25000, 2)),
        "r-2": (image(2800, 3), None),
        "r-3": (None, image(24000, 4)),
    }
    event = kinesis_event(
        [read_payload(KENT, read_id=rid, plate=p, overview=o) for rid, (p, o) in images.items()]
        + [read_payload(KENT, read_id="r-4")]
    )
    assert run(event, lambda_context) == []

    packs = account.objects(READS_BUCKET, "images/")
    assert len(packs) == 1  # one PUT for the whole batch, not one per image
    [pack_key] = packs
    assert pack_key.endswith(f"/{SHARD}/{sequence_number(1)}-{sequence_number(4)}.jpgpack")
    rows = {r["read_id"]: r for r in account.firehose_rows()}
    assert set(rows) == {"r-1", "r-2", "r-3", "r-4"}
    for read_id, (plate, overview) in images.items():
        for kind, expected in (("plate", plate), ("overview", overview)):
            row = rows[read_id]
            if expected is None:
                assert row[f"{kind}_image_key"] is None
                continue
            assert row[f"{kind}_image_key"] == pack_key
            start, length = row[f"{kind}_image_offset"], row[f"{kind}_image_length"]
            ranged = account.s3.get_object(
                Bucket=READS_BUCKET, Key=pack_key, Range=f"bytes={start}-{start + length - 1}"
            )["Body"].read()
            assert ranged == expected  # a byte-range GET returns exactly the image
    assert rows["r-4"]["plate_image_key"] is None


def test_rows_match_the_glue_schema_and_name_their_partition(
    account: PipelineAccount, lambda_context: Any
) -> None:
    late = datetime.now(UTC) - timedelta(hours=30)
    run(
        kinesis_event(
            [
                read_payload(
                    KENT, read_id="fixed", vrm="ab12-cde", captured_at=datetime.now(UTC), direction="NE"
                ),
                read_payload(KENT_MOBILE, read_id="mobile", captured_at=late, lane=2, confidence=88),
            ]
        ),
        lambda_context,
    )
    rows = {r["read_id"]: r for r in account.firehose_rows()}
    for row in rows.values():
        assert list(row) == [name for name, _ in READ_ROW_COLUMNS] + [name for name, _ in READ_PARTITION_KEYS]
    fixed, mobile = rows["fixed"], rows["mobile"]
    assert (fixed["vrm"], fixed["lea"], fixed["direction"], fixed["late"]) == ("AB12CDE", "KENT", "NE", False)
    assert (fixed["lat"], fixed["lon"]) == (KENT.lat, KENT.lon)  # fixed cameras: the registered site
    assert (mobile["lat"], mobile["lon"]) == (
        KENT_MOBILE.lat + 0.01,
        KENT_MOBILE.lon - 0.01,
    )  # its own position
    assert (mobile["late"], mobile["lane"], mobile["confidence"]) == (True, 2, 88)
    # Live reads under their capture date; late ones under the day they were stored (domain/layout.py).
    assert (fixed["arrival"], fixed["day"]) == ("live", datetime.now(UTC).strftime("%Y-%m-%d"))
    assert (mobile["arrival"], mobile["day"]) == ("late", datetime.now(UTC).strftime("%Y-%m-%d"))
    assert fixed["vrm_canonical"] == "A812C0E"  # R-VRM look-alikes: B→8, D→0
    assert fixed["vrm_bucket"] == vrm_bucket("A812C0E")
    assert isinstance(fixed["captured_at"], int)  # epoch milliseconds for the Hive JSON SerDe
    assert abs(fixed["captured_at"] / 1000 - datetime.now(UTC).timestamp()) < 120
    assert isinstance(fixed["ingested_at"], int)


def test_a_live_reads_day_is_the_utc_capture_date_not_the_cameras_local_date(
    account: PipelineAccount, lambda_context: Any
) -> None:
    # The last 23:30 UTC (within 24 hours, so a live read), sent as 00:30 British Summer Time (+01:00).
    now = datetime.now(UTC)
    yesterday_late = now.replace(hour=23, minute=30, second=0, microsecond=0)
    if yesterday_late > now:
        yesterday_late -= timedelta(days=1)
    as_bst = yesterday_late.astimezone(timezone(timedelta(hours=1)))
    assert as_bst.date() != yesterday_late.date()
    run(kinesis_event([read_payload(KENT, read_id="bst", captured_at=as_bst)]), lambda_context)
    [row] = account.firehose_rows()
    assert (row["arrival"], row["day"]) == ("live", yesterday_late.strftime("%Y-%m-%d"))


def test_poison_records_are_quarantined_whole_with_reasons_and_good_ones_stored(
    account: PipelineAccount, lambda_context: Any
) -> None:
    garbage = b"\x00\xff\xfe binary garbage"
    future = datetime.now(UTC) + timedelta(minutes=10)
    bad = [
        ("junk", garbage),
        read_payload(KENT, read_id="bad-schema", surprise="field"),
        read_payload(KENT, read_id="future", captured_at=future),
        read_payload(KENT, read_id="unknown-cam", camera_id="NOPE-1"),
        read_payload(KENT, read_id="wrong-lea", lea="ESSEX"),
    ]
    event = kinesis_event(
        [*bad[:3], read_payload(KENT, read_id="good-1"), *bad[3:], read_payload(ESSEX, read_id="good-2")]
    )

    assert run(event, lambda_context) == []  # nothing retried: bad records are kept, not redelivered

    assert sorted(r["read_id"] for r in account.firehose_rows()) == ["good-1", "good-2"]
    [(key, body)] = account.objects(QUARANTINE_BUCKET, "quarantine/").items()  # one object per invocation
    assert key.endswith(".json")
    document = json.loads(body)
    assert document["schema"] == "nas.quarantine.v1"
    records = document["records"]
    assert [base64.b64decode(r["data_base64"]) for r in records] == [data for _, data in bad]  # raw and whole
    assert [r["reason"] for r in records] == [
        "not-json",
        "invalid-fields",
        "clock-fault",
        "unknown-camera",
        "camera-lea-mismatch",
    ]
    assert records[1]["problems"][0]["field"] == "surprise"
    assert records[4]["problems"][0]["field"] == "lea"
    assert {r["partition_key"] for r in records[1:]} == {"KENT-0001"}


def test_a_batch_of_only_good_reads_writes_no_quarantine_object(
    account: PipelineAccount, lambda_context: Any
) -> None:
    run(kinesis_event([read_payload(KENT, read_id="only")]), lambda_context)
    assert account.objects(QUARANTINE_BUCKET, "quarantine/") == {}


def test_rows_firehose_keeps_refusing_fail_their_records_and_no_others(account: PipelineAccount) -> None:
    faults = FaultyClients()
    refused = [0]

    def refuse_the_second_call(**request: Any) -> dict[str, Any]:
        # Firehose answering the second PutRecordBatch of the run with its record failed, every time.
        refused[0] += 1
        faults.fail("put_record_batch", 1, refuse_the_second_call)
        if refused[0] == 1:
            return boto3.client("firehose").put_record_batch(**request)
        return {
            "FailedPutCount": len(request["Records"]),
            "RequestResponses": [{"ErrorCode": "ServiceUnavailableException"}] * len(request["Records"]),
        }

    faults.fail("put_record_batch", 1, refuse_the_second_call)
    archive = build_archive_service(settings(), faults)
    now = datetime.now(UTC)
    first = kinesis_event([read_payload(KENT, read_id=f"r-{i}") for i in (1, 2)])
    second = kinesis_event([read_payload(KENT, read_id=f"r-{i}") for i in (3, 4)], first_sequence=3)

    stored = archive.process([StreamRecord.from_lambda_event(r) for r in first["Records"]], now=now)
    refused_batch = archive.process([StreamRecord.from_lambda_event(r) for r in second["Records"]], now=now)

    assert stored.failed_sequence_numbers == set()
    # The batch's rows went as one Firehose record: when it keeps failing, every row of it is reported.
    assert refused_batch.failed_sequence_numbers == {sequence_number(3), sequence_number(4)}
    assert sorted(r["read_id"] for r in account.firehose_rows()) == ["r-1", "r-2"]
