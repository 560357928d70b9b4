"""Searches of stored reads (SPEC §6): the validated request, the rules checked before any query runs
(R-REASON, R-LIMIT, windows by type; R-ACCESS and R-AUTHZ live in `policy.require_lookback`), and the
one `SearchPlan` both engines run (Athena in AWS, DuckDB locally: `domain/search_sql.py`).

The plan is pure data: the partitions to read (arrival, days, VRM bucket), the predicates, the R-RET-365
floor (in the predicates and in the partitions listed), and the row limit (R-LIMIT: 1,000 rows; the
engines fetch 1,001 to know whether a search was truncated). Rows come back newest first, each read
once (R-DUP: by camera and read id).

Two overlays live in the plan's predicates, so they count within R-LIMIT like any other condition:
corrections (R-CORRECT: `fixes`, the reads whose effective VRM is not the stored one; a search matches
and shows the effective VRM) and restrictions (R-SAR: `restricted`, VRMs whose reads no search returns
while a restriction is in force).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from nas.domain.corrections import Fix
from nas.domain.errors import InvalidInput
from nas.domain.layout import (
    Arrival,
    DayRange,
    Partition,
    ReadRef,
    bucket_in,
    buckets_of,
    day_ranges,
    vrm_bucket,
)
from nas.domain.models import Camera
from nas.domain.policy import InvestigationLevel, retention_floor
from nas.domain.timefmt import utc_date
from nas.domain.vrm import canonical_vrm, normalise_vrm

ROW_LIMIT = 1000
"""R-LIMIT: rows one search returns at most."""
FETCH_LIMIT = ROW_LIMIT + 1
"""Rows an engine fetches: one more than returned, to know the search was truncated."""
PAGE_LIMIT = 100
"""R-LIMIT: rows in one page."""
MAX_PARTIAL_WINDOW = timedelta(days=31)
MAX_CONVOY_WINDOW = timedelta(days=31)
MAX_LOCATION_WINDOW = timedelta(hours=24)
MAX_LOCATION_CAMERAS = 20
MAX_NEAR_RADIUS_M = 2000
MIN_PATTERN_FIXED = 3
MAX_CONVOY_WITHIN_S = 600
MAX_CONVOY_SUPPORT = 50
"""Supporting reads listed per convoy row (the count covers them all)."""
MIN_REASON_CHARS = 10
EARTH_RADIUS_M = 6_371_008.8
MAX_FIXES = 1000
"""Corrections one search applies at most (each is four parameters of its statement). Corrections are
made by hand, a few a day per force; a window holding more is refused rather than searched wrongly."""
MAX_RESTRICTED = 500
"""VRMs under a restriction (R-SAR) one search excludes at most; restrictions are rare and short."""


class SearchType(StrEnum):
    VRM = "vrm"
    PARTIAL = "partial"
    LOCATION = "location"
    CONVOY = "convoy"


class Purpose(StrEnum):
    """R-REASON: the lawful purposes a search may serve."""

    NATIONAL_SECURITY = "national-security"
    CRIME = "crime"
    TAX_DUTY = "tax-duty"
    PUBLIC_SAFETY = "public-safety"


class SearchStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    """Succeeded, but its rows are gone: results are kept one day (SPEC §4)."""


@dataclass(frozen=True, slots=True)
class VrmCriteria:
    vrm: str
    ocr_tolerant: bool = False


@dataclass(frozen=True, slots=True)
class PartialCriteria:
    pattern: str
    """Normalised: upper case, `?` one character, `*` any run (never two in a row)."""

    @property
    def like(self) -> str:
        """The same pattern for SQL LIKE (`_`, `%`); the pattern holds no other LIKE metacharacter."""
        return self.pattern.replace("?", "_").replace("*", "%")


@dataclass(frozen=True, slots=True)
class Near:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class LocationCriteria:
    camera_ids: tuple[str, ...] = ()
    near: Near | None = None


@dataclass(frozen=True, slots=True)
class ConvoyCriteria:
    vrm: str
    within_s: int = 120
    min_sightings: int = 3


Criteria = VrmCriteria | PartialCriteria | LocationCriteria | ConvoyCriteria


def search_type_of(criteria: Criteria) -> SearchType:
    return {
        VrmCriteria: SearchType.VRM,
        PartialCriteria: SearchType.PARTIAL,
        LocationCriteria: SearchType.LOCATION,
        ConvoyCriteria: SearchType.CONVOY,
    }[type(criteria)]


@dataclass(frozen=True, slots=True)
class Why:
    """R-REASON: what every search carries."""

    purpose: Purpose
    reason: str
    case_ref: str


@dataclass(frozen=True, slots=True)
class SearchRequest:
    criteria: Criteria
    window_from: datetime
    window_to: datetime
    level: InvestigationLevel
    why: Why
    authorisation_id: str | None = None

    @property
    def search_type(self) -> SearchType:
        return search_type_of(self.criteria)


def vrm_of(field_name: str, raw: str) -> str:
    """R-VRM normalisation of a searched VRM; a 400 naming `field_name` when it is no VRM."""
    try:
        return normalise_vrm(raw)
    except ValueError as exc:
        raise InvalidInput(field_name, str(exc)) from None


_PATTERN = re.compile(r"[A-Z0-9?*]+")


def parse_pattern(raw: str) -> PartialCriteria:
    """R-LIMIT: a partial plate of `[A-Z0-9]`, `?` (exactly one character) and `*` (any run, possibly
    empty), with at least 3 fixed characters and short enough to match a VRM (at most 10 characters
    besides `*`). Spaces and hyphens are dropped and letters upper-cased, as for a VRM (R-VRM)."""
    if not raw.isascii():
        raise InvalidInput("pattern", "must be letters, digits, ? and *")
    pattern = re.sub(r"\*+", "*", raw.replace(" ", "").replace("-", "").upper())
    if not _PATTERN.fullmatch(pattern):
        raise InvalidInput("pattern", "must be letters, digits, ? and *")
    fixed = sum(ch not in "?*" for ch in pattern)
    if fixed < MIN_PATTERN_FIXED:
        raise InvalidInput("pattern", f"needs at least {MIN_PATTERN_FIXED} fixed characters (R-LIMIT)")
    if len(pattern.replace("*", "")) > 10:
        raise InvalidInput("pattern", "can match no VRM: more than 10 characters besides *")
    return PartialCriteria(pattern)


def require_reason(why: Why) -> None:
    """R-REASON: a purpose of the four (the type holds it), a reason of at least 10 characters, a case."""
    if len(why.reason.strip()) < MIN_REASON_CHARS:
        raise InvalidInput("reason", f"must be at least {MIN_REASON_CHARS} characters (R-REASON)")
    if not why.case_ref.strip():
        raise InvalidInput("case_ref", "is required (R-REASON)")


MAX_WINDOW = {
    SearchType.PARTIAL: MAX_PARTIAL_WINDOW,
    SearchType.CONVOY: MAX_CONVOY_WINDOW,
    SearchType.LOCATION: MAX_LOCATION_WINDOW,
}


def require_window(request: SearchRequest, now: datetime) -> None:
    """`from` before `to` and not in the future; partial and convoy searches span at most 31 days and
    location searches 24 hours (R-LIMIT). The lookback (R-ACCESS) is `policy.require_lookback`'s."""
    if request.window_from > now:
        raise InvalidInput("from", "must not be in the future")
    if request.window_to <= request.window_from:
        raise InvalidInput("to", "must be after from")
    limit = MAX_WINDOW.get(request.search_type)
    if limit is not None and request.window_to - request.window_from > limit:
        span = "24 hours" if limit < timedelta(days=1) else f"{limit.days} days"
        raise InvalidInput("to", f"a {request.search_type} search spans at most {span} (R-LIMIT)")


