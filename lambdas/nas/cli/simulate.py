"""`nas simulate`: post realistic `nas.read.v1` reads to the Kinesis read stream at a steady rate, the
way force gateways do, with chosen fractions of VOI hits, malformed records, late reads and
redeliveries, so the pipeline can be exercised end to end (locally or in a stage).

Three parts, each testable alone: `ReadGenerator` (pure: cameras, VOI VRMs, a seeded RNG and a clock
in, Kinesis records out), `KinesisSender` (PutRecords batching within the service limits, re-sending
entries that come back with an ErrorCode) and `run_paced` (spreads the records over the duration).
"""

from __future__ import annotations

import argparse
import base64
import math
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TextIO

import orjson
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from nas.adapters.dynamo import backoff_delays, from_item
from nas.cli.cameras import CameraFileError, read_camera_file
from nas.cli.target import AwsTarget, TargetError, add_target_arguments
from nas.domain.errors import InvalidVrm
from nas.domain.leas import lea_codes
from nas.domain.models import READ_SCHEMA, Camera, CameraSource, Direction
from nas.domain.vrm import normalise_vrm

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kinesis.type_defs import PutRecordsRequestEntryTypeDef

# Kinesis PutRecords limits (the partition key counts towards the sizes).
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_BYTES_PER_RECORD = 1024 * 1024
SEND_ATTEMPTS = 5

VOI_SCAN_LIMIT = 1000
# Redeliveries re-send one of this many most recent reads: gateways retry recent batches, not old ones.
DUPLICATE_WINDOW = 1000
LATE_AGE = (timedelta(hours=25), timedelta(hours=48))
FUTURE_LEAD = (timedelta(minutes=10), timedelta(hours=2))  # well past the 5-minute clock-skew allowance
PLATE_IMAGE_BYTES = (2_500, 3_500)  # NASPLE: about 3 KB
OVERVIEW_IMAGE_BYTES = (20_000, 30_000)  # NASPLE: about 25 KB
MOBILE_SPREAD_DEG = 0.02  # about 2 km: a mobile unit works near its registered base
# Pacing: wake at most 10 times a second, and at least once a second so a run ends on time.
MIN_TICK_S = 0.1
MAX_TICK_S = 1.0

# --- records --------------------------------------------------------------------------------------


class KinesisRecord(NamedTuple):
    partition_key: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode("utf-8"))


# A 1x1 grey baseline JPEG, split where comment segments go to pad it to a realistic size. Every
# decoder skips COM segments, so the padded image stays valid.
_JPEG_HEAD = bytes.fromhex(
    "ffd8"  # SOI
    "ffe000104a46494600010100000100010000"  # APP0: JFIF 1.1
)
_JPEG_DQT = bytes.fromhex("ffdb004300") + b"\x01" * 64  # quantisation table 0, all ones
_JPEG_BODY = _JPEG_DQT + bytes.fromhex(
    "ffc0000b080001000101011100"  # SOF0: 8-bit, 1x1, one component using table 0
    "ffc40014000100000000000000000000000000000000"  # DHT DC 0: one 1-bit code, for category 0
    "ffc40014100100000000000000000000000000000000"  # DHT AC 0: one 1-bit code, for end of block
    "ffda0008010100003f00"  # SOS: one component, spectral selection 0-63
    "3f"  # scan: DC difference 0 then end of block, padded with 1 bits
    "ffd9"  # EOI
)
_COM_OVERHEAD = 4  # marker and length
_COM_MAX_PAYLOAD = 0xFFFF - 2


IMAGE_POOL = 64


def jpeg_image(size: int, rng: random.Random) -> bytes:
    """A valid JPEG of exactly `size` bytes (the pixel data is trivial; the rest is a comment)."""
    smallest = len(_JPEG_HEAD) + _COM_OVERHEAD + len(_JPEG_BODY)
    payload = size - smallest
    if not 0 <= payload <= _COM_MAX_PAYLOAD:
        raise ValueError(f"JPEG size must be between {smallest} and {smallest + _COM_MAX_PAYLOAD} bytes")
    comment = b"\xff\xfe" + (payload + 2).to_bytes(2, "big") + rng.randbytes(payload)
    return _JPEG_HEAD + comment + _JPEG_BODY


