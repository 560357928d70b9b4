"""`nas simulate`: the records it makes are what the pipeline expects (good ones accepted, bad ones
quarantined for the intended reason), PutRecords stays within the service limits and retries what
Kinesis refuses, and the paced run sends the requested number of records."""

from __future__ import annotations

import io
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nas.adapters.dynamo import to_item
from nas.catalogue import CAMERAS as CAMERAS_SPEC
from nas.catalogue import VOI as VOI_SPEC
from nas.cli import simulate
from nas.cli.main import build_parser, main
from nas.domain import reads
from nas.domain.errors import ReadRejected
from nas.domain.models import Camera, CameraSource, Read
from nas.domain.policy import Timeliness
from nas.domain.reads import AcceptedRead, check_camera, parse_read
from nas.simulator import (
    BadKind,
    KinesisRecord,
    KinesisSender,
    NoActiveCameras,
    ReadGenerator,
    ReadMix,
    SendResult,
    age_identifiers,
    jpeg_image,
    run_paced,
)

REGION = "eu-west-2"
MiB = 1024 * 1024
LONG_ID = "HAMPSHIRE-ROADS-POLICING-UNIT-MOBILE-ANPR-VEHICLE-0000000001"  # 60 chars: read_id must still fit

CAMERAS = (
    Camera(camera_id="KENT-0001", lea="KENT", lat=51.27, lon=1.08, source=CameraSource.STATIC, active=True),
    Camera(camera_id="KENT-MOB-01", lea="KENT", lat=51.3, lon=0.5, source=CameraSource.MOBILE, active=True),
    Camera(
        camera_id="ESSEX-0001", lea="ESSEX", lat=51.73, lon=0.47, source=CameraSource.MULTI_LANE, active=True
    ),
    Camera(camera_id="MPS-CCTV-7", lea="MPS", lat=51.5, lon=-0.12, source=CameraSource.CCTV, active=True),
    Camera(camera_id="NCA-C-1", lea="NCA", lat=53.4, lon=-2.2, source=CameraSource.COVERT, active=True),
    Camera(camera_id="BTP-MV-2", lea="BTP", lat=52.5, lon=-1.9, source=CameraSource.MOVEABLE, active=True),
    Camera(camera_id=LONG_ID, lea="HANTS", lat=50.9, lon=-1.4, source=CameraSource.MOBILE, active=True),
    Camera(camera_id="KENT-OLD-9", lea="KENT", lat=51.1, lon=1.3, source=CameraSource.STATIC, active=False),
)
BY_ID = {c.camera_id: c for c in CAMERAS}
HIT_VRMS = ("AB12CDE", "KX19ZZA", "F123ABC", "YB07HRT", "LM62OPU", "SN17BVX", "GX71KLM", "W765TPR")

# UK formats as DVLA issues them (normalised): current, prefix, suffix. I and Q are never used.
CURRENT = re.compile(r"[A-HJ-PR-Z]{2}(?P<age>\d{2})[A-HJ-PR-Z]{3}")
PREFIX = re.compile(r"[A-HJ-PR-Z][1-9]\d{0,2}[A-HJ-PR-Z]{3}")
SUFFIX = re.compile(r"[A-HJ-PR-Z]{3}[1-9]\d{0,2}[A-HJ-PR-Z]")


def generator(
    now: datetime, *, seed: int = 1, cameras: Iterable[Camera] = CAMERAS, images: bool = True, **mix: float
) -> ReadGenerator:
    return ReadGenerator(
        cameras, HIT_VRMS, random.Random(seed), lambda: now, mix=ReadMix(**mix), images=images
    )


def accept(record: KinesisRecord, now: datetime) -> AcceptedRead:
    """What the pipeline does with a record: parse it, then check it against the camera registry."""
    accepted = parse_read(record.data, now=now)
    check_camera(accepted.read, BY_ID.get(record.partition_key))
    return accepted


def reason_rejected(record: KinesisRecord, now: datetime) -> str | None:
    try:
        accept(record, now)
    except ReadRejected as exc:
        return exc.reason
    return None


# --- generator ------------------------------------------------------------------------------------