def require_criteria(criteria: Criteria) -> None:
    """Bounds a request model cannot express alone."""
    if isinstance(criteria, LocationCriteria):
        if bool(criteria.camera_ids) == (criteria.near is not None):
            raise InvalidInput("camera_ids", "give either camera_ids or near, not both")
        if len(criteria.camera_ids) > MAX_LOCATION_CAMERAS:
            raise InvalidInput("camera_ids", f"at most {MAX_LOCATION_CAMERAS} cameras (R-LIMIT)")
        if criteria.near is not None and not 0 < criteria.near.radius_m <= MAX_NEAR_RADIUS_M:
            raise InvalidInput("near.radius_m", f"must be more than 0 and at most {MAX_NEAR_RADIUS_M} m")
    if isinstance(criteria, ConvoyCriteria) and not 1 <= criteria.within_s <= MAX_CONVOY_WITHIN_S:
        raise InvalidInput("within_s", f"must be 1 to {MAX_CONVOY_WITHIN_S} seconds")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres: within a metre or so at 2 km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def cameras_near(cameras: Iterable[Camera], near: Near) -> tuple[str, ...]:
    """The registered cameras within `near.radius_m` of the point, nearest first; more than 20 is a
    400 naming `near.radius_m` (R-LIMIT), none a 400 naming `near`."""
    found = sorted(
        (distance_m(near.lat, near.lon, c.lat, c.lon), c.camera_id)
        for c in cameras
        if distance_m(near.lat, near.lon, c.lat, c.lon) <= near.radius_m
    )
    if not found:
        raise InvalidInput("near", "no registered camera within the radius")
    if len(found) > MAX_LOCATION_CAMERAS:
        raise InvalidInput(
            "near.radius_m",
            f"{len(found)} cameras are within the radius, at most {MAX_LOCATION_CAMERAS} may be (R-LIMIT)",
        )
    return tuple(camera_id for _, camera_id in found)


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """What a search reads and returns; both engines render it (`search_sql`). Times are UTC.

    - `window_from`..`window_to`: captures returned, both included; `window_from` is never before
      `floor` (R-RET-365, 365 days before the plan's `now`).
    - `day_ranges` and `vrm_bucket`: the partitions read; `vrm_bucket` is the live bucket (the late
      arrivals' is it modulo 8: `layout.bucket_in`); None reads every bucket.
    - convoy: targets are the reads of `vrm` inside the window (bucket `target_bucket`); companions
      are read from `scan_from`..`scan_to` (the window itself: never before the allowed `from`).
    """

    search_type: SearchType
    floor: datetime
    window_from: datetime
    window_to: datetime
    day_ranges: tuple[DayRange, ...]
    vrm_bucket: int | None = None
    vrm: str | None = None
    vrm_canonical: str | None = None
    exact: bool = True
    like: str | None = None
    camera_ids: tuple[str, ...] = ()
    within_s: int | None = None
    min_sightings: int | None = None
    target_bucket: int | None = None
    scan_from: datetime | None = None
    scan_to: datetime | None = None
    limit: int = FETCH_LIMIT
    target_day_ranges: tuple[DayRange, ...] = field(default=())
    fixes: tuple[Fix, ...] = ()
    """R-CORRECT: reads whose effective VRM differs from the stored one, within the plan's days."""
    restricted: tuple[str, ...] = ()
    """R-SAR: VRMs whose reads are excluded (by effective VRM) while a restriction is in force."""

    @property
    def empty(self) -> bool:
        """Nothing can match: the window lies wholly before the retention floor."""
        return not self.day_ranges

    def partitions(self, live_buckets: Iterable[int] | None = None) -> tuple[Partition, ...]:
        """Every partition the search may read, in order; with `live_buckets`, only those holding the
        VRMs of those (live) buckets. Without `live_buckets`, the partitions of corrected reads are
        added (a read corrected to the searched VRM is stored in the bucket of the VRM read)."""
        chosen = live_buckets
        if chosen is None and self.vrm_bucket is not None:
            chosen = (self.vrm_bucket,)
        found: list[Partition] = []
        for r in self.day_ranges:
            if chosen is None:
                buckets: Iterable[int] = range(buckets_of(r.arrival))
            else:
                buckets = sorted({bucket_in(r.arrival, b) for b in chosen})
            found += [Partition(r.arrival, day, b) for day in r.days() for b in buckets]
        if live_buckets is None:
            listed = set(found)
            found += [p for p in self.fix_partitions() if p not in listed]
        return tuple(found)

    def fix_partitions(self) -> tuple[Partition, ...]:
        """The partitions holding the corrected reads of `fixes`."""
        return tuple(sorted({f.ref.partition for f in self.fixes}))


