"""Retro-hunts (issue 10, item 5; R-VOI, R-CIRC, R-WHITE, R-DUP, R-REASON): when a manager adds or
revises a single entry with `retro_hunt_days` (1-7), stored reads of its VRM over those days are
searched as a system search under the manager's purpose and case, and each read the entry would
have hit raises an alert flagged `retro`, circulated as a live alert would be.

Once each (R-DUP): a retro alert's id is the live alert's (`alert_id_for(camera, read, entry)`), so
a read that already alerted on the entry, or a second hunt over the same reads, raises nothing new.
Pure rules here: the window, the request's checks, which hits alert. No AWS and no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from nas.domain import matching
from nas.domain.errors import InvalidInput
from nas.domain.layout import Arrival
from nas.domain.models import Alert, VoiEntry, alert_id_for
from nas.domain.policy import InvestigationLevel
from nas.domain.search import Purpose, ReadHit

MAX_DAYS = 7
"""A retro-hunt looks back at most a week: well inside every level's 90-day lookback (R-ACCESS)."""
LEVEL = InvestigationLevel.PRIORITY_VOLUME
"""The investigation level a retro-hunt is recorded under (its window never needs more)."""
ROW_LIMIT = 1000
"""Reads a hunt takes at most (R-LIMIT); beyond that it is marked truncated."""


class HuntStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class HuntRequest:
    """What POST/PUT /voi ask of a retro-hunt: the days, and the why every search carries (R-REASON)."""

    days: int
    purpose: Purpose | None
    case_ref: str | None


def require_request(request: HuntRequest) -> tuple[Purpose, str]:
    """A hunt of 1-7 days with a purpose and a case (R-REASON); a 400 naming the field otherwise."""
    if not 1 <= request.days <= MAX_DAYS:
        raise InvalidInput("retro_hunt_days", f"must be 0 to {MAX_DAYS}")
    if request.purpose is None:
        raise InvalidInput("purpose", "is required with retro_hunt_days (R-REASON)")
    if not request.case_ref or not request.case_ref.strip():
        raise InvalidInput("case_ref", "is required with retro_hunt_days (R-REASON)")
    return request.purpose, request.case_ref


class RetroHunt(BaseModel):
    """One retro-hunt of one entry: who asked, the window searched, and how it ended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hunt_id: Annotated[str, Field(min_length=1, max_length=128)]
    voi_id: str
    vrm: str
    days: Annotated[int, Field(ge=1, le=MAX_DAYS)]
    requested_by: str
    requested_by_lea: str
    requested_at: datetime
    purpose: Purpose
    case_ref: str
    reason: str
    window_from: datetime
    window_to: datetime
    expires_at: datetime
    """The entry's expiry when the hunt was asked for: the hunt's record (it names the VRM) goes with it."""
    status: HuntStatus = HuntStatus.QUEUED
    execution_id: str | None = None
    reads_found: int | None = None
    alerts_raised: int | None = None
    truncated: bool | None = None
    failure: str | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in (HuntStatus.SUCCEEDED, HuntStatus.FAILED)


def hunt_window(requested_at: datetime, days: int) -> tuple[datetime, datetime]:
    """The captures searched: the `days` before the request. Reads captured after it meet the entry
    in the live match."""
    return requested_at - timedelta(days=days), requested_at


def hunt_reason(entry: VoiEntry) -> str:
    """The system search's reason (R-REASON, at least 10 characters whatever the entry's)."""
    return f"retro-hunt of VOI entry {entry.voi_id}: {entry.reason}"[:1000]


def new_hunt(
    entry: VoiEntry,
    request: HuntRequest,
    *,
    hunt_id: str,
    requested_by: str,
    requested_by_lea: str,
    now: datetime,
) -> RetroHunt:
    purpose, case_ref = require_request(request)
    window_from, window_to = hunt_window(now, request.days)
    return RetroHunt(
        hunt_id=hunt_id,
        voi_id=entry.voi_id,
        vrm=entry.vrm,
        days=request.days,
        requested_by=requested_by,
        requested_by_lea=requested_by_lea,
        requested_at=now,
        purpose=purpose,
        case_ref=case_ref,
        reason=hunt_reason(entry),
        window_from=window_from,
        window_to=window_to,
        expires_at=entry.expires_at,
    )


def retro_alerts(
    hits: Iterable[ReadHit], entry: VoiEntry | None, *, white_listed: bool, now: datetime
) -> list[Alert]:
    """The alerts a hunt raises at `now`: one per stored read of the entry's VRM that the entry,
    live at `now` (deleted or expired: none), would have hit as the read arrived: circulated to the
    read's LEA (R-CIRC) and not a bulk-list entry of a white-listed VRM (R-WHITE). Each carries the
    live alert's id (R-DUP) and `retro`; `late` is the stored read's own (R-LATE arrival)."""
    if entry is None or not entry.is_live(now):
        return []
    if not matching.without_white_listed([entry], white_listed=white_listed):
        return []
    alerts: dict[str, Alert] = {}
    for hit in hits:
        if hit.vrm != entry.vrm or not entry.circulated_to(hit.lea):
            continue
        alert = Alert(
            alert_id=alert_id_for(hit.camera_id, hit.read_id, entry.voi_id),
            read_id=hit.read_id,
            vrm=hit.vrm,
            captured_at=hit.captured_at,
            camera_id=hit.camera_id,
            lea=hit.lea,
            late=hit.ref.partition.arrival is Arrival.LATE,
            voi_id=entry.voi_id,
            source=entry.source,
            category=entry.category,
            action=entry.action,
            priority=entry.priority,
            reason=entry.reason,
            owner_lea=entry.owner_lea,
            circulation=entry.circulation,
            sensitive=entry.sensitive,
            raised_at=now,
            retro=True,
        )
        alerts.setdefault(alert.alert_id, alert)  # R-DUP: a read returned twice alerts once
    return list(alerts.values())