def test_good_reads_are_accepted_by_the_pipeline_for_the_camera_they_came_from(now: datetime) -> None:
    gen = generator(now, seed=11, hit_rate=0.2, late_rate=0.2)
    records = [gen.next_record() for _ in range(3000)]

    read_ids: set[tuple[str, str]] = set()
    plate_sizes: list[int] = []
    overview_sizes: list[int] = []
    for record in records:
        accepted = accept(record, now)  # raises if the pipeline would quarantine it
        read = accepted.read
        camera = BY_ID[record.partition_key]
        assert read.camera_id == camera.camera_id
        assert camera.active
        assert read.lea == camera.lea
        assert read.source is camera.source
        if camera.source is CameraSource.MOBILE:
            assert read.location is not None
            assert abs(read.location.lat - camera.lat) < 0.1
            assert abs(read.location.lon - camera.lon) < 0.1
        else:
            assert read.location is None
        raw = json.loads(record.data)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", raw["captured_at"])
        if accepted.timeliness is Timeliness.LIVE:
            assert read.captured_at == now
        else:
            assert accepted.timeliness is Timeliness.LATE
            assert timedelta(hours=25) <= now - read.captured_at <= timedelta(hours=48)
        for image, sizes in ((read.plate_image, plate_sizes), (read.overview_image, overview_sizes)):
            if image is not None:
                assert image.startswith(b"\xff\xd8\xff")
                assert image.endswith(b"\xff\xd9")
                sizes.append(len(image))
        read_ids.add((read.camera_id, read.read_id))

    assert len(read_ids) == len(records)  # R-DUP: a new read never reuses a read_id
    assert {r.partition_key for r in records} == {c.camera_id for c in CAMERAS if c.active}
    # NASPLE sizes: plate patches about 3 KB, overviews about 25 KB.
    assert plate_sizes
    assert overview_sizes
    assert all(2_000 <= size <= 4_000 for size in plate_sizes)
    assert all(18_000 <= size <= 32_000 for size in overview_sizes)


def test_optional_fields_are_sometimes_present_and_sometimes_not(now: datetime) -> None:
    gen = generator(now, seed=5, images=False)
    fields = [json.loads(gen.next_record().data) for _ in range(500)]

    for name in ("direction", "lane", "confidence"):
        present = sum(name in f for f in fields)
        assert 0 < present < len(fields), name


def test_vrms_follow_uk_formats_with_age_identifiers_issued_by_the_capture_date(now: datetime) -> None:
    gen = generator(now, seed=3, images=False)
    vrms = [parse_read(gen.next_record().data, now=now).read.vrm for _ in range(3000)]

    # By 30 May 2024: September 2001 (51), each March 2002-2024 (02-24), each September 2002-2023 (52-73).
    issued = (
        {"51"}
        | {f"{y % 100:02d}" for y in range(2002, 2025)}
        | {f"{y % 100 + 50}" for y in range(2002, 2024)}
    )
    current = [CURRENT.fullmatch(v) for v in vrms]
    assert all(m is None or m["age"] in issued for m in current)
    assert all(m or PREFIX.fullmatch(v) or SUFFIX.fullmatch(v) for m, v in zip(current, vrms, strict=True))
    assert sum(m is not None for m in current) > len(vrms) * 0.7  # mostly current format
    assert any(PREFIX.fullmatch(v) for v in vrms)
    assert any(SUFFIX.fullmatch(v) for v in vrms)


@pytest.mark.parametrize(
    ("today", "newest", "not_yet"),
    [
        (date(2024, 5, 30), "24", "74"),
        (date(2024, 9, 1), "74", "25"),
        (date(2025, 2, 28), "74", "25"),
        (date(2025, 3, 1), "25", "75"),
    ],
)
def test_age_identifiers_change_in_march_and_september(today: date, newest: str, not_yet: str) -> None:
    issued = age_identifiers(today)

    assert "51" in issued
    assert "02" in issued
    assert newest in issued
    assert not_yet not in issued


@pytest.mark.parametrize(
    ("kind", "reason", "field"),
    [
        (BadKind.GARBAGE, reads.NOT_JSON, None),
        (BadKind.MISSING_FIELD, reads.INVALID_FIELDS, None),
        (BadKind.UNKNOWN_FIELD, reads.INVALID_FIELDS, None),
        (BadKind.FUTURE_TIME, reads.CLOCK_FAULT, "captured_at"),
        (BadKind.UNKNOWN_CAMERA, reads.UNKNOWN_CAMERA, "camera_id"),
        (BadKind.WRONG_LEA, reads.CAMERA_LEA_MISMATCH, "lea"),
    ],
)
def test_each_bad_kind_is_quarantined_for_its_reason(
    now: datetime, kind: BadKind, reason: str, field: str | None
) -> None:
    gen = generator(now, seed=7)

    for _ in range(100):
        record = gen.bad_record(kind)
        with pytest.raises(ReadRejected) as rejected:
            accept(record, now)
        assert rejected.value.reason == reason
        if field is not None:
            assert rejected.value.fields == (field,)


