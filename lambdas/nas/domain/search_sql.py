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

Corrections (R-CORRECT) and restrictions (R-SAR) are part of the statement, not a filter after it:
a plan with `fixes` joins a `fixes` relation of parameters (camera, read id, effective VRM and its
canonical form) to the stored rows, matches and returns the effective VRM (`COALESCE(f.vrm, r.vrm)`)
and reads the corrected reads' partitions too; `restricted` VRMs are excluded by effective VRM. The row
limit therefore counts what the caller may see, exactly as without them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from nas.catalogue import READ_ROW_COLUMNS
from nas.domain.layout import DayRange, Partition, ReadRef, bucket_in
from nas.domain.packing import ImageRef
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
from nas.domain.stored import StoredRow

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
    "corrected",
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

    def partitions(
        self,
        ranges: Sequence[DayRange],
        live_bucket: int | None = None,
        alias: str = "",
        extra: Sequence[Partition] = (),
    ) -> str:
        """The partitions read: one term per arrival, its days and (given one VRM's live bucket) its
        bucket among that arrival's (`layout.bucket_in`); then each of `extra` (the partitions of
        corrected reads a one-bucket search reads besides)."""
        terms = []
        for r in ranges:
            term = (
                f"{alias}arrival = '{r.arrival.value}' AND {alias}day BETWEEN "
                f"{self.text(r.first.isoformat())} AND {self.text(r.last.isoformat())}"
            )
            if live_bucket is not None:
                term += f" AND {alias}vrm_bucket = {self.number(bucket_in(r.arrival, live_bucket))}"
            terms.append(f"({term})")
        if live_bucket is not None:
            terms += [self.partition(p, alias) for p in extra]
        return "(" + " OR ".join(terms) + ")"

    def partition(self, partition: Partition, alias: str = "") -> str:
        day, bucket = self.text(partition.day.isoformat()), self.number(partition.vrm_bucket)
        arrival = partition.arrival.value
        return f"({alias}arrival = '{arrival}' AND {alias}day = {day} AND {alias}vrm_bucket = {bucket})"

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


class _Effective:
    """The columns a search matches and returns, as corrections (R-CORRECT) leave them: with fixes,
    the stored rows (`r`) joined to the `fixes` relation (`f`); without, the stored columns."""

    def __init__(self, plan: SearchPlan, b: _Builder) -> None:
        self.any = bool(plan.fixes)
        if not self.any:
            self.relation, self.join = "", ""
            self.vrm, self.canonical, self.corrected = "r.vrm", "r.vrm_canonical", "FALSE"
            return
        values = ", ".join(
            "(" + b.texts((f.ref.camera_id, f.ref.read_id, f.vrm, f.vrm_canonical)) + ")" for f in plan.fixes
        )
        columns = "camera_id, read_id, vrm, vrm_canonical"
        # Code constants and ? placeholders only: every value of a fix is a parameter.
        self.relation = f"fixes AS (\n  SELECT {columns}\n  FROM (VALUES {values}) AS v ({columns})\n)"  # noqa: S608
        self.join = " LEFT JOIN fixes AS f ON f.camera_id = r.camera_id AND f.read_id = r.read_id"
        self.vrm = "COALESCE(f.vrm, r.vrm)"
        self.canonical = "COALESCE(f.vrm_canonical, r.vrm_canonical)"
        self.corrected = "(f.vrm IS NOT NULL)"

    def restricted(self, plan: SearchPlan, b: _Builder) -> list[str]:
        """R-SAR: restricted VRMs' reads are not returned (by the VRM they show)."""
        return [f"{self.vrm} NOT IN ({b.texts(plan.restricted)})"] if plan.restricted else []


def _reads(plan: SearchPlan, b: _Builder) -> str:
    """vrm, partial and location: matching reads, one copy each, newest first."""
    e = _Effective(plan, b)
    conditions = [b.partitions(plan.day_ranges, plan.vrm_bucket, "r.", plan.fix_partitions())]
    if plan.search_type is SearchType.VRM:
        vrm, canonical = _needed(plan.vrm, "vrm"), _needed(plan.vrm_canonical, "vrm_canonical")
        conditions.append(f"{e.canonical} = {b.text(canonical)}")
        if plan.exact:
            conditions.append(f"{e.vrm} = {b.text(vrm)}")
    elif plan.search_type is SearchType.PARTIAL:
        conditions.append(f"{e.vrm} LIKE {b.text(_needed(plan.like, 'like'))}")
    else:
        conditions.append(f"r.camera_id IN ({b.texts(plan.camera_ids)})")
    conditions += e.restricted(plan, b)
    conditions.append(b.between("r.captured_at", plan.window_from, plan.window_to))
    where = "\n    AND ".join(conditions)
    with_fixes = f"WITH {e.relation}\n" if e.any else ""
    return f"""{with_fixes}SELECT read_id, vrm, captured_ms, camera_id, lea, lat, lon, direction, confidence,
  arrival, day, vrm_bucket, corrected
FROM (
  SELECT r.read_id, {e.vrm} AS vrm, {b.d.epoch_ms("r.captured_at")} AS captured_ms, r.camera_id, r.lea,
    r.lat, r.lon, r.direction, r.confidence, r.arrival, r.day, r.vrm_bucket, {e.corrected} AS corrected,
    {_one_copy("r.")} AS copy
  FROM {READS_TABLE} AS r{e.join}
  WHERE {where}
) AS found
WHERE copy = 1
ORDER BY captured_ms DESC, camera_id, read_id
LIMIT {plan.limit}"""  # noqa: S608 - code constants and ? placeholders only


