"""The match consumer: every accepted live read checked against the VOI lists at once (R-ALERT).

Per batch: one camera lookup, one VOI lookup per 100 distinct VRMs (each VRM's match item carries
its entries and its white-list flag), then one conditional put per alert and PutEvents in tens.
Records that fail validation are skipped (archive quarantines them); records whose alert could not
be stored or published are reported failed, so Kinesis redelivers them, and R-DUP keeps the retry
from raising a second alert.

Publishing is exactly once in effect: an alert is stored unpublished, its event put, then it is
marked published, alert by alert and best effort. A retry finds the stored alert and publishes it
as stored (its first `raised_at`), not rebuilt; an alert still unpublished a minute later (its mark
failed, or its entry was deleted before the retry) is published by the sweeper (`sweeper.py`). An
event can therefore go out twice, never not at all: consumers de-duplicate on `alert_id`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from nas.adapters import StoreError
from nas.adapters.alerts import AlertStore, AlertWrite
from nas.adapters.cameras import CameraRegistry
from nas.adapters.events import AlertPublisher
from nas.adapters.voi import VoiLookup
from nas.domain import matching
from nas.domain.models import Alert
from nas.pipeline.records import Admitted, StreamRecord, admit


@dataclass(slots=True)
class MatchResult:
    received: int = 0
    skipped_invalid: Counter[str] = field(default_factory=Counter)
    late: int = 0
    hits: int = 0
    alerts_raised: list[Alert] = field(default_factory=list)
    duplicates: int = 0
    unmarked: int = 0
    """Alerts whose event went out but whose published mark failed (the sweeper publishes them again)."""
    failed_sequence_numbers: set[str] = field(default_factory=set)

    def capture_to_alert_seconds(self) -> list[float]:
        return [(a.raised_at - a.captured_at).total_seconds() for a in self.alerts_raised]


class MatchService:
    def __init__(
        self, *, cameras: CameraRegistry, voi: VoiLookup, alerts: AlertStore, publisher: AlertPublisher
    ) -> None:
        self._cameras = cameras
        self._voi = voi
        self._alerts = alerts
        self._publisher = publisher

    def process(self, records: Sequence[StreamRecord], *, now: datetime) -> MatchResult:
        result = MatchResult(received=len(records))
        admitted, refused = admit(records, self._cameras)
        result.skipped_invalid.update(r.rejection.reason for r in refused)
        live = [a for a in admitted if a.accepted.raises_live_alerts]
        result.late = len(admitted) - len(live)

        alerts_by_record = self._alerts_for(live, now)
        result.hits = sum(len(alerts) for alerts in alerts_by_record.values())
        to_publish: list[Alert] = []
        failed_alerts: set[str] = set()
        handled: set[str] = set()
        for alerts in alerts_by_record.values():
            for alert in alerts:
                if alert.alert_id in handled:  # the same read twice in one batch
                    result.duplicates += 1
                    continue
                handled.add(alert.alert_id)
                try:
                    put = self._alerts.put_new(alert)
                except StoreError:  # fails this record only; Kinesis redelivers it
                    failed_alerts.add(alert.alert_id)
                    continue
                if put.write is AlertWrite.DUPLICATE:
                    result.duplicates += 1
                else:
                    to_publish.append(put.alert)  # as stored, when an earlier attempt stored it
        failed_alerts |= self._publisher.publish(to_publish)
        published = [a for a in to_publish if a.alert_id not in failed_alerts]
        result.unmarked = len(self._alerts.mark_published([a.alert_id for a in published]))
        result.alerts_raised = published
        result.failed_sequence_numbers = {
            sequence
            for sequence, alerts in alerts_by_record.items()
            if any(a.alert_id in failed_alerts for a in alerts)
        }
        return result

    def _alerts_for(self, live: Sequence[Admitted], now: datetime) -> dict[str, list[Alert]]:
        """Alerts per record sequence number (records without hits are absent)."""
        listings = self._voi.listings({a.accepted.read.vrm for a in live}) if live else {}
        alerts: dict[str, list[Alert]] = defaultdict(list)
        for admitted in live:
            read = admitted.accepted.read
            listing = listings.get(read.vrm)
            if listing is None:
                continue
            hits = matching.candidate_hits(read, listing.entries, now)
            for entry in matching.without_white_listed(hits, white_listed=listing.white_listed):
                alerts[admitted.record.sequence_number].append(
                    Alert.raise_for(read, entry, now, arrived_at=admitted.record.arrived_at)
                )
        return alerts