def test_missing_and_unknown_fields_name_the_field(now: datetime) -> None:
    gen = generator(now, seed=8)
    read_fields = {f.alias or name for name, f in Read.model_fields.items()}

    missing = set()
    for _ in range(200):
        with pytest.raises(ReadRejected) as rejected:
            accept(gen.bad_record(BadKind.MISSING_FIELD), now)
        missing.update(rejected.value.fields)
        with pytest.raises(ReadRejected) as rejected:
            accept(gen.bad_record(BadKind.UNKNOWN_FIELD), now)
        assert not set(rejected.value.fields) & read_fields

    assert missing <= {"schema", "read_id", "vrm", "captured_at", "camera_id", "lea", "source"}
    assert len(missing) > 3  # not always the same field


def test_hit_bad_late_and_duplicate_rates_are_within_tolerance(now: datetime) -> None:
    gen = generator(
        now, seed=2024, images=False, hit_rate=0.1, bad_rate=0.05, late_rate=0.1, duplicate_rate=0.05
    )
    records = [gen.next_record() for _ in range(10_000)]

    seen: set[KinesisRecord] = set()
    duplicates = bad = good = hits = late = 0
    for record in records:
        if record in seen:
            duplicates += 1
            continue
        seen.add(record)
        try:
            accepted = accept(record, now)
        except ReadRejected:
            bad += 1
            continue
        good += 1
        hits += accepted.read.vrm in HIT_VRMS
        late += accepted.timeliness is Timeliness.LATE

    assert duplicates / len(records) == pytest.approx(0.05, abs=0.01)
    assert bad / len(records) == pytest.approx(0.05, abs=0.01)
    assert hits / good == pytest.approx(0.1, abs=0.015)
    assert late / good == pytest.approx(0.1, abs=0.015)
    # What the command reports is what was really sent.
    tally = gen.tally
    assert (tally.duplicates, tally.bad, tally.reads, tally.hits, tally.late) == (
        duplicates,
        bad,
        good,
        hits,
        late,
    )


def test_duplicates_are_byte_identical_to_an_earlier_read(now: datetime) -> None:
    gen = generator(now, seed=9, images=False, duplicate_rate=0.3, late_rate=0.2)
    first_sent: dict[tuple[str, str], KinesisRecord] = {}
    repeats = 0

    for _ in range(2000):
        record = gen.next_record()
        read = accept(record, now).read
        key = (read.camera_id, read.read_id)
        if key in first_sent:
            repeats += 1
            assert record == first_sent[key]  # same partition key and the very same bytes
        else:
            first_sent[key] = record

    assert repeats == gen.tally.duplicates
    assert repeats > 0


def test_same_seed_same_records(now: datetime) -> None:
    mix = {"hit_rate": 0.2, "bad_rate": 0.2, "duplicate_rate": 0.1}
    first = generator(now, seed=42, **mix)
    second = generator(now, seed=42, **mix)

    assert [first.next_record() for _ in range(200)] == [second.next_record() for _ in range(200)]


def test_inactive_cameras_only_is_refused(now: datetime) -> None:
    with pytest.raises(NoActiveCameras):
        generator(now, cameras=[c for c in CAMERAS if not c.active])


def test_without_voi_vrms_no_read_is_a_hit(now: datetime) -> None:
    gen = ReadGenerator(CAMERAS, [], random.Random(1), lambda: now, mix=ReadMix(hit_rate=1.0), images=False)

    vrms = {parse_read(gen.next_record().data, now=now).read.vrm for _ in range(200)}

    assert not vrms & set(HIT_VRMS)
    assert gen.tally.hits == 0


@pytest.mark.parametrize("size", [3_000, 25_000, 65_000])
def test_jpeg_images_are_well_formed_and_exactly_the_size_asked(size: int) -> None:
    image = jpeg_image(size, random.Random(size))

    assert len(image) == size
    assert image.startswith(b"\xff\xd8\xff")
    assert image.endswith(b"\xff\xd9")
    markers = jpeg_markers(image)
    # Baseline JPEG: frame, Huffman and quantisation tables present before the scan.
    assert {0xC0, 0xC4, 0xDB} <= set(markers[: markers.index(0xDA)])
    sof = image.index(b"\xff\xc0")
    assert image[sof + 5 : sof + 9] == b"\x00\x01\x00\x01"  # 1x1 pixel