def rfc3339_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- VRMs -----------------------------------------------------------------------------------------

_PLATE_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXYZ"  # I and Q are never issued
_REGION_LETTERS = "ABCDEFGHKLMNOPRSVWXY"  # first letter of the current-format memory tag
_YEAR_LETTERS = "ABCDEFGHJKLMNPRSTVWXY"  # prefix/suffix year letters: no I, O, Q, U, Z


def age_identifiers(today: date) -> tuple[str, ...]:
    """Current-format age identifiers issued by `today`: September 2001 was 51, then each March
    the year's last two digits (02, 03 ...) and each September those plus 50."""
    issued = ["51"]
    for year in range(2002, today.year + 1):
        if year < today.year or today.month >= 3:
            issued.append(f"{year % 100:02d}")
        if year < today.year or today.month >= 9:
            issued.append(f"{year % 100 + 50:02d}")
    return tuple(issued)


def random_vrm(rng: random.Random, ages: Sequence[str]) -> str:
    """A VRM as a camera reports it: mostly current format ("AB12 CDE"), some prefix ("A123 BCD")
    and suffix ("ABC 123D") plates, occasionally without the space."""
    letters = "".join(rng.choices(_PLATE_LETTERS, k=3))
    roll = rng.random()
    if roll < 0.85:
        front = rng.choice(_REGION_LETTERS) + rng.choice(_PLATE_LETTERS) + rng.choice(ages)
        back = letters
    elif roll < 0.97:
        front, back = f"{rng.choice(_YEAR_LETTERS)}{rng.randint(1, 999)}", letters
    else:
        front, back = letters, f"{rng.randint(1, 999)}{rng.choice(_YEAR_LETTERS)}"
    return front + back if rng.random() < 0.1 else f"{front} {back}"


# --- generator ------------------------------------------------------------------------------------


class BadKind(StrEnum):
    """Records the pipeline must quarantine."""

    GARBAGE = "garbage"
    MISSING_FIELD = "missing-field"
    UNKNOWN_FIELD = "unknown-field"
    FUTURE_TIME = "future-time"
    UNKNOWN_CAMERA = "unknown-camera"
    WRONG_LEA = "wrong-lea"


_REQUIRED_FIELDS = ("schema", "read_id", "vrm", "captured_at", "camera_id", "lea", "source")
_UNKNOWN_FIELDS = {"colour": "blue", "make": "FORD", "speed_kph": 47, "plate_country": "GB"}


class NoActiveCameras(ValueError):
    """Nothing to simulate: reads come only from registered, active cameras."""


