"""One `SearchPlan`, two SQL dialects: Athena (Trino) in AWS, DuckDB locally and in tests.

The statements are built from the same text; where the dialects differ, the difference is one entry of
`Dialect`, side by side below. No value a caller sent is ever part of the SQL text: every VRM, pattern,
camera, bound and bucket is a `?` parameter (Athena `ExecutionParameters`, DuckDB prepared values).
The text holds only constants of the code (column names, `'live'`/`'late'`, separators, the row limit).

Side by side (Athena | DuckDB):

- a parameter: SQL literal text (`'AB12CDE'`, `17`) | the Python value;
- an instant parameter: `CAST(? AS TIMESTAMP)` with `'2026-11-01 08:00:00.000'` (UTC without zone, the
  Glue `timestamp`) | `CAST(? AS TIMESTAMPTZ)` with `'2026-11-01T08:00:00.000000+00:00'` (the local
  sink's Parquet is UTC-zoned);
- epoch milliseconds: `CAST(to_unixtime(x) * 1000 AS BIGINT)` | `epoch_ms(x)`;
- an instant moved by seconds: `date_add('second', ?, x)` | `x + to_seconds(?)`;
- an ordered list as text: `array_join(array_agg(v ORDER BY o) FILTER (WHERE c), ',')` |
  `string_agg(v, ',' ORDER BY o) FILTER (WHERE c)`.

Instants are compared and returned in UTC in both (DuckDB would take a zoned timestamp's date in the
session's zone; nothing here takes a date of a timestamp: days come from the partition values).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from nas.domain.layout import DayRange, ReadRef, bucket_in
from nas.domain.search import (
    MAX_CONVOY_SUPPORT,
    ConvoyHit,
    Hit,
    ReadHit,
    SearchPlan,
    SearchType,
    Sighting,
    partition_of_row,
)

READS_TABLE = "reads"
# Columns every read row of a result carries, in order; the engines turn them into `ReadHit`s.
READ_RESULT_COLUMNS = (
    "read_id",
    "vrm",
    "captured_ms",
    "camera_id",
    "lea",
    "lat",
    "lon",
    "direction",
    "confidence",
    "arrival",
    "day",
    "vrm_bucket",
)
CONVOY_RESULT_COLUMNS = ("vrm", "sightings", "supporting_reads", "support")
SUPPORT_SEPARATOR = ","
SUPPORT_FIELD_SEPARATOR = "|"

Value = str | int


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    timestamp_param: str
    epoch_ms: Callable[[str], str]
    shifted: Callable[[str], str]
    """`x` moved by a `?` number of seconds (negative: earlier)."""
    joined_list: Callable[[str, str, str], str]
    """(value, order, condition) → the values as one comma-separated text."""
    instant: Callable[[datetime], Value]
    text: Callable[[str], Value]
    number: Callable[[int], Value]


def _athena_text(value: str) -> str:
    # ExecutionParameters are SQL literals; quotes are doubled so no value can end its literal.
    return "'" + value.replace("'", "''") + "'"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return moment.astimezone(UTC)


ATHENA = Dialect(
    name="athena",
    timestamp_param="CAST(? AS TIMESTAMP)",
    epoch_ms=lambda x: f"CAST(to_unixtime({x}) * 1000 AS BIGINT)",
    shifted=lambda x: f"date_add('second', ?, {x})",
    joined_list=lambda v, o, c: f"array_join(array_agg({v} ORDER BY {o}) FILTER (WHERE {c}), ',')",
    instant=lambda m: _athena_text(_utc(m).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]),
    text=_athena_text,
    number=str,
)
DUCKDB = Dialect(
    name="duckdb",
    timestamp_param="CAST(? AS TIMESTAMPTZ)",
    epoch_ms=lambda x: f"epoch_ms({x})",
    shifted=lambda x: f"{x} + to_seconds(?)",
    joined_list=lambda v, o, c: f"string_agg({v}, ',' ORDER BY {o}) FILTER (WHERE {c})",
    instant=lambda m: _utc(m).isoformat(timespec="microseconds"),
    text=lambda v: v,
    number=lambda n: n,
)


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    parameters: tuple[Value, ...]


class _Builder:
    """Collects parameters in the order their `?` appear in the text."""

    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self.parameters: list[Value] = []

    def text(self, value: str) -> str:
        self.parameters.append(self.d.text(value))
        return "?"

    def number(self, value: int) -> str:
        self.parameters.append(self.d.number(value))
        return "?"

    def instant(self, value: datetime) -> str:
        self.parameters.append(self.d.instant(value))
        return self.d.timestamp_param

    def texts(self, values: Sequence[str]) -> str:
        return ", ".join(self.text(v) for v in values)

    def partitions(self, ranges: Sequence[DayRange], live_bucket: int | None = None, alias: str = "") -> str:
        """The partitions read: one term per arrival, its days and (given one VRM's live bucket) its
        bucket among that arrival's (`layout.bucket_in`)."""
        terms = []
        for r in ranges:
            term = (
                f"{alias}arrival = '{r.arrival.value}' AND {alias}day BETWEEN "
                f"{self.text(r.first.isoformat())} AND {self.text(r.last.isoformat())}"
            )
            if live_bucket is not None:
                term += f" AND {alias}vrm_bucket = {self.number(bucket_in(r.arrival, live_bucket))}"
            terms.append(f"({term})")
        return "(" + " OR ".join(terms) + ")"

    def between(self, column: str, first: datetime, last: datetime) -> str:
        return f"{column} BETWEEN {self.instant(first)} AND {self.instant(last)}"


# R-DUP: of a read delivered twice (same camera and read id), keep the copy stored first.
_ONE_COPY = (
    "row_number() OVER (PARTITION BY {p}camera_id, {p}read_id{extra}"
    " ORDER BY {p}ingested_at, {p}arrival DESC)"
)


def _one_copy(prefix: str = "", extra: str = "") -> str:
    return _ONE_COPY.format(p=prefix, extra=extra)


def statement(plan: SearchPlan, dialect: Dialect) -> Statement:
    """The plan as one SQL statement of `dialect` with its parameters."""
    if plan.empty:
        raise ValueError("an empty plan has no statement: nothing can match")
    builder = _Builder(dialect)
    sql = _convoy(plan, builder) if plan.search_type is SearchType.CONVOY else _reads(plan, builder)
    return Statement(sql, tuple(builder.parameters))


def _needed[T](value: T | None, name: str) -> T:
    if value is None:
        raise ValueError(f"the plan has no {name}")
    return value


def _reads(plan: SearchPlan, b: _Builder) -> str:
    """vrm, partial and location: matching reads, one copy each, newest first."""
    conditions = [b.partitions(plan.day_ranges, plan.vrm_bucket)]
    if plan.search_type is SearchType.VRM:
        vrm, canonical = _needed(plan.vrm, "vrm"), _needed(plan.vrm_canonical, "vrm_canonical")
        conditions.append(f"vrm_canonical = {b.text(canonical)}")
        if plan.exact:
            conditions.append(f"vrm = {b.text(vrm)}")
    elif plan.search_type is SearchType.PARTIAL:
        conditions.append(f"vrm LIKE {b.text(_needed(plan.like, 'like'))}")
    else:
        conditions.append(f"camera_id IN ({b.texts(plan.camera_ids)})")
    conditions.append(b.between("captured_at", plan.window_from, plan.window_to))
    where = "\n    AND ".join(conditions)
    return f"""SELECT read_id, vrm, captured_ms, camera_id, lea, lat, lon, direction, confidence,
  arrival, day, vrm_bucket
FROM (
  SELECT read_id, vrm, {b.d.epoch_ms("captured_at")} AS captured_ms, camera_id, lea, lat, lon,
    direction, confidence, arrival, day, vrm_bucket,
    {_one_copy()} AS copy
  FROM {READS_TABLE}
  WHERE {where}
) AS found
WHERE copy = 1
ORDER BY captured_ms DESC, camera_id, read_id
LIMIT {plan.limit}"""  # noqa: S608 - code constants and ? placeholders only


def _convoy(plan: SearchPlan, b: _Builder) -> str:
    """Other VRMs at the target's cameras within ±within_s of its reads, on at least min_sightings
    distinct target reads (occasions); their supporting reads listed (the first 50), one copy each."""
    vrm, within_s = _needed(plan.vrm, "vrm"), _needed(plan.within_s, "within_s")
    target_where = "\n        AND ".join(
        [
            b.partitions(plan.target_day_ranges, _needed(plan.target_bucket, "target_bucket")),
            f"vrm_canonical = {b.text(_needed(plan.vrm_canonical, 'vrm_canonical'))}",
            f"vrm = {b.text(vrm)}",
            b.between("captured_at", plan.window_from, plan.window_to),
        ]
    )
    earlier = b.d.shifted("t.captured_at")
    b.parameters.append(b.d.number(-within_s))
    later = b.d.shifted("t.captured_at")
    b.parameters.append(b.d.number(within_s))
    scan_where = "\n    AND ".join(
        [
            b.partitions(plan.day_ranges, alias="r."),
            f"r.vrm <> {b.text(vrm)}",
            b.between(
                "r.captured_at", _needed(plan.scan_from, "scan_from"), _needed(plan.scan_to, "scan_to")
            ),
        ]
    )
    min_sightings = b.number(_needed(plan.min_sightings, "min_sightings"))
    sep = SUPPORT_FIELD_SEPARATOR
    support = (
        f"concat_ws('{sep}', arrival, day, CAST(vrm_bucket AS VARCHAR), camera_id, read_id,"
        f" CAST({b.d.epoch_ms('captured_at')} AS VARCHAR))"
    )
    listed = b.d.joined_list(support, "captured_at, camera_id, read_id", f"n <= {MAX_CONVOY_SUPPORT}")
    return f"""WITH target AS (
  SELECT camera_id, captured_at, read_id
  FROM (
    SELECT camera_id, captured_at, read_id, {_one_copy()} AS copy
    FROM {READS_TABLE}
    WHERE {target_where}
  ) AS t
  WHERE copy = 1
),
seen AS (
  SELECT r.vrm, r.camera_id, r.read_id, r.captured_at, r.arrival, r.day, r.vrm_bucket,
    t.read_id AS occasion, t.camera_id AS occasion_camera,
    {_one_copy("r.", ", t.camera_id, t.read_id")} AS copy
  FROM {READS_TABLE} AS r
  JOIN target AS t
    ON r.camera_id = t.camera_id
    AND r.captured_at BETWEEN {earlier} AND {later}
  WHERE {scan_where}
),
occasions AS (
  SELECT vrm, count(DISTINCT concat_ws('{sep}', occasion_camera, occasion)) AS sightings
  FROM seen
  WHERE copy = 1
  GROUP BY vrm
  HAVING count(DISTINCT concat_ws('{sep}', occasion_camera, occasion)) >= {min_sightings}
),
supporting AS (
  SELECT DISTINCT s.vrm, s.camera_id, s.read_id, s.captured_at, s.arrival, s.day, s.vrm_bucket
  FROM seen AS s
  JOIN occasions AS o ON s.vrm = o.vrm
  WHERE s.copy = 1
),
ranked AS (
  SELECT vrm, camera_id, read_id, captured_at, arrival, day, vrm_bucket,
    row_number() OVER (PARTITION BY vrm ORDER BY captured_at, camera_id, read_id) AS n
  FROM supporting
)
SELECT o.vrm, o.sightings, count(*) AS supporting_reads, {listed} AS support
FROM occasions AS o
JOIN ranked AS r ON r.vrm = o.vrm
GROUP BY o.vrm, o.sightings
ORDER BY o.sightings DESC, o.vrm
LIMIT {plan.limit}"""  # noqa: S608 - code constants and ? placeholders only


# Athena returns every value as text (NULL as absent); DuckDB returns typed values. Both become hits here.

ResultValue = str | int | float | None


def _text(value: ResultValue) -> str | None:
    return None if value is None or value == "" else str(value)


def _int(value: ResultValue) -> int | None:
    text = _text(value)
    return None if text is None else int(text)


def _float(value: ResultValue) -> float | None:
    text = _text(value)
    return None if text is None else float(text)


def _instant(millis: ResultValue) -> datetime:
    ms = _int(millis)
    if ms is None:
        raise ValueError("a result row has no capture time")
    return datetime.fromtimestamp(ms / 1000, UTC).replace(microsecond=(ms % 1000) * 1000)


def _required(value: ResultValue, name: str) -> str:
    text = _text(value)
    if text is None:
        raise ValueError(f"a result row has no {name}")
    return text


def read_hit(values: Sequence[ResultValue]) -> ReadHit:
    """A row of READ_RESULT_COLUMNS as a hit."""
    row = dict(zip(READ_RESULT_COLUMNS, values, strict=True))
    camera_id, read_id = _required(row["camera_id"], "camera_id"), _required(row["read_id"], "read_id")
    partition = partition_of_row(
        _required(row["arrival"], "arrival"), _required(row["day"], "day"), _int(row["vrm_bucket"]) or 0
    )
    return ReadHit(
        read_id=read_id,
        vrm=_required(row["vrm"], "vrm"),
        captured_at=_instant(row["captured_ms"]),
        camera_id=camera_id,
        lea=_required(row["lea"], "lea"),
        lat=_float(row["lat"]),
        lon=_float(row["lon"]),
        direction=_text(row["direction"]),
        confidence=_int(row["confidence"]),
        ref=ReadRef(partition, camera_id, read_id),
    )


def convoy_hit(values: Sequence[ResultValue]) -> ConvoyHit:
    """A row of CONVOY_RESULT_COLUMNS as a hit: the supporting reads come as one text."""
    row = dict(zip(CONVOY_RESULT_COLUMNS, values, strict=True))
    reads = []
    for item in (_text(row["support"]) or "").split(SUPPORT_SEPARATOR):
        if not item:
            continue
        arrival, day, bucket, camera_id, read_id, millis = item.split(SUPPORT_FIELD_SEPARATOR)
        partition = partition_of_row(arrival, day, int(bucket))
        reads.append(Sighting(read_id, camera_id, _instant(millis), ReadRef(partition, camera_id, read_id)))
    return ConvoyHit(
        vrm=_required(row["vrm"], "vrm"),
        sightings=_int(row["sightings"]) or 0,
        supporting_reads=_int(row["supporting_reads"]) or 0,
        reads=tuple(reads),
    )


def hit_of(search_type: SearchType, values: Sequence[ResultValue]) -> Hit:
    return convoy_hit(values) if search_type is SearchType.CONVOY else read_hit(values)