def jpeg_markers(image: bytes) -> list[int]:
    """Walks the length-prefixed segments from SOI to SOS; fails on a malformed structure."""
    assert image[:2] == b"\xff\xd8"
    markers = []
    position = 2
    while True:
        assert image[position] == 0xFF, f"no marker at {position}"
        marker = image[position + 1]
        markers.append(marker)
        length = int.from_bytes(image[position + 2 : position + 4], "big")
        position += 2 + length
        if marker == 0xDA:
            return markers


def test_mix_refuses_impossible_rates() -> None:
    with pytest.raises(ValueError, match="at most 1"):
        ReadMix(bad_rate=0.6, duplicate_rate=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        ReadMix(hit_rate=1.5)


# --- sender ---------------------------------------------------------------------------------------


class RecordingKinesis:
    """A fake Kinesis client: records every PutRecords call; `fail(entry, attempt)` decides which
    entries come back with ProvisionedThroughputExceededException."""

    def __init__(self, fail: Callable[[dict[str, Any], int], bool] = lambda entry, attempt: False) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.attempts: dict[bytes, int] = {}
        self.accepted: list[bytes] = []
        self._fail = fail

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        assert StreamName == "reads"
        self.calls.append(list(Records))
        results = []
        for entry in Records:
            attempt = self.attempts[entry["Data"]] = self.attempts.get(entry["Data"], 0) + 1
            if self._fail(entry, attempt):
                results.append(
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"}
                )
            else:
                self.accepted.append(entry["Data"])
                results.append({"SequenceNumber": str(len(self.accepted)), "ShardId": "shardId-000000000000"})
        failed = sum("ErrorCode" in r for r in results)
        return {"FailedRecordCount": failed, "Records": results}


def numbered(count: int, size: int = 10) -> list[KinesisRecord]:
    return [KinesisRecord(f"CAM-{i % 7}", f"{i:08d}".encode().ljust(size, b".")) for i in range(count)]


def call_size(call: list[dict[str, Any]]) -> int:
    return sum(len(e["Data"]) + len(e["PartitionKey"].encode()) for e in call)


def test_batches_never_exceed_500_records() -> None:
    client = RecordingKinesis()
    records = numbered(1234)

    result = KinesisSender(client, "reads", sleep=lambda s: None).send(records)

    assert result == SendResult(sent=1234, failed=0)
    assert all(len(call) <= 500 for call in client.calls)
    assert len(client.calls) == 3
    assert client.accepted == [r.data for r in records]  # each once, in order


def test_batches_never_exceed_5_mib_with_realistic_reads(now: datetime) -> None:
    client = RecordingKinesis()
    gen = generator(now, seed=4)
    records = [gen.read_record() for _ in range(600)]
    assert sum(r.size for r in records) > 2 * 5 * MiB  # so the size limit, not the count, must split

    result = KinesisSender(client, "reads", sleep=lambda s: None).send(records)

    assert result == SendResult(sent=600, failed=0)
    assert all(call_size(call) <= 5 * MiB for call in client.calls)
    assert all(len(call) <= 500 for call in client.calls)
    assert client.accepted == [r.data for r in records]
    assert [e["PartitionKey"] for call in client.calls for e in call] == [r.partition_key for r in records]


def test_batches_fill_up_to_exactly_5_mib() -> None:
    client = RecordingKinesis()
    key = "K"
    # Five records of exactly 1 MiB (key included) fill one call; the sixth needs another.
    records = [KinesisRecord(key, bytes([i]) * (MiB - len(key))) for i in range(6)]

    KinesisSender(client, "reads", sleep=lambda s: None).send(records)

    assert [len(call) for call in client.calls] == [5, 1]


def test_record_over_1_mib_is_counted_failed_and_not_sent() -> None:
    client = RecordingKinesis()
    records = [*numbered(3), KinesisRecord("CAM", b"x" * MiB)]

    result = KinesisSender(client, "reads", sleep=lambda s: None).send(records)

    assert result == SendResult(sent=3, failed=1)
    assert all(len(e["Data"]) < MiB for call in client.calls for e in call)


def test_entries_refused_once_are_resent_and_count_as_sent() -> None:
    refused_first_time = {f"{i:08d}".encode() for i in (1, 5, 6, 499, 500, 700)}
    client = RecordingKinesis(lambda entry, attempt: entry["Data"][:8] in refused_first_time and attempt == 1)
    sleeps: list[float] = []
    records = numbered(800)

    result = KinesisSender(client, "reads", sleep=sleeps.append).send(records)

    assert result == SendResult(sent=800, failed=0)
    assert sorted(client.accepted) == sorted(r.data for r in records)  # every record exactly once
    assert {d for d, n in client.attempts.items() if n == 2} == {
        r.data for r in records if r.data[:8] in refused_first_time
    }
    # Only the refused entries go again, after a pause.
    resent = [call for call in client.calls if all(e["Data"][:8] in refused_first_time for e in call)]
    assert sum(len(call) for call in resent) == len(refused_first_time)
    assert sleeps
    assert all(s > 0 for s in sleeps)


def test_entries_refused_every_time_are_counted_failed_after_bounded_attempts() -> None:
    always_refused = {f"{i:08d}".encode() for i in (0, 2, 3)}
    client = RecordingKinesis(lambda entry, attempt: entry["Data"][:8] in always_refused)
    records = numbered(10)

    result = KinesisSender(client, "reads", sleep=lambda s: None, max_attempts=4).send(records)

    assert result == SendResult(sent=7, failed=3)
    assert {client.attempts[r.data] for r in records if r.data[:8] in always_refused} == {4}
    assert len(client.calls) == 4


def test_backoff_grows_between_attempts() -> None:
    client = RecordingKinesis(lambda entry, attempt: attempt < 4)
    sleeps: list[float] = []

    result = KinesisSender(client, "reads", sleep=sleeps.append, max_attempts=5).send(numbered(2))

    assert result == SendResult(sent=2, failed=0)
    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps)
    assert sleeps[-1] > sleeps[0]