def _ranges(first: datetime, last: datetime, now: datetime) -> tuple[DayRange, ...]:
    if last < first:
        return ()
    return day_ranges(date.fromisoformat(utc_date(first)), date.fromisoformat(utc_date(last)), _day(now))


def _day(moment: datetime) -> date:
    return date.fromisoformat(utc_date(moment))


def _within(partition: Partition, ranges: tuple[DayRange, ...]) -> bool:
    return any(r.arrival is partition.arrival and r.first <= partition.day <= r.last for r in ranges)


def plan_search(
    criteria: Criteria,
    *,
    window_from: datetime,
    window_to: datetime,
    now: datetime,
    fixes: Iterable[Fix] = (),
    restricted: Iterable[str] = (),
    limit: int = FETCH_LIMIT,
) -> SearchPlan:
    """The plan of an accepted search at `now`. The window is cut to R-RET-365's floor and to `now`
    whatever it asks, so no read older than 365 days is returned or its partition listed. Location
    criteria must already be resolved to camera ids. `fixes` (R-CORRECT) outside the window's days
    are left out; more than MAX_FIXES, or MAX_RESTRICTED restricted VRMs, is a 400 naming `from`."""
    floor = retention_floor(now)
    start = max(window_from, floor)
    end = min(window_to, now)
    search_type = search_type_of(criteria)
    ranges = _ranges(start, end, now)
    kept = tuple(f for f in fixes if _within(f.ref.partition, ranges))
    if len(kept) > MAX_FIXES:
        raise InvalidInput("from", f"the window holds over {MAX_FIXES} corrected reads; narrow it")
    excluded = tuple(sorted(set(restricted)))
    if len(excluded) > MAX_RESTRICTED:
        raise InvalidInput("from", f"over {MAX_RESTRICTED} VRMs are restricted; searches cannot run")
    base = {
        "search_type": search_type,
        "floor": floor,
        "window_from": start,
        "window_to": end,
        "fixes": kept,
        "restricted": excluded,
        "limit": limit,
    }
    if isinstance(criteria, VrmCriteria):
        canonical = canonical_vrm(criteria.vrm)
        return SearchPlan(
            **base,  # type: ignore[arg-type]
            day_ranges=ranges,
            vrm_bucket=vrm_bucket(canonical),
            vrm=criteria.vrm,
            vrm_canonical=canonical,
            exact=not criteria.ocr_tolerant,
        )
    if isinstance(criteria, PartialCriteria):
        return SearchPlan(**base, day_ranges=ranges, like=criteria.like)  # type: ignore[arg-type]
    if isinstance(criteria, LocationCriteria):
        if not criteria.camera_ids:
            raise ValueError("location criteria must be resolved to camera ids before planning")
        return SearchPlan(
            **base,  # type: ignore[arg-type]
            day_ranges=ranges,
            camera_ids=criteria.camera_ids,
        )
    canonical = canonical_vrm(criteria.vrm)
    # Companions are read inside the window too: a search never reaches before the `from` its
    # lookback was allowed (R-ACCESS), even by `within_s`.
    scan_from, scan_to = start, end
    return SearchPlan(
        **base,  # type: ignore[arg-type]
        day_ranges=_ranges(scan_from, scan_to, now),
        target_day_ranges=_ranges(start, end, now),
        vrm=criteria.vrm,
        vrm_canonical=canonical,
        target_bucket=vrm_bucket(canonical),
        within_s=criteria.within_s,
        min_sightings=criteria.min_sightings,
        scan_from=scan_from,
        scan_to=scan_to,
    )