@dataclass(frozen=True, slots=True)
class ReadMix:
    """`bad_rate` and `duplicate_rate` are fractions of all records sent; `hit_rate` and `late_rate`
    are fractions of the well-formed new reads."""

    hit_rate: float = 0.0
    bad_rate: float = 0.0
    late_rate: float = 0.0
    duplicate_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("hit_rate", "bad_rate", "late_rate", "duplicate_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.bad_rate + self.duplicate_rate > 1.0:
            raise ValueError("bad_rate + duplicate_rate must be at most 1")


@dataclass(slots=True)
class Tally:
    """What a generator has produced so far."""

    reads: int = 0
    """Well-formed new reads (including hits and late reads)."""
    bad: int = 0
    duplicates: int = 0
    late: int = 0
    hits: int = 0


class ReadGenerator:
    """Produces Kinesis records of `nas.read.v1` reads from the registered active cameras."""

    def __init__(
        self,
        cameras: Iterable[Camera],
        hit_vrms: Iterable[str],
        rng: random.Random,
        clock: Callable[[], datetime],
        *,
        mix: ReadMix | None = None,
        images: bool = True,
    ) -> None:
        registered = list(cameras)
        self._cameras = [c for c in registered if c.active]
        if not self._cameras:
            raise NoActiveCameras("no active cameras to send reads from")
        self._registered_ids = frozenset(c.camera_id for c in registered)
        self._hit_vrms = tuple(sorted(set(hit_vrms)))  # sorted: the same seed gives the same run
        self._hit_vrm_set = frozenset(self._hit_vrms)
        self._rng = rng
        self._clock = clock
        self._mix = mix or ReadMix()
        self._images = images
        # A pool of images, encoded once: making and encoding ~28 KB of random bytes per read cost
        # more than everything else the simulator does, and capped the rate it could send at.
        self._plates = [
            _base64(jpeg_image(rng.randint(*PLATE_IMAGE_BYTES), rng))
            for _ in range(IMAGE_POOL if images else 0)
        ]
        self._overviews = [
            _base64(jpeg_image(rng.randint(*OVERVIEW_IMAGE_BYTES), rng))
            for _ in range(IMAGE_POOL if images else 0)
        ]
        self._leas = tuple(sorted(lea_codes()))
        started = clock()
        self._ages = age_identifiers(started.date())
        # Part of every read_id, so that a second run never repeats the first run's ids (R-DUP would
        # silently swallow its reads).
        started = started.astimezone(UTC)
        self._run_tag = f"{started:%Y%m%dT%H%M%S}{started.microsecond // 1000:03d}"
        self._counter = 0
        self._recent: deque[KinesisRecord] = deque(maxlen=DUPLICATE_WINDOW)
        self.tally = Tally()

    def next_record(self) -> KinesisRecord:
        """One record drawn according to the mix."""
        mix = self._mix
        roll = self._rng.random()
        if roll < mix.duplicate_rate:
            if self._recent:
                self.tally.duplicates += 1
                return self._rng.choice(self._recent)
        elif roll < mix.duplicate_rate + mix.bad_rate:
            return self.bad_record(self._rng.choice(list(BadKind)))
        hit = bool(self._hit_vrms) and self._rng.random() < mix.hit_rate
        late = self._rng.random() < mix.late_rate
        return self.read_record(hit=hit, late=late)

    def read_record(self, *, hit: bool = False, late: bool = False) -> KinesisRecord:
        """A well-formed read from a random active camera; `hit` takes its VRM from the VOI list,
        `late` makes it 25-48 hours old."""
        if hit and not self._hit_vrms:
            raise ValueError("no VOI VRMs to make a hit with")
        camera = self._rng.choice(self._cameras)
        captured_at = self._clock()
        if late:
            captured_at -= self._between(*LATE_AGE)
        vrm = self._rng.choice(self._hit_vrms) if hit else self._vrm_not_of_interest()
        record = KinesisRecord(camera.camera_id, _encode(self._read_fields(camera, vrm, captured_at)))
        self._recent.append(record)
        self.tally.reads += 1
        self.tally.hits += hit
        self.tally.late += late
        return record

    def bad_record(self, kind: BadKind) -> KinesisRecord:
        """A record the pipeline must quarantine, of the given kind (the reason it gets is in the tests)."""
        camera = self._rng.choice(self._cameras)
        self.tally.bad += 1
        if kind is BadKind.GARBAGE:
            # 0xFF never starts valid UTF-8, so this can never happen to parse as JSON.
            return KinesisRecord(camera.camera_id, b"\xff" + self._rng.randbytes(self._rng.randint(16, 512)))
        now = self._clock()
        fields = self._read_fields(camera, self._vrm_not_of_interest(), now)
        if kind is BadKind.MISSING_FIELD:
            del fields[self._rng.choice(_REQUIRED_FIELDS)]
        elif kind is BadKind.UNKNOWN_FIELD:
            name = self._rng.choice(sorted(_UNKNOWN_FIELDS))
            fields[name] = _UNKNOWN_FIELDS[name]
        elif kind is BadKind.FUTURE_TIME:
            fields["captured_at"] = rfc3339_millis(now + self._between(*FUTURE_LEAD))
        elif kind is BadKind.UNKNOWN_CAMERA:
            fields["camera_id"] = self._unregistered_camera_id()
            return KinesisRecord(fields["camera_id"], _encode(fields))
        elif kind is BadKind.WRONG_LEA:
            fields["lea"] = self._rng.choice([lea for lea in self._leas if lea != camera.lea])
        return KinesisRecord(camera.camera_id, _encode(fields))

    def _read_fields(self, camera: Camera, vrm: str, captured_at: datetime) -> dict[str, Any]:
        rng = self._rng
        self._counter += 1
        fields: dict[str, Any] = {
            "schema": READ_SCHEMA,
            "read_id": self._read_id(camera.camera_id),
            "vrm": vrm,
            "captured_at": rfc3339_millis(captured_at),
            "camera_id": camera.camera_id,
            "lea": camera.lea,
            "source": camera.source.value,
        }
        if camera.source is CameraSource.MOBILE:
            fields["location"] = {
                "lat": round(_clamp(camera.lat + self._spread(), -90.0, 90.0), 6),
                "lon": round(_clamp(camera.lon + self._spread(), -180.0, 180.0), 6),
            }
        if rng.random() < 0.7:
            fields["direction"] = rng.choice(list(Direction)).value
        if camera.source is CameraSource.MULTI_LANE:
            fields["lane"] = rng.randint(1, 6)
        elif rng.random() < 0.3:
            fields["lane"] = rng.randint(1, 2)
        if rng.random() < 0.9:
            fields["confidence"] = rng.randint(70, 100) if rng.random() < 0.9 else rng.randint(20, 69)
        if self._images and rng.random() < 0.95:
            fields["plate_image"] = rng.choice(self._plates)
        if self._images and rng.random() < 0.8:
            fields["overview_image"] = rng.choice(self._overviews)
        return fields

    def _read_id(self, camera_id: str) -> str:
        read_id = f"{camera_id}:{self._run_tag}:{self._counter}"
        # The counter alone is unique per run; the camera id is only there to help people reading logs.
        return read_id if len(read_id) <= 64 else f"{self._run_tag}:{self._counter}"

    def _vrm_not_of_interest(self) -> str:
        while True:
            vrm = random_vrm(self._rng, self._ages)
            if vrm.replace(" ", "") not in self._hit_vrm_set:  # keeps the hit count exact
                return vrm

    def _unregistered_camera_id(self) -> str:
        camera_id = f"SIM-UNREGISTERED-{self._counter}"
        while camera_id in self._registered_ids:
            camera_id += "X"
        return camera_id

    def _between(self, low: timedelta, high: timedelta) -> timedelta:
        return timedelta(seconds=self._rng.uniform(low.total_seconds(), high.total_seconds()))

    def _spread(self) -> float:
        return self._rng.uniform(-MOBILE_SPREAD_DEG, MOBILE_SPREAD_DEG)


def _encode(fields: dict[str, Any]) -> bytes:
    return orjson.dumps(fields)


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


# --- sender ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendResult:
    sent: int = 0
    failed: int = 0

    def __add__(self, other: SendResult) -> SendResult:
        return SendResult(self.sent + other.sent, self.failed + other.failed)


def batches(records: Iterable[KinesisRecord]) -> Iterator[list[KinesisRecord]]:
    """Consecutive groups of records within the PutRecords count and size limits."""
    batch: list[KinesisRecord] = []
    size = 0
    for record in records:
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + record.size > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record.size
    if batch:
        yield batch


class KinesisSender:
    """PutRecords in batches; entries that come back with an ErrorCode (throttling, internal
    failure) are re-sent with backoff up to `max_attempts` times, then counted as failed."""

    def __init__(
        self,
        client: KinesisClient,
        stream: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = SEND_ATTEMPTS,
    ) -> None:
        self._client = client
        self._stream = stream
        self._sleep = sleep
        self._max_attempts = max_attempts

    def send(self, records: Iterable[KinesisRecord]) -> SendResult:
        result = SendResult()
        sendable = []
        for record in records:
            if record.size > MAX_BYTES_PER_RECORD:  # Kinesis would refuse the whole call for it
                result += SendResult(failed=1)
            else:
                sendable.append(record)
        for batch in batches(sendable):
            result += self._send_batch(batch)
        return result

    def _send_batch(self, batch: list[KinesisRecord]) -> SendResult:
        pending = batch
        sent = 0
        delays = backoff_delays(base_s=0.1, cap_s=1.0)
        for attempt in range(1, self._max_attempts + 1):
            entries: list[PutRecordsRequestEntryTypeDef] = [
                {"Data": r.data, "PartitionKey": r.partition_key} for r in pending
            ]
            response = self._client.put_records(StreamName=self._stream, Records=entries)
            # Response entries are in request order, one per record.
            retry = [
                record
                for record, entry in zip(pending, response["Records"], strict=True)
                if entry.get("ErrorCode")
            ]
            sent += len(pending) - len(retry)
            pending = retry
            if not pending:
                break
            if attempt < self._max_attempts:
                self._sleep(next(delays))
        return SendResult(sent=sent, failed=len(pending))


# --- pacing ---------------------------------------------------------------------------------------


class RecordSource(Protocol):
    def next_record(self) -> KinesisRecord: ...


class RecordSink(Protocol):
    def send(self, records: Iterable[KinesisRecord]) -> SendResult: ...


@dataclass(frozen=True, slots=True)
class RunResult:
    sent: int
    failed: int
    elapsed_s: float
    interrupted: bool = False

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_paced(
    source: RecordSource,
    sink: RecordSink,
    *,
    rate: float,
    duration_s: float,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Sends round(rate * duration_s) records in equal slices, one slice per tick, sleeping until
    each next tick. A slow tick is caught up by the next (the slices are cumulative targets)."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be positive")
    total = round(rate * duration_s)
    tick_s = min(MAX_TICK_S, max(MIN_TICK_S, 1.0 / rate))
    ticks = max(1, math.ceil(duration_s / tick_s))
    start = monotonic()
    produced = 0
    result = SendResult()
    interrupted = False
    try:
        for tick in range(1, ticks + 1):
            due = round(total * tick / ticks)
            records = [source.next_record() for _ in range(due - produced)]
            produced = due
            if records:
                result += sink.send(records)
            remaining = start + min(duration_s, tick * tick_s) - monotonic()
            if remaining > 0:
                sleep(remaining)
    except KeyboardInterrupt:  # Ctrl-C: stop and still report what was sent
        interrupted = True
    return RunResult(result.sent, result.failed, monotonic() - start, interrupted)


# --- sources of cameras and VRMs ------------------------------------------------------------------


def scan_cameras(client: DynamoDBClient, table: str) -> tuple[list[Camera], int]:
    """Every camera in the registry table, and how many items could not be read as a camera."""
    cameras: list[Camera] = []
    unreadable = 0
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            try:
                cameras.append(Camera.model_validate(from_item(item), strict=False))
            except ValidationError:
                unreadable += 1
    return cameras, unreadable


def scan_hit_vrms(client: DynamoDBClient, table: str, *, limit: int = VOI_SCAN_LIMIT) -> list[str]:
    """Up to `limit` VOI items' VRMs (one Scan page: a sample is enough to make hits)."""
    response = client.scan(
        TableName=table,
        Limit=limit,
        ProjectionExpression="#vrm",
        ExpressionAttributeNames={"#vrm": "vrm"},
    )
    vrms = {from_item(item).get("vrm") for item in response.get("Items", [])}
    # The table also holds list, directory and state items keyed `#…`: only VRMs are VRMs.
    return sorted(v for v in vrms if isinstance(v, str) and _VRM.fullmatch(v))


# --- command --------------------------------------------------------------------------------------


_VRM = re.compile(r"[A-Z0-9]{1,10}")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=_positive, required=True, help="records per second")
    parser.add_argument("--duration", type=_positive, required=True, help="seconds to run for")
    parser.add_argument(
        "--hit-rate", type=_fraction, required=True, help="fraction of new reads whose VRM is on the VOI list"
    )
    parser.add_argument(
        "--hit-vrm",
        action="append",
        default=[],
        metavar="VRM",
        help="a VRM the hits use (repeatable; default: VRMs sampled from the voi table)",
    )
    parser.add_argument(
        "--bad-rate", type=_fraction, required=True, help="fraction of records the pipeline must quarantine"
    )
    parser.add_argument(
        "--late-rate", type=_fraction, default=0.0, help="fraction of new reads captured 25-48 hours ago"
    )
    parser.add_argument(
        "--duplicate-rate",
        type=_fraction,
        default=0.0,
        help="fraction of records that re-send an earlier read byte for byte (R-DUP)",
    )
    parser.add_argument("--seed", type=int, help="random seed, to repeat a run's records")
    parser.add_argument(
        "--cameras-csv",
        type=Path,
        help="take cameras from this CSV (as `nas cameras load` reads), not a table",
    )
    add_target_arguments(parser, stream=True, tables=("cameras", "voi"))


