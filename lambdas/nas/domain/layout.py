"""Where a stored read row lives: the Parquet layout of the reads bucket, which the Glue table projects
and Firehose writes (docs/search.md, "Layout").

    reads/arrival=live/day=<capture date>/vrm_bucket=<0..63>/…parquet
    reads/arrival=late/day=<date stored>/vrm_bucket=<0..7>/…parquet

- `vrm_bucket` is a hash of the read's canonical VRM (`vrm.canonical_vrm`), so every search for one
  VRM, exact or OCR-tolerant, reads one bucket in 64 of each day (one in 8 of the late arrivals, about
  1 % of reads: fewer, larger files for every search that reads all buckets).
- `arrival=live` holds reads stored within 24 hours of capture (R-LATE: not late), under their UTC
  capture date. Late reads (up to 365 days old, R-RET-365) would open partitions of any of 365 past
  dates in Firehose's buffer at once, beyond its active-partition limit, so they go to `arrival=late`
  under the UTC date they were stored: a read stored on day S was captured between S - 365 days and
  S - 1 day, so a search of capture days [F, T] reads late days [F + 1, T + 365] (up to today).

Pure: no I/O, no clock; callers pass the instants.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from nas.catalogue import READ_ARRIVAL_PARTITION, READ_BUCKET_PARTITION, READ_DAY_PARTITION, READS_PREFIX
from nas.domain.policy import SEARCH_RETENTION
from nas.domain.timefmt import utc_date

VRM_BUCKETS = 64
"""Buckets per day of live arrivals. A VRM search reads 1/64 of a window (the bench's bytes fraction
target is 0.02); with the late arrivals' 8, live days (up to 3) and late days (up to 2) make 208 active
partitions in Firehose, under the 500 a delivery stream has by default (docs/search.md)."""
LATE_VRM_BUCKETS = 8
"""Buckets per day of late arrivals: a read's live bucket modulo 8, so one VRM is in one of each."""
LATE_LAG_DAYS = SEARCH_RETENTION.days
"""A late read is stored at most this many days after its capture date (older ones are quarantined)."""


class Arrival(StrEnum):
    LIVE = "live"
    """Stored within 24 hours of capture: `day` is the UTC capture date."""
    LATE = "late"
    """Stored more than 24 hours after capture (R-LATE): `day` is the UTC date it was stored."""


def vrm_bucket(vrm_canonical: str) -> int:
    """The (live) storage bucket of a canonical VRM: BLAKE2b, stable across processes and Python
    versions (unlike `hash`), and spread evenly over `VRM_BUCKETS`."""
    digest = hashlib.blake2b(vrm_canonical.encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % VRM_BUCKETS


def buckets_of(arrival: Arrival) -> int:
    return VRM_BUCKETS if arrival is Arrival.LIVE else LATE_VRM_BUCKETS


def bucket_in(arrival: Arrival, live_bucket: int) -> int:
    """Where a VRM of live bucket `live_bucket` is stored among `arrival`'s buckets."""
    return live_bucket % buckets_of(arrival)


@dataclass(frozen=True, slots=True, order=True)
class Partition:
    """One Hive partition of the reads table: (arrival, day, vrm_bucket)."""

    arrival: Arrival
    day: date
    vrm_bucket: int

    def __post_init__(self) -> None:
        if not 0 <= self.vrm_bucket < buckets_of(self.arrival):
            raise ValueError(
                f"vrm_bucket must be in 0..{buckets_of(self.arrival) - 1} for {self.arrival} reads"
            )

    @property
    def prefix(self) -> str:
        """The object key prefix of the partition in the reads bucket (ends with `/`)."""
        return (
            f"{READS_PREFIX}{READ_ARRIVAL_PARTITION}={self.arrival.value}/{READ_DAY_PARTITION}={self.day.isoformat()}"
            f"/{READ_BUCKET_PARTITION}={self.vrm_bucket}/"
        )

    def values(self) -> dict[str, str | int]:
        """The partition values as the stored row carries them for Firehose's partition keys."""
        return {
            READ_ARRIVAL_PARTITION: self.arrival.value,
            READ_DAY_PARTITION: self.day.isoformat(),
            READ_BUCKET_PARTITION: self.vrm_bucket,
        }


def partition_of(*, captured_at: datetime, vrm_canonical: str, late: bool, stored_at: datetime) -> Partition:
    """Where a read is stored: its arrival by R-LATE, its day by capture (live) or storage (late)."""
    arrival = Arrival.LATE if late else Arrival.LIVE
    day = date.fromisoformat(utc_date(stored_at if late else captured_at))
    return Partition(arrival, day, bucket_in(arrival, vrm_bucket(vrm_canonical)))


@dataclass(frozen=True, slots=True)
class DayRange:
    """The days of one arrival a search reads, both ends included."""

    arrival: Arrival
    first: date
    last: date

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def day_ranges(first_capture_day: date, last_capture_day: date, today: date) -> tuple[DayRange, ...]:
    """The partitions' days that can hold reads captured from `first_capture_day` to `last_capture_day`:
    those days of live arrivals; of late arrivals the days they could have been stored, from the day
    after the first to 365 days after the last, never after `today`."""
    ranges = [DayRange(Arrival.LIVE, first_capture_day, min(last_capture_day, today + timedelta(days=1)))]
    late_first = first_capture_day + timedelta(days=1)
    late_last = min(last_capture_day + timedelta(days=LATE_LAG_DAYS), today)
    if late_first <= late_last:
        ranges.append(DayRange(Arrival.LATE, late_first, late_last))
    return tuple(r for r in ranges if r.first <= r.last)


_REF_PREFIX = "r1."
_REF_PART = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass(frozen=True, slots=True)
class ReadRef:
    """Reaches one stored read by reading one partition: (arrival, day, bucket) and, inside it, the
    read's (camera_id, read_id). Shown to callers as an opaque string (`encode`)."""

    partition: Partition
    camera_id: str
    read_id: str

    def encode(self) -> str:
        text = "|".join(
            (
                self.partition.arrival.value,
                self.partition.day.isoformat(),
                str(self.partition.vrm_bucket),
                self.camera_id,
                self.read_id,
            )
        )
        return _REF_PREFIX + base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> ReadRef:
        """The reference behind `text`; ValueError for anything `encode` did not make."""
        if not text.startswith(_REF_PREFIX) or len(text) > 300:
            raise ValueError("not a read reference")
        body = text[len(_REF_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
            arrival, day, bucket, camera_id, read_id = raw.split("|")
            ref = cls(Partition(Arrival(arrival), date.fromisoformat(day), int(bucket)), camera_id, read_id)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ValueError("not a read reference") from None
        if not (_REF_PART.fullmatch(camera_id) and _REF_PART.fullmatch(read_id)) or ref.encode() != text:
            raise ValueError("not a read reference")
        return ref