def _convoy(plan: SearchPlan, b: _Builder) -> str:
    """Other VRMs at the target's cameras within ±within_s of its reads, on at least min_sightings
    distinct target reads (occasions); their supporting reads listed (the first 50), one copy each.
    Target and companions are judged by effective VRM (R-CORRECT); restricted VRMs take no part."""
    vrm, within_s = _needed(plan.vrm, "vrm"), _needed(plan.within_s, "within_s")
    e = _Effective(plan, b)
    target_where = "\n        AND ".join(
        [
            b.partitions(
                plan.target_day_ranges,
                _needed(plan.target_bucket, "target_bucket"),
                "r.",
                plan.fix_partitions(),
            ),
            f"{e.canonical} = {b.text(_needed(plan.vrm_canonical, 'vrm_canonical'))}",
            f"{e.vrm} = {b.text(vrm)}",
            *e.restricted(plan, b),
            b.between("r.captured_at", plan.window_from, plan.window_to),
        ]
    )
    earlier = b.d.shifted("t.captured_at")
    b.parameters.append(b.d.number(-within_s))
    later = b.d.shifted("t.captured_at")
    b.parameters.append(b.d.number(within_s))
    scan_where = "\n    AND ".join(
        [
            b.partitions(plan.day_ranges, alias="r."),
            f"{e.vrm} <> {b.text(vrm)}",
            *e.restricted(plan, b),
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
    with_fixes = f"{e.relation},\n" if e.any else ""
    return f"""WITH {with_fixes}target AS (
  SELECT camera_id, captured_at, read_id
  FROM (
    SELECT r.camera_id, r.captured_at, r.read_id, {_one_copy("r.")} AS copy
    FROM {READS_TABLE} AS r{e.join}
    WHERE {target_where}
  ) AS t
  WHERE copy = 1
),
seen AS (
  SELECT {e.vrm} AS vrm, r.camera_id, r.read_id, r.captured_at, r.arrival, r.day, r.vrm_bucket,
    t.read_id AS occasion, t.camera_id AS occasion_camera,
    {_one_copy("r.", ", t.camera_id, t.read_id")} AS copy
  FROM {READS_TABLE} AS r{e.join}
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


def _bool(value: ResultValue) -> bool:
    """Athena's `true`/`false` text or DuckDB's bool."""
    return value is True or str(value).lower() == "true"


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
        corrected=_bool(row["corrected"]),
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


# --- stored rows by reference (read views, preservations) -------------------------------------------

STORED_COLUMNS = tuple(name for name, _ in READ_ROW_COLUMNS)
_STORED_TIMES = ("captured_at", "ingested_at")
STORED_RESULT_COLUMNS = (
    *(f"{n}_ms" if n in _STORED_TIMES else n for n in STORED_COLUMNS),
    "arrival",
    "day",
    "vrm_bucket",
)
MAX_REFS_PER_STATEMENT = 100
"""Reads one stored-row statement fetches: each is two parameters, each partition three."""


def stored_statement(refs: Sequence[ReadRef], dialect: Dialect) -> Statement:
    """Every stored copy of the referenced reads, reading only their partitions (one each, in the
    usual case of a read view): every column, times as epoch milliseconds."""
    if not refs or len(refs) > MAX_REFS_PER_STATEMENT:
        raise ValueError(f"a stored-row statement takes 1 to {MAX_REFS_PER_STATEMENT} references")
    b = _Builder(dialect)
    partitions = " OR ".join(b.partition(p) for p in sorted({r.partition for r in refs}))
    reads = " OR ".join(
        f"(camera_id = {b.text(r.camera_id)} AND read_id = {b.text(r.read_id)})"
        for r in sorted(set(refs), key=lambda r: (r.camera_id, r.read_id))
    )
    columns = ", ".join(
        f"{dialect.epoch_ms(n)} AS {n}_ms" if n in _STORED_TIMES else n for n in STORED_COLUMNS
    )
    sql = f"""SELECT {columns}, arrival, day, vrm_bucket
FROM {READS_TABLE}
WHERE ({partitions})
  AND ({reads})
ORDER BY camera_id, read_id, ingested_at"""  # noqa: S608 - code constants and ? placeholders only
    return Statement(sql, tuple(b.parameters))


def _image(key: ResultValue, offset: ResultValue, length: ResultValue) -> ImageRef | None:
    text, start, size = _text(key), _int(offset), _int(length)
    if text is None or start is None or size is None:
        return None
    return ImageRef(text, start, size)


def stored_row(values: Sequence[ResultValue]) -> StoredRow:
    """A row of STORED_RESULT_COLUMNS as a stored read."""
    row = dict(zip(STORED_RESULT_COLUMNS, values, strict=True))
    return StoredRow(
        read_id=_required(row["read_id"], "read_id"),
        camera_id=_required(row["camera_id"], "camera_id"),
        vrm=_required(row["vrm"], "vrm"),
        vrm_canonical=_required(row["vrm_canonical"], "vrm_canonical"),
        captured_at=_instant(row["captured_at_ms"]),
        lea=_required(row["lea"], "lea"),
        source=_required(row["source"], "source"),
        lat=_float(row["lat"]),
        lon=_float(row["lon"]),
        direction=_text(row["direction"]),
        lane=_int(row["lane"]),
        confidence=_int(row["confidence"]),
        late=_bool(row["late"]),
        ingested_at=_instant(row["ingested_at_ms"]),
        plate=_image(row["plate_image_key"], row["plate_image_offset"], row["plate_image_length"]),
        overview=_image(
            row["overview_image_key"], row["overview_image_offset"], row["overview_image_length"]
        ),
        partition=partition_of_row(
            _required(row["arrival"], "arrival"), _required(row["day"], "day"), _int(row["vrm_bucket"]) or 0
        ),
    )