def _load_cameras(args: argparse.Namespace, target: AwsTarget, err: TextIO) -> list[Camera]:
    if args.cameras_csv is not None:
        camera_file = read_camera_file(args.cameras_csv)
        if camera_file.rejected:
            err.write(
                f"nas simulate: ignoring {len(camera_file.rejected)} invalid row(s) of {args.cameras_csv} "
                "(`nas cameras load` lists them)\n"
            )
        return list(camera_file.cameras)
    if "cameras" not in target.tables:
        raise TargetError("no cameras: pass --cameras-csv, --cameras-table or --config")
    cameras, unreadable = scan_cameras(target.client("dynamodb"), target.table("cameras"))
    if unreadable:
        err.write(f"nas simulate: ignoring {unreadable} unreadable item(s) of the cameras table\n")
    return cameras


def _load_hit_vrms(target: AwsTarget, mix: ReadMix, err: TextIO, chosen: list[str]) -> list[str]:
    if mix.hit_rate == 0:
        return []
    if chosen:
        return [normalise_vrm(v) for v in chosen]
    vrms = scan_hit_vrms(target.client("dynamodb"), target.table("voi")) if "voi" in target.tables else []
    if not vrms:
        err.write("nas simulate: no VOI entries (pass --voi-table or --config): no read will be a hit\n")
    return vrms


