"""The publish sweeper (R-ALERT): every minute, alerts stored but still unpublished a minute after
they were raised are published as stored and marked. Match leaves one behind when its published
mark fails after the event went out, or when the VOI entry was deleted before a failed batch was
retried (the retry then finds no hit, so nothing rebuilds the alert). Publishing again is safe:
consumers de-duplicate on `alert_id`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nas.adapters.alerts import PendingAlerts
from nas.adapters.events import AlertPublisher

# Match publishes within seconds; anything unpublished this long after it was raised was left behind.
SWEEP_AFTER = timedelta(minutes=1)
# Per run, so one run stays well inside the function's timeout; the next run takes the rest.
MAX_PER_RUN = 500


@dataclass(slots=True)
class SweepResult:
    found: int = 0
    published: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    unmarked: set[str] = field(default_factory=set)


class PublishSweeper:
    def __init__(
        self, *, alerts: PendingAlerts, publisher: AlertPublisher, max_per_run: int = MAX_PER_RUN
    ) -> None:
        self._alerts = alerts
        self._publisher = publisher
        self._max = max_per_run

    def sweep(self, *, now: datetime) -> SweepResult:
        pending = self._alerts.pending(now - SWEEP_AFTER, self._max)
        result = SweepResult(found=len(pending))
        result.failed = self._publisher.publish(pending)
        result.published = [a.alert_id for a in pending if a.alert_id not in result.failed]
        result.unmarked = self._alerts.mark_published(result.published)
        return result