@dataclass(frozen=True, slots=True)
class ReadHit:
    """One read a search found (SPEC §6 row): `vrm` is the effective VRM, `corrected` whether a
    correction changed it (R-CORRECT)."""

    read_id: str
    vrm: str
    captured_at: datetime
    camera_id: str
    lea: str
    lat: float | None
    lon: float | None
    direction: str | None
    confidence: int | None
    ref: ReadRef
    corrected: bool = False


@dataclass(frozen=True, slots=True)
class Sighting:
    """A read that supports a convoy row."""

    read_id: str
    camera_id: str
    captured_at: datetime
    ref: ReadRef


@dataclass(frozen=True, slots=True)
class ConvoyHit:
    """Another VRM seen near the target: on `sightings` distinct occasions (target reads), from
    `supporting_reads` reads, of which the first `MAX_CONVOY_SUPPORT` are listed."""

    vrm: str
    sightings: int
    supporting_reads: int
    reads: tuple[Sighting, ...]

    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.camera_id for r in self.reads))


Hit = ReadHit | ConvoyHit


def partition_of_row(arrival: str, day: str, bucket: int) -> Partition:
    return Partition(Arrival(arrival), date.fromisoformat(day), int(bucket))


SEARCH_RECORD_DAYS = 31
"""How long the searches table keeps a search (its rows expire after a day; the audit trail keeps
what was searched for good)."""


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """A search as the service keeps it: who ran it, what it looked for, where its query is."""

    search_id: str
    user: str
    created_at: datetime
    search_type: SearchType
    criteria: dict[str, object]
    """What was searched for (VRM, pattern, cameras, convoy settings), as plain JSON values."""
    window_from: datetime
    window_to: datetime
    level: InvestigationLevel
    why: Why
    authorisation_id: str | None
    status: SearchStatus
    engine: str
    execution_id: str | None
    row_count: int | None = None
    truncated: bool | None = None
    failure: str | None = None
    completed_at: datetime | None = None

    @property
    def expires_at(self) -> datetime:
        return self.created_at + timedelta(days=SEARCH_RECORD_DAYS)

    @property
    def finished(self) -> bool:
        return self.status in (SearchStatus.SUCCEEDED, SearchStatus.FAILED, SearchStatus.EXPIRED)


def criteria_document(criteria: Criteria) -> dict[str, object]:
    """The criteria as plain JSON values (kept with the search, shown in listings)."""
    if isinstance(criteria, VrmCriteria):
        return {"vrm": criteria.vrm, "ocr_tolerant": criteria.ocr_tolerant}
    if isinstance(criteria, PartialCriteria):
        return {"pattern": criteria.pattern}
    if isinstance(criteria, LocationCriteria):
        near = criteria.near
        return {
            "camera_ids": list(criteria.camera_ids),
            **({"near": {"lat": near.lat, "lon": near.lon, "radius_m": near.radius_m}} if near else {}),
        }
    return {"vrm": criteria.vrm, "within_s": criteria.within_s, "min_sightings": criteria.min_sightings}