def command(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    try:
        mix = ReadMix(
            hit_rate=args.hit_rate,
            bad_rate=args.bad_rate,
            late_rate=args.late_rate,
            duplicate_rate=args.duplicate_rate,
        )
    except ValueError as exc:
        err.write(f"nas simulate: {exc}\n")
        return 2
    target = AwsTarget.from_args(args)
    stream = target.read_stream()
    try:
        cameras = _load_cameras(args, target, err)
        hit_vrms = _load_hit_vrms(target, mix, err, list(getattr(args, "hit_vrm", None) or []))
        generator = ReadGenerator(cameras, hit_vrms, random.Random(args.seed), clock, mix=mix)  # noqa: S311 - test data, not secrets
    except (CameraFileError, NoActiveCameras, InvalidVrm) as exc:
        err.write(f"nas simulate: {exc}\n")
        return 2
    except (BotoCoreError, ClientError) as exc:
        err.write(f"nas simulate: cannot read cameras or VOI entries: {exc}\n")
        return 2
    active = sum(c.active for c in cameras)
    err.write(
        f"nas simulate: {args.rate:g} records/s for {args.duration:g} s from {active} active camera(s) "
        f"to stream {stream}\n"
    )
    sender = KinesisSender(target.client("kinesis"), stream, sleep=sleep)
    try:
        result = run_paced(
            generator, sender, rate=args.rate, duration_s=args.duration, monotonic=monotonic, sleep=sleep
        )
    except (BotoCoreError, ClientError) as exc:
        err.write(f"nas simulate: PutRecords to {stream} failed: {exc}\n")
        return 2
    tally = generator.tally
    out.write(
        f"sent={result.sent} failed={result.failed} bad={tally.bad} duplicates={tally.duplicates} "
        f"late={tally.late} hits={tally.hits} elapsed_s={result.elapsed_s:.2f} "
        f"achieved_rate={result.achieved_rate:.1f}\n"
    )
    if result.interrupted:
        err.write("nas simulate: interrupted\n")
        return 130
    return 1 if result.failed else 0
