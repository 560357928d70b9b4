"""R-STATS: the daily statistics job and the reports it serves.

The job counts one UTC day: reads through the search engine (Athena, DuckDB locally; counts only),
quarantined records from the day's quarantine documents, alerts and their outcomes from the day's
shards of the alerts table, searches and refusals from the day's audit chains, and live VOI entries
by source. The counts become one document per day (`domain/statistics.py`: codes only, counts
under 5 shown as `<5`) in the evidence bucket. In AWS it counts yesterday each morning; on demand
(`nas jobs run statistics`, or its function invoked with a `date`) any day, today so far included.

`GET /reports/daily` returns a stored document; `GET /reports/usage` (auditors) counts searches,
read views and refusals per user from the audit trail on request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nas.adapters.alerts import AlertIndex, AlertReader, day_shard_keys
from nas.adapters.audit import AuditQuery, AuditTrail
from nas.adapters.objects import ObjectArchive
from nas.adapters.statistics import ReadCounts, ReportStore, VoiCensus, day_bounds
from nas.catalogue import AUDIT_CHAINS_PER_DAY, QUARANTINE_PREFIX
from nas.domain import statistics
from nas.domain.audit import AuditRecord, ChainId
from nas.domain.errors import InvalidInput, NotFound
from nas.domain.models import Alert
from nas.domain.replay import ReplayInputError, quarantined_records
from nas.domain.roles import Principal
from nas.domain.statistics import DayInputs, Labels, UserUsage
from nas.domain.timefmt import iso_utc
from nas.services.activity import JobAudit

JOB_NAME = "statistics"
AUDIT_PAGE = 500
UNREADABLE_DOCUMENT = "unreadable-document"
"""The reason a quarantine document that cannot be parsed is counted under (never skipped)."""


@dataclass(frozen=True, slots=True)
class StatisticsPorts:
    reads: ReadCounts
    quarantine: ObjectArchive
    quarantine_bucket: str
    alerts: AlertReader
    trail: AuditTrail
    voi: VoiCensus
    reports: ReportStore
    labels: Labels
    audit: Callable[[str], JobAudit]


@dataclass(frozen=True, slots=True)
class StatisticsRun:
    key: str
    document: dict[str, Any]

    def as_dict(self) -> dict[str, object]:
        doc = self.document
        return {
            "report": self.key,
            "day": doc["day"],
            "complete": doc["complete"],
            "sections": {name: len(doc[name]) for name, _ in statistics.SECTIONS},
        }


def events_between(trail: AuditTrail, start: datetime, end: datetime) -> Iterator[AuditRecord]:
    """Audit events from `start` to `end` (exclusive): every chain of each day in between, and of the
    day after (a record may sit in the chain of the day after its `at`, docs/data-model.md)."""
    query = AuditQuery(start=iso_utc(start), end=iso_utc(end - timedelta(microseconds=1)))
    day = start.date()
    while day <= end.date() + timedelta(days=1):
        for n in range(AUDIT_CHAINS_PER_DAY):
            yield from trail.chain_events(ChainId(day.isoformat(), n), query, None, AUDIT_PAGE)
        day += timedelta(days=1)


def alerts_of_day(reader: AlertReader, day: date) -> list[Alert]:
    """Alerts raised on `day`: its 16 shards of the by-raised-day-shard index."""
    start, end = day_bounds(day)
    since, until = iso_utc(start), iso_utc(end - timedelta(microseconds=1))
    return [
        record.alert
        for key in day_shard_keys(day.isoformat())
        for record in reader.newest(AlertIndex.BY_RAISED_DAY_SHARD, key, since, until)
    ]


def quarantined_on(objects: ObjectArchive, bucket: str, day: date) -> Counter[str]:
    """Records quarantined on `day` by reason, from the day's `nas.quarantine.v1` documents."""
    reasons: Counter[str] = Counter()
    for key in objects.keys(bucket, f"{QUARANTINE_PREFIX}{day.isoformat()}/"):
        if not key.endswith(".json"):
            continue  # replay's marks beside the documents
        document = objects.get(bucket, key)
        if document is None:
            continue
        try:
            reasons.update(record.reason for record in quarantined_records(document))
        except ReplayInputError:
            reasons[UNREADABLE_DOCUMENT] += 1
    return reasons


def gather(ports: StatisticsPorts, day: date, now: datetime) -> DayInputs:
    start, end = day_bounds(day)
    return DayInputs(
        reads=ports.reads.reads_of_day(day, now.date()),
        quarantined=quarantined_on(ports.quarantine, ports.quarantine_bucket, day),
        alerts=alerts_of_day(ports.alerts, day),
        events=list(events_between(ports.trail, start, min(end, max(now, start)))),
        voi_entries=ports.voi.live_by_source(now),
    )


def run_daily_statistics(ports: StatisticsPorts, *, day: date, now: datetime, run_id: str) -> StatisticsRun:
    """R-STATS: counts `day` as of `now` and stores its document (replacing an earlier one)."""
    if day > now.date():
        raise InvalidInput("date", "a day that has not begun has no statistics")
    report = statistics.daily_report(day, gather(ports, day, now), ports.labels, now=now, voi_as_of=now)
    document = report.document()
    key = ports.reports.put(day, document)
    run = StatisticsRun(key, document)
    ports.audit(run_id).record("run", result_count=1, summary=run.as_dict())
    return run


def default_day(now: datetime) -> date:
    """The day the scheduled run counts: yesterday (UTC), complete but for late reads."""
    return (now.astimezone(UTC) - timedelta(days=1)).date()


class StatisticsReports:
    """`GET /reports/daily` (analysts, auditors) and `GET /reports/usage` (auditors)."""

    def __init__(
        self,
        reports: Callable[[], ReportStore],
        trail: AuditTrail,
        labels: Labels,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._reports = reports
        self._trail = trail
        self._labels = labels
        self._clock = clock

    def daily(self, principal: Principal, day: date | None) -> dict[str, Any]:
        """The stored document of `day` (default: today, as last counted); NotFound when the job has
        not counted it yet."""
        wanted = day or self._clock().date()
        document = self._reports().get(wanted)
        if document is None:
            raise NotFound(f"no statistics for {wanted.isoformat()} yet")
        return document

    def usage(self, principal: Principal, first: date, last: date) -> list[UserUsage]:
        """Per user and LEA over the UTC days `first`..`last`: searches, read views, refusals. An LEA's
        auditor sees the users of that LEA only (as with `GET /audit`)."""
        if last < first:
            raise InvalidInput("to", "must not be before from")
        if (last - first).days + 1 > statistics.MAX_USAGE_DAYS:
            raise InvalidInput("to", f"at most {statistics.MAX_USAGE_DAYS} days from `from`")
        start, _ = day_bounds(first)
        _, end = day_bounds(last)
        used = statistics.usage_of(events_between(self._trail, start, end), self._labels)
        return used if principal.is_national else [u for u in used if u.lea == principal.lea]
