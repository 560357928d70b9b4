"""Pure rules of alerts after they are raised: who may see one (R-CIRC), the order operators list
them in, how an outcome (R-HIT) changes one, and how a correction of the alert's read shows on it
(R-CORRECT: the corrected VRM and a `corrected` flag; a `misread` outcome links to the correction).
No AWS and no clock here: callers pass `now`."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from nas.domain.corrections import Correction, read_key
from nas.domain.leas import NATIONAL
from nas.domain.models import Alert, Outcome
from nas.domain.timefmt import iso_utc

MAX_NOTE_CHARS = 1000
OUTCOME_HISTORY_KEPT = 20
"""Replaced outcomes kept on the alert (newest last); older ones are counted, not kept, so an alert
item can never outgrow DynamoDB's 400 KB however often its outcome changes (about 25 KB at most)."""


class OutcomeEntry(BaseModel):
    """An outcome that was replaced: what it was, who recorded it and who replaced it, when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Outcome
    note: str
    recorded_by: str | None
    recorded_at: str | None
    replaced_by: str
    replaced_at: str


class AlertRecord(BaseModel):
    """An alert as stored: the raised alert and the state of its outcome."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert: Alert
    outcome_note: str = ""
    outcome_by: str | None = None
    outcome_at: str | None = None
    outcome_version: Annotated[int, Field(ge=0)] = 0
    outcome_history: tuple[OutcomeEntry, ...] = ()
    outcome_history_omitted: Annotated[int, Field(ge=0)] = 0

    @property
    def alert_id(self) -> str:
        return self.alert.alert_id


def visible_to(user_lea: str, alert: Alert) -> bool:
    """R-CIRC: users of the read's LEA, of the entry's owner LEA and NATIONAL users; a sensitive
    entry only to users of its circulated LEAs and its owner (NATIONAL users see it only when it is
    circulated nationally or owned nationally)."""
    owner = alert.owner_lea
    if not (user_lea == NATIONAL or user_lea in (alert.lea, owner)):
        return False
    if not alert.sensitive:
        return True
    return user_lea == owner or alert.circulation == (NATIONAL,) or user_lea in alert.circulation


# --- listing order --------------------------------------------------------------------------------

Cursor = tuple[str, str]
"""(raised_at as stored text, alert_id): the keyset position of an alert in the listing order."""


def sort_key(alert: Alert) -> Cursor:
    return iso_utc(alert.raised_at), alert.alert_id


def newest_first(alerts: Iterable[AlertRecord]) -> Iterator[AlertRecord]:
    """Re-sorts one index's stream, newest first by `raised_at` only, into the total order
    (raised_at, alert_id) descending: records with equal `raised_at` are buffered and sorted."""
    group: list[AlertRecord] = []
    for record in alerts:
        if group and record.alert.raised_at != group[0].alert.raised_at:
            yield from sorted(group, key=lambda r: sort_key(r.alert), reverse=True)
            group = []
        group.append(record)
    yield from sorted(group, key=lambda r: sort_key(r.alert), reverse=True)


def merge_newest_first(
    streams: Iterable[Iterable[AlertRecord]], *, before: Cursor | None
) -> Iterator[AlertRecord]:
    """Merges newest-first streams, dropping duplicates (an alert of the caller's LEA that it also
    owns is in both indexes) and everything at or after the cursor `before`."""
    merged = heapq.merge(*(newest_first(s) for s in streams), key=lambda r: sort_key(r.alert), reverse=True)
    last: str | None = None
    for record in merged:
        if before is not None and sort_key(record.alert) >= before:
            continue
        if record.alert_id == last:
            continue
        last = record.alert_id
        yield record


@dataclass(frozen=True, slots=True)
class AlertPage:
    records: list[AlertRecord]
    next_cursor: Cursor | None
    corrections: Mapping[str, Correction] = field(default_factory=dict)
    """The current correction of each listed alert's read that has one, by read key (R-CORRECT)."""

    def correction_of(self, record: AlertRecord) -> Correction | None:
        return self.corrections.get(alert_read_key(record))


def alert_read_key(record: AlertRecord) -> str:
    return read_key(record.alert.camera_id, record.alert.read_id)


@dataclass(frozen=True, slots=True)
class CorrectedAlert:
    """An alert as shown: with its read's current correction, if any (R-CORRECT)."""

    record: AlertRecord
    correction: Correction | None = None

    @property
    def vrm(self) -> str:
        return self.correction.vrm if self.correction is not None else self.record.alert.vrm

    @property
    def corrected(self) -> bool:
        return self.correction is not None and self.correction.vrm != self.record.alert.vrm

    @property
    def misread_correction_id(self) -> str | None:
        """The correction a `misread` outcome leads to: the read's correction when the outcome is
        misread, preferring one made from this very alert."""
        if self.correction is None or self.record.alert.outcome is not Outcome.MISREAD:
            return None
        return self.correction.correction_id


def visible_page(records: Iterable[AlertRecord], user_lea: str, limit: int) -> AlertPage:
    """The first `limit` records visible to `user_lea`, and the cursor of the last one when more
    visible records follow."""
    shown: list[AlertRecord] = []
    for record in records:
        if not visible_to(user_lea, record.alert):
            continue
        if len(shown) == limit:
            return AlertPage(shown, sort_key(shown[-1].alert))
        shown.append(record)
    return AlertPage(shown, None)


# --- R-HIT ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutcomeChange:
    """The record as it must be stored after the change, and the version it must replace."""

    updated: AlertRecord
    expected_version: int


def outcome_change(
    record: AlertRecord, outcome: Outcome, note: str, *, user: str, now: datetime
) -> OutcomeChange | None:
    """None when `outcome` and `note` are already the current ones (a repeated post); otherwise the
    record after the change. A replaced outcome joins the history with who recorded it, when, and
    its note; beyond OUTCOME_HISTORY_KEPT entries the oldest are dropped and counted."""
    if len(note) > MAX_NOTE_CHARS:
        raise ValueError(f"note is over {MAX_NOTE_CHARS} characters")
    current = record.alert.outcome
    if current == outcome and record.outcome_note == note:
        return None
    at = iso_utc(now)
    history = list(record.outcome_history)
    omitted = record.outcome_history_omitted
    if current is not None:
        history.append(
            OutcomeEntry(
                outcome=current,
                note=record.outcome_note,
                recorded_by=record.outcome_by,
                recorded_at=record.outcome_at,
                replaced_by=user,
                replaced_at=at,
            )
        )
    if len(history) > OUTCOME_HISTORY_KEPT:
        omitted += len(history) - OUTCOME_HISTORY_KEPT
        history = history[-OUTCOME_HISTORY_KEPT:]
    updated = record.model_copy(
        update={
            "alert": record.alert.model_copy(update={"outcome": outcome}),
            "outcome_note": note,
            "outcome_by": user,
            "outcome_at": at,
            "outcome_version": record.outcome_version + 1,
            "outcome_history": tuple(history),
            "outcome_history_omitted": omitted,
        }
    )
    return OutcomeChange(updated=updated, expected_version=record.outcome_version)
