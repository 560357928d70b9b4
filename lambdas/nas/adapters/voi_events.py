"""VOI review reminders on the alerting bus (R-VOI-28): one `nas.voi.review-due.v1` event per owner
LEA, for that LEA's managers (rules route on `detail.owner_lea`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nas.adapters import StoreError, store_call
from nas.batching import chunks
from nas.catalogue import VOI_EVENT_SOURCE, VOI_REVIEW_DUE_DETAIL_TYPE
from nas.domain.timefmt import iso_utc
from nas.domain.voi import ReviewReminder

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

PUT_EVENTS_LIMIT = 10


def reminder_detail(reminder: ReviewReminder) -> dict[str, Any]:
    return {
        "owner_lea": reminder.owner_lea,
        "overdue": reminder.overdue,
        "voi_ids": list(reminder.voi_ids),
        "voi_ids_omitted": max(0, reminder.overdue - len(reminder.voi_ids)),
        "lists": [
            {
                "source": g.source.value,
                "import_id": g.import_id,
                "rows": g.rows,
                "review_due_at": iso_utc(g.review_due_at),
                "expires_at": iso_utc(g.expires_at),
            }
            for g in reminder.lists
        ],
        "as_of": iso_utc(reminder.as_of),
    }


class EventBridgeReminderPublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def publish(self, reminders: Sequence[ReviewReminder]) -> None:
        for batch in chunks(list(reminders), PUT_EVENTS_LIMIT):
            entries: list[Any] = [
                {
                    "Source": VOI_EVENT_SOURCE,
                    "DetailType": VOI_REVIEW_DUE_DETAIL_TYPE,
                    "Detail": json.dumps(reminder_detail(r), separators=(",", ":")),
                    "EventBusName": self._bus,
                }
                for r in batch
            ]
            with store_call("review reminders"):
                response = self._client.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                # The job runs again tomorrow, but a missed day must not pass silently.
                raise StoreError(f"{response['FailedEntryCount']} review reminder(s) not published")
