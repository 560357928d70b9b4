"""R-STATS: statistics of a UTC day that hold no personal data, as pure rules. What the daily job
counts (reads, quarantined records, alerts, outcomes, searches, refusals, VOI entries, the
capture→alert latency), how small counts are hidden, and the document and CSV it becomes.

No personal data, by construction rather than by care:
- every count is keyed by codes only (LEA, hour, source type, reason, category, outcome, search type,
  purpose, rule): never a VRM, camera id, coordinate, user name, image or free text;
- a key value that is not a short lowercase or LEA-style code (`CODE`) is counted as `other`, so a
  free-text value that reached a stored field cannot reach a report;
- a count under SUPPRESS_BELOW (1 to 4) is shown as `<5`: a small cell can single out a person (the
  one search of a small force's one investigator at 03:00); zero cells are left out;
- latency percentiles are given only over at least SUPPRESS_BELOW alerts.

The usage report for auditors (`usage_of`) is the exception R-STATS allows: auditors oversee users,
so it names them; it is computed on request and never stored with the daily statistics.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from nas.domain.audit import AuditRecord
from nas.domain.models import Alert
from nas.domain.timefmt import iso_utc

REPORT_FORMAT = "nas.daily-statistics.v1"
SUPPRESS_BELOW = 5
"""R-STATS: counts from 1 to 4 are shown as `<5`."""
SUPPRESSED = f"<{SUPPRESS_BELOW}"
OTHER = "other"
CODE = re.compile(r"[a-z][a-z-]{0,47}")
"""A code key value: lowercase letters and hyphens (`no-tax`, `static`, `lookback-exceeds-level`). No
digits and no capitals, so no VRM, camera id, coordinate or time can pass as one; LEA values are
checked against the list of LEAs instead (`Labels`)."""
PERCENTILES = (50, 95, 99)
MAX_USAGE_DAYS = 31
"""`GET /reports/usage` covers at most this many days (the audit chains of each are read)."""
SEARCH_ROUTE = "/searches"
READ_VIEW_ROUTES = frozenset({"/searches/{search_id}"})
"""Routes whose successful responses show stored reads to the caller: a page of a search's rows."""
REFUSED_STATUSES = frozenset({401, 403, 429})

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reads_by_lea_hour", ("lea", "hour")),
    ("reads_by_source", ("source",)),
    ("quarantined_by_reason", ("reason",)),
    ("alerts", ("lea", "source", "category")),
    ("outcomes", ("outcome",)),
    ("searches", ("lea", "type", "purpose")),
    ("refusals", ("rule",)),
    ("voi_entries_by_source", ("source",)),
)
"""The report's count sections and the keys of each row, in document order."""
CSV_COLUMNS = ("section", "lea", "hour", "source", "category", "reason", "outcome", "type", "purpose", "rule")


@dataclass(frozen=True, slots=True)
class ReadCount:
    """Reads captured in one hour of the day at cameras of one LEA and source type."""

    lea: str
    hour: int
    source: str
    count: int


@dataclass(frozen=True, slots=True)
class Labels:
    """What may be shown as a key: an LEA of the list (or NATIONAL), or a lowercase code."""

    leas: frozenset[str]

    def lea(self, value: object) -> str:
        return value if isinstance(value, str) and value in self.leas else OTHER

    def code(self, value: object) -> str:
        return value if isinstance(value, str) and CODE.fullmatch(value) else OTHER


def shown(count: int) -> int | str:
    """R-STATS small-count suppression: 1 to 4 as `<5`; 0 and 5 and over as they are."""
    if count < 0:
        raise ValueError("a count cannot be negative")
    return SUPPRESSED if 0 < count < SUPPRESS_BELOW else count


