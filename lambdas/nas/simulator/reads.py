"""The camera simulator's reads: realistic `nas.read.v1` records from registered cameras, with chosen
fractions of VOI hits, malformed records, late reads and redeliveries (pure: cameras, VOI VRMs, a
seeded RNG and a clock in, Kinesis records out)."""

from __future__ import annotations

import base64
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from nas.domain.leas import lea_codes
from nas.domain.models import READ_SCHEMA, Camera, CameraSource, Direction

# Redeliveries re-send one of this many most recent reads: gateways retry recent batches, not old ones.
DUPLICATE_WINDOW = 1000
LATE_AGE = (timedelta(hours=25), timedelta(hours=48))
FUTURE_LEAD = (timedelta(minutes=10), timedelta(hours=2))  # well past the 5-minute clock-skew allowance
PLATE_IMAGE_BYTES = (2_500, 3_500)  # NASPLE: about 3 KB
OVERVIEW_IMAGE_BYTES = (20_000, 30_000)  # NASPLE: about 25 KB
MOBILE_SPREAD_DEG = 0.02  # about 2 km: a mobile unit works near its registered base


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
