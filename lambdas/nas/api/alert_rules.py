"""Pure rules of the alert routes: who may see an alert (R-CIRC), the listing order and its cursor,
the public shape (SPEC §6) and outcome changes (R-HIT). No AWS here."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nas.domain.leas import NATIONAL
from nas.domain.models import Outcome

ALERT_FIELDS = (
    "alert_id",
    "read_id",
    "vrm",
    "captured_at",
    "camera_id",
    "lea",
    "voi_id",
    "source",
    "category",
    "action",
    "priority",
    "raised_at",
    "outcome",
)


def visible_to(user_lea: str, alert: Mapping[str, Any]) -> bool:
    """R-CIRC: users of the read's LEA, of the entry's owner LEA and NATIONAL users; a sensitive
    entry only to users of its circulated LEAs and its owner (NATIONAL users see it only when it is
    circulated nationally or owned nationally)."""
    owner = alert.get("owner_lea")
    if not (user_lea == NATIONAL or user_lea in (alert.get("lea"), owner)):
        return False
    if not alert.get("sensitive"):
        return True
    circulation = tuple(alert.get("circulation") or ())
    return user_lea == owner or circulation == (NATIONAL,) or user_lea in circulation


def view(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {name: alert.get(name) for name in ALERT_FIELDS}


def sort_key(alert: Mapping[str, Any]) -> tuple[str, str]:
    return str(alert["raised_at"]), str(alert["alert_id"])


def newest_first(items: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Re-sorts one index's stream, which is newest first by `raised_at` only, into the total order
    (raised_at, alert_id) descending: items with equal `raised_at` are buffered and sorted."""
    group: list[Mapping[str, Any]] = []
    for item in items:
        if group and item["raised_at"] != group[0]["raised_at"]:
            yield from sorted(group, key=sort_key, reverse=True)
            group = []
        group.append(item)
    yield from sorted(group, key=sort_key, reverse=True)


def merge_streams(
    streams: Iterable[Iterable[Mapping[str, Any]]], *, before: tuple[str, str] | None
) -> Iterator[Mapping[str, Any]]:
    """Merges newest-first streams, dropping duplicates (an alert of the caller's LEA that it also
    owns is in both indexes) and everything at or after the cursor `before`."""
    merged = heapq.merge(*(newest_first(s) for s in streams), key=sort_key, reverse=True)
    last: str | None = None
    for item in merged:
        if before is not None and sort_key(item) >= before:
            continue
        if item["alert_id"] == last:
            continue
        last = str(item["alert_id"])
        yield item


@dataclass(frozen=True, slots=True)
class AlertPage:
    alerts: list[dict[str, Any]]
    next_cursor: tuple[str, str] | None


def page(items: Iterable[Mapping[str, Any]], user_lea: str, limit: int) -> AlertPage:
    """The first `limit` visible alerts, and the cursor of the last one when more follow."""
    shown: list[Mapping[str, Any]] = []
    for item in items:
        if not visible_to(user_lea, item):
            continue
        if len(shown) == limit:
            return AlertPage([view(a) for a in shown], sort_key(shown[-1]))
        shown.append(item)
    return AlertPage([view(a) for a in shown], None)


# --- R-HIT ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutcomeChange:
    """What to write: the new current outcome and, when it replaces one, the entry for the history."""

    fields: dict[str, Any]
    history: dict[str, Any] | None
    expected_version: int


def outcome_change(
    alert: Mapping[str, Any], outcome: Outcome, note: str, *, user: str, at: str
) -> OutcomeChange | None:
    """None when `outcome` and `note` are already the current ones (a repeated post); otherwise the
    update. A replaced outcome goes to the history with who recorded it, when, and its note."""
    current = alert.get("outcome")
    if current == outcome.value and (alert.get("outcome_note") or "") == note:
        return None
    history = None
    if current is not None:
        history = {
            "outcome": current,
            "note": alert.get("outcome_note") or "",
            "recorded_by": alert.get("outcome_by"),
            "recorded_at": alert.get("outcome_at"),
            "replaced_by": user,
            "replaced_at": at,
        }
    return OutcomeChange(
        fields={"outcome": outcome.value, "outcome_note": note, "outcome_by": user, "outcome_at": at},
        history=history,
        expected_version=int(alert.get("outcome_version") or 0),
    )


def outcome_view(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **view(alert),
        "note": alert.get("outcome_note") or "",
        "recorded_by": alert.get("outcome_by"),
        "recorded_at": alert.get("outcome_at"),
        "outcome_history": list(alert.get("outcome_history") or []),
    }