def percentile(sorted_values: Sequence[float], p: int) -> float:
    """The p-th percentile by the nearest-rank method (no interpolation: a value that occurred)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True, slots=True)
class DayInputs:
    """What the job gathered for one day, from the stores, before any rule is applied."""

    reads: Sequence[ReadCount]
    quarantined: Mapping[str, int]
    alerts: Sequence[Alert]
    events: Sequence[AuditRecord]
    voi_entries: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class DailyReport:
    day: date
    generated_at: datetime
    complete: bool
    """The day had ended when the report was made (today's report grows through the day)."""
    counts: Mapping[str, Counter[tuple[str, ...]]]
    latency_s: tuple[int, Mapping[int, float]]
    """(alerts measured, percentile → seconds)."""
    voi_as_of: datetime

    def document(self) -> dict[str, Any]:
        measured, percentiles = self.latency_s
        enough = measured >= SUPPRESS_BELOW
        doc: dict[str, Any] = {
            "format": REPORT_FORMAT,
            "day": self.day.isoformat(),
            "generated_at": iso_utc(self.generated_at),
            "complete": self.complete,
            "suppressed_below": SUPPRESS_BELOW,
            "voi_entries_as_of": iso_utc(self.voi_as_of),
        }
        for section, keys in SECTIONS:
            counted = self.counts.get(section, Counter())
            doc[section] = [
                {**dict(zip(keys, key, strict=True)), "count": shown(count)}
                for key, count in sorted(counted.items())
                if count > 0
            ]
        doc["capture_to_alert_latency_s"] = {
            "alerts": shown(measured),
            **{f"p{p}": (round(percentiles[p], 3) if enough else None) for p in PERCENTILES},
        }
        return doc


def _hour_key(hour: int) -> str:
    return f"{hour:02d}"


def _parameters(record: AuditRecord) -> dict[str, Any]:
    raw = record.get("parameters")
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def search_type_of(record: AuditRecord) -> object:
    arguments = _parameters(record).get("arguments")
    request = arguments.get("request") if isinstance(arguments, dict) else None
    return request.get("type") if isinstance(request, dict) else None


def refusal_rule(record: AuditRecord) -> object:
    """The rule code the API answered a refused request with (`error` in its audit parameters)."""
    return _parameters(record).get("error")


def _status(record: AuditRecord) -> int:
    value = record.get("status")
    return int(value) if isinstance(value, int | float | str) and str(value).isdigit() else 0


def is_search(record: AuditRecord) -> bool:
    accepted = 200 <= _status(record) < 300
    return record.get("method") == "POST" and record.get("route") == SEARCH_ROUTE and accepted


def is_read_view(record: AuditRecord) -> bool:
    shown_rows = _status(record) == 200
    return record.get("method") == "GET" and record.get("route") in READ_VIEW_ROUTES and shown_rows


def is_refusal(record: AuditRecord) -> bool:
    return _status(record) in REFUSED_STATUSES


def daily_report(
    day: date, inputs: DayInputs, labels: Labels, *, now: datetime, voi_as_of: datetime
) -> DailyReport:
    """R-STATS: the day's counts, keyed by codes only (see the module's doc)."""
    code = labels.code
    counts: dict[str, Counter[tuple[str, ...]]] = {name: Counter() for name, _ in SECTIONS}
    for read in inputs.reads:
        counts["reads_by_lea_hour"][(labels.lea(read.lea), _hour_key(read.hour))] += read.count
        counts["reads_by_source"][(code(read.source),)] += read.count
    for reason, count in inputs.quarantined.items():
        counts["quarantined_by_reason"][(code(reason),)] += count
    latencies: list[float] = []
    for alert in inputs.alerts:
        counts["alerts"][(labels.lea(alert.lea), code(alert.source.value), code(alert.category))] += 1
        counts["outcomes"][(code(alert.outcome.value) if alert.outcome else "none",)] += 1
        latencies.append(max(0.0, (alert.raised_at - alert.captured_at).total_seconds()))
    for record in inputs.events:
        if is_search(record):
            key = (labels.lea(record.get("lea")), code(search_type_of(record)), code(record.get("purpose")))
            counts["searches"][key] += 1
        elif is_refusal(record):
            counts["refusals"][(code(refusal_rule(record)),)] += 1
    for source, count in inputs.voi_entries.items():
        counts["voi_entries_by_source"][(code(source),)] += count
    latencies.sort()
    percentiles = {p: percentile(latencies, p) for p in PERCENTILES} if latencies else {}
    ended = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
    return DailyReport(
        day=day,
        generated_at=now,
        complete=now >= ended,
        counts=counts,
        latency_s=(len(latencies), percentiles),
        voi_as_of=voi_as_of,
    )


def report_csv(document: Mapping[str, Any]) -> str:
    """The count sections of a stored report as CSV, one row per cell, suppression kept; the latency
    percentiles as rows of section `capture_to_alert_latency_s` (key in `type`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "count"])
    for section, _ in SECTIONS:
        for row in document.get(section) or []:
            writer.writerow([section, *(row.get(c, "") for c in CSV_COLUMNS[1:]), row.get("count")])
    latency = document.get("capture_to_alert_latency_s") or {}
    for name, value in latency.items():
        cells = {"section": "capture_to_alert_latency_s", "type": name}
        writer.writerow([*(cells.get(c, "") for c in CSV_COLUMNS), "" if value is None else value])
    return out.getvalue()


@dataclass(slots=True)
class UserUsage:
    user: str
    lea: str
    searches: int = 0
    read_views: int = 0
    rows_viewed: int = 0
    refusals: Counter[str] = field(default_factory=Counter)


def usage_of(events: Iterable[AuditRecord], labels: Labels) -> list[UserUsage]:
    """Per user and LEA: searches started, pages of search rows viewed (and rows in them), and
    refused requests by rule. Scheduled jobs (`job:…`) and anonymous requests are left out."""
    by_user: dict[tuple[str, str], UserUsage] = {}
    for record in events:
        user, lea = record.get("user"), record.get("lea")
        if not isinstance(user, str) or not user or user.startswith("job:"):
            continue
        key = (user, lea if isinstance(lea, str) else "")
        usage = by_user.get(key)
        if is_search(record):
            usage = usage or by_user.setdefault(key, UserUsage(*key))
            usage.searches += 1
        elif is_read_view(record):
            usage = usage or by_user.setdefault(key, UserUsage(*key))
            usage.read_views += 1
            rows = record.get("result_count")
            usage.rows_viewed += int(rows) if isinstance(rows, int | float) else 0
        elif is_refusal(record):
            usage = usage or by_user.setdefault(key, UserUsage(*key))
            usage.refusals[labels.code(refusal_rule(record))] += 1
    return sorted(by_user.values(), key=lambda u: (u.lea, u.user))


def report_key(prefix: str, day: date) -> str:
    """`statistics/daily/<day>.json`: one document per day, replaced as the day's report is remade."""
    return f"{prefix}{day.isoformat()}.json"
