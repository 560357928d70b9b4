"""Alert events on the EventBridge bus (targets: per-LEA SNS topics for mobile data terminals)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from nas.batching import backoff_delays, chunks
from nas.catalogue import ALERT_EVENT_DETAIL_TYPE, ALERT_EVENT_SOURCE
from nas.domain.models import Alert

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

PUT_EVENTS_LIMIT = 10
MAX_ATTEMPTS = 5


class AlertPublisher(Protocol):
    def publish(self, alerts: Sequence[Alert]) -> set[str]:
        """Publishes `alerts`; returns the ids of those that could not be published."""
        ...


def alert_event_detail(alert: Alert) -> str:
    return json.dumps(alert.model_dump(mode="json"), separators=(",", ":"))


class InMemoryAlertPublisher:
    def __init__(self) -> None:
        self.published: list[Alert] = []
        self.calls = 0

    def publish(self, alerts: Sequence[Alert]) -> set[str]:
        self.calls += -(-len(alerts) // PUT_EVENTS_LIMIT)
        self.published.extend(alerts)
        return set()


class EventBridgePublisher:
    def __init__(
        self, client: EventBridgeClient, bus_name: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._bus = bus_name
        self._sleep = sleep

    def publish(self, alerts: Sequence[Alert]) -> set[str]:
        failed: set[str] = set()
        for batch in chunks(list(alerts), PUT_EVENTS_LIMIT):
            failed |= self._put_with_retries(list(batch))
        return failed

    def _put_with_retries(self, batch: list[Alert]) -> set[str]:
        pending = batch
        delays = backoff_delays()
        for attempt in range(MAX_ATTEMPTS):
            entries: list[Any] = [
                {
                    "Source": ALERT_EVENT_SOURCE,
                    "DetailType": ALERT_EVENT_DETAIL_TYPE,
                    "Detail": alert_event_detail(alert),
                    "EventBusName": self._bus,
                    "Resources": [],
                }
                for alert in pending
            ]
            response = self._client.put_events(Entries=entries)
            # Results are positional: an entry with an ErrorCode failed, the others went out.
            pending = [a for a, r in zip(pending, response["Entries"], strict=True) if r.get("ErrorCode")]
            if not pending:
                return set()
            if attempt + 1 < MAX_ATTEMPTS:
                self._sleep(next(delays))
        return {a.alert_id for a in pending}