# --- pacing ---------------------------------------------------------------------------------------


class FakeTime:
    """monotonic() and sleep() over a clock that only moves when told (by sleep or by work)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


class CountingSource:
    def __init__(self) -> None:
        self.count = 0

    def next_record(self) -> KinesisRecord:
        self.count += 1
        return KinesisRecord("CAM-1", str(self.count).encode())


class RecordingSink:
    def __init__(self, clock: FakeTime, *, work_s: float = 0.0, interrupt_on_call: int | None = None) -> None:
        self.clock = clock
        self.work_s = work_s
        self.interrupt_on_call = interrupt_on_call
        self.sends: list[tuple[float, int]] = []  # (time, records)

    def send(self, records: Iterable[KinesisRecord]) -> SendResult:
        if self.interrupt_on_call == len(self.sends) + 1:
            raise KeyboardInterrupt
        batch = list(records)
        self.sends.append((self.clock.now, len(batch)))
        self.clock.now += self.work_s
        return SendResult(sent=len(batch))


def test_paced_run_spreads_the_records_over_the_duration_and_stops() -> None:
    clock = FakeTime()
    sink = RecordingSink(clock)
    start = clock.now

    result = run_paced(
        CountingSource(), sink, rate=50, duration_s=2, monotonic=clock.monotonic, sleep=clock.sleep
    )

    assert result.sent == 100
    assert result.failed == 0
    assert result.elapsed_s == pytest.approx(2.0)
    assert result.achieved_rate == pytest.approx(50.0)
    assert sum(n for _, n in sink.sends) == 100
    in_first_second = sum(n for at, n in sink.sends if at - start < 1.0)
    assert 45 <= in_first_second <= 55
    assert len(clock.sleeps) >= 10  # waits between batches rather than sending everything at once


def test_paced_run_catches_up_when_sending_is_slow() -> None:
    clock = FakeTime()
    sink = RecordingSink(clock, work_s=0.35)  # every send overruns the pacing interval

    result = run_paced(
        CountingSource(), sink, rate=100, duration_s=1, monotonic=clock.monotonic, sleep=clock.sleep
    )

    assert result.sent == 100
    assert result.elapsed_s > 1.0
    assert result.achieved_rate < 100


def test_low_rate_runs_send_the_right_total() -> None:
    clock = FakeTime()
    sink = RecordingSink(clock)

    result = run_paced(
        CountingSource(), sink, rate=0.5, duration_s=10, monotonic=clock.monotonic, sleep=clock.sleep
    )

    assert result.sent == 5
    assert result.elapsed_s == pytest.approx(10.0)


def test_interrupt_stops_the_run_and_keeps_what_was_sent() -> None:
    clock = FakeTime()
    sink = RecordingSink(clock, interrupt_on_call=3)

    result = run_paced(
        CountingSource(), sink, rate=100, duration_s=5, monotonic=clock.monotonic, sleep=clock.sleep
    )

    assert result.interrupted
    assert result.sent == sum(n for _, n in sink.sends)
    assert 0 < result.sent < 500


# --- command, end to end on moto ------------------------------------------------------------------

STREAM = "nas-test-reads"
CAMERAS_TABLE = "nas-test-cameras"
VOI_TABLE = "nas-test-voi"


def create_table(client: Any, name: str, partition: str, sort: str | None = None) -> None:
    keys = [(partition, "HASH"), *([(sort, "RANGE")] if sort else [])]
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
    )


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """A moto account with the read stream (two shards), the cameras table holding CAMERAS and a VOI
    table holding HIT_VRMS as entry and match items."""
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name=REGION)
        kinesis.create_stream(StreamName=STREAM, ShardCount=2)
        kinesis.get_waiter("stream_exists").wait(StreamName=STREAM, WaiterConfig={"Delay": 1})
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        assert CAMERAS_SPEC.sort_key is None
        create_table(dynamodb, CAMERAS_TABLE, CAMERAS_SPEC.partition_key.name)
        assert VOI_SPEC.sort_key is not None
        create_table(dynamodb, VOI_TABLE, VOI_SPEC.partition_key.name, VOI_SPEC.sort_key.name)
        for camera in CAMERAS:
            dynamodb.put_item(TableName=CAMERAS_TABLE, Item=to_item(camera.model_dump(mode="json")))
        for number, vrm in enumerate(HIT_VRMS):
            for record in (f"ENTRY#voi-{number}", "MATCH"):
                dynamodb.put_item(TableName=VOI_TABLE, Item={"vrm": {"S": vrm}, "record": {"S": record}})
        yield {"kinesis": kinesis, "dynamodb": dynamodb}


def stream_records(kinesis: Any) -> list[KinesisRecord]:
    found = []
    for shard in kinesis.list_shards(StreamName=STREAM)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            found += [KinesisRecord(r["PartitionKey"], r["Data"]) for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return found


def summary(out: str) -> dict[str, float]:
    line = out.strip().splitlines()[-1]
    return {key: float(value) for key, value in (part.split("=") for part in line.split())}


def run_command(argv: list[str], now: datetime) -> tuple[int, str, str]:
    """The simulate command as `nas` parses it, on a fake clock so nothing actually waits."""
    clock = FakeTime()
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["simulate", *argv])
    status = simulate.command(args, out, err, monotonic=clock.monotonic, sleep=clock.sleep, clock=lambda: now)
    return status, out.getvalue(), err.getvalue()


def test_simulate_puts_the_expected_records_on_the_stream(aws: dict[str, Any], now: datetime) -> None:
    status, out, err = run_command(
        [
            *("--rate", "40", "--duration", "1", "--hit-rate", "0.5", "--bad-rate", "0.1"),
            *("--late-rate", "0.1", "--duplicate-rate", "0.1", "--seed", "7"),
            *("--stream", STREAM, "--cameras-table", CAMERAS_TABLE, "--voi-table", VOI_TABLE),
        ],
        now,
    )

    assert status == 0, err
    reported = summary(out)
    assert reported["sent"] == 40
    assert reported["failed"] == 0
    assert reported["elapsed_s"] == pytest.approx(1.0, abs=0.01)
    on_stream = stream_records(aws["kinesis"])
    assert len(on_stream) == 40

    seen: set[KinesisRecord] = set()
    duplicates = bad = hits = late = 0
    for record in on_stream:
        if record in seen:
            duplicates += 1
            continue
        seen.add(record)
        try:
            accepted = accept(record, now)
        except ReadRejected:
            bad += 1
            continue
        assert BY_ID[record.partition_key].active
        hits += accepted.read.vrm in HIT_VRMS
        late += accepted.timeliness is Timeliness.LATE
    assert (reported["duplicates"], reported["bad"], reported["hits"], reported["late"]) == (
        duplicates,
        bad,
        hits,
        late,
    )
    assert hits > 0  # the VOI table was read


def test_simulate_can_take_cameras_from_a_csv(aws: dict[str, Any], now: datetime, tmp_path: Path) -> None:
    csv_file = tmp_path / "cameras.csv"
    csv_file.write_text(
        "camera_id,lea,lat,lon,source,active\n"
        "CSV-CAM-1,DYFED,52.4,-4.1,static,true\n"
        "CSV-CAM-2,DYFED,52.5,-4.0,mobile,yes\n"
        "CSV-CAM-3,DYFED,52.6,-4.2,static,false\n",
        encoding="utf-8",
    )

    status, out, _ = run_command(
        [
            *("--rate", "20", "--duration", "1", "--hit-rate", "0", "--bad-rate", "0", "--seed", "3"),
            *("--stream", STREAM, "--cameras-csv", str(csv_file)),
        ],
        now,
    )

    assert status == 0
    assert summary(out)["sent"] == 20
    on_stream = stream_records(aws["kinesis"])
    assert len(on_stream) == 20
    assert {r.partition_key for r in on_stream} == {"CSV-CAM-1", "CSV-CAM-2"}
    assert all(json.loads(r.data)["lea"] == "DYFED" for r in on_stream)


def test_simulate_without_active_cameras_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "cameras.csv"
    csv_file.write_text(
        "camera_id,lea,lat,lon,source,active\nC-1,KENT,51.0,1.0,static,false\n", encoding="utf-8"
    )

    status = main(
        [
            *("simulate", "--rate", "10", "--duration", "1", "--hit-rate", "0", "--bad-rate", "0"),
            *("--stream", STREAM, "--cameras-csv", str(csv_file)),
        ]
    )

    assert status == 2
    assert "no active cameras" in capsys.readouterr().err


def test_simulate_without_a_stream_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["simulate", "--rate", "10", "--duration", "1", "--hit-rate", "0", "--bad-rate", "0"])

    assert status == 2
    assert "--stream" in capsys.readouterr().err


def test_simulate_without_cameras_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "simulate",
            "--rate",
            "10",
            "--duration",
            "1",
            "--hit-rate",
            "0",
            "--bad-rate",
            "0",
            "--stream",
            STREAM,
        ]
    )

    assert status == 2
    assert "--cameras-csv" in capsys.readouterr().err


@pytest.mark.parametrize(
    "bad_args",
    [
        ["--rate", "0"],
        ["--rate", "-5"],
        ["--duration", "nan"],
        ["--hit-rate", "1.5"],
        ["--bad-rate", "abc"],
    ],
)
def test_out_of_range_arguments_are_usage_errors(bad_args: list[str]) -> None:
    argv = {"--rate": "10", "--duration": "1", "--hit-rate": "0", "--bad-rate": "0"}
    argv.update(dict(zip(bad_args[::2], bad_args[1::2], strict=True)))

    with pytest.raises(SystemExit) as exited:
        main(["simulate", *(item for pair in argv.items() for item in pair), "--stream", STREAM])

    assert exited.value.code == 2


def test_bad_and_duplicate_rates_together_over_1_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            *("simulate", "--rate", "10", "--duration", "1", "--hit-rate", "0"),
            *("--bad-rate", "0.6", "--duplicate-rate", "0.5", "--stream", STREAM),
        ]
    )

    assert status == 2
    assert "at most 1" in capsys.readouterr().err


def test_hits_take_the_vrms_asked_for_and_table_keys_that_are_not_vrms_are_ignored(
    aws: dict[str, Any], now: datetime
) -> None:
    # The voi table also holds list, directory and state items, keyed `#…`: never a read's VRM.
    aws["dynamodb"].put_item(TableName=VOI_TABLE, Item={"vrm": {"S": "#VOI"}, "record": {"S": "STATE"}})
    status, _, err = run_command(
        [
            *("--rate", "20", "--duration", "1", "--hit-rate", "1", "--bad-rate", "0"),
            *("--stream", STREAM, "--cameras-table", CAMERAS_TABLE, "--voi-table", VOI_TABLE),
            *("--hit-vrm", "dl 0042x", "--seed", "3"),
        ],
        now,
    )
    assert status == 0, err
    vrms = {accept(r, now).read.vrm for r in stream_records(aws["kinesis"])}
    assert vrms == {"DL0042X"}
    assert simulate.scan_hit_vrms(aws["dynamodb"], VOI_TABLE) == sorted(HIT_VRMS)
