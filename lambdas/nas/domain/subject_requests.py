"""R-SAR: data-subject requests the DPO handles (access, rectification, erasure, restriction), their
due dates, decisions and exports. Pure: callers pass `now`, ids and secrets.

- Due date (UK GDPR Art. 12(3)): one calendar month after receipt, the same date next month, or its
  last day when it has no such date (received 31 January: due 28 February, 29 in a leap year).
- A decision is made once: `granted`, `refused` (citing the exemption relied on) or `partly` (citing
  it too, for what is withheld).
- Access exports list the VRM's reads within retention (R-RET-365) with time and a coarse area (the
  LEA and a 10 km National Grid square: `grid.py`) and never a camera id, site, position or image
  (R-CAMERA), and the alerts raised on the VRM. Each read is named by an `entry_id` (an HMAC under the
  request's own secret), so the DPO can name reads to rectify without the export holding read ids,
  which embed camera ids.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import hmac
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from nas.domain.errors import Conflict, InvalidInput
from nas.domain.policy import CLOCK_SKEW_ALLOWANCE, SEARCH_RETENTION
from nas.domain.timefmt import iso_utc

MIN_REASON_CHARS = 10
MAX_TEXT_CHARS = 1000
MAX_RECTIFICATIONS = 100
MAX_WITHHELD = 1000
"""Reads a part-granted erasure may withhold (by entry id), as many as an export page shows."""
"""Reads one rectification decision corrects at most."""
MAX_RECEIVED_AGE = timedelta(days=366)
"""How far back `received_at` may be recorded (a request older than its due date by a year is a
mistake, not a backlog)."""
EXPORT_ROW_LIMIT = 20_000
"""Reads an access export lists at most (a daily commuter passes ~4,000 cameras a year); beyond this
the export says it is incomplete rather than stop silently."""
ENTRY_ID_PREFIX = "e-"


class RequestKind(StrEnum):
    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"


class RequestStatus(StrEnum):
    OPEN = "open"
    DECIDED = "decided"


class Decision(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    PARTLY = "partly"

    @property
    def acts(self) -> bool:
        """Whether the request is carried out (in full or in part)."""
        return self is not Decision.REFUSED


def add_calendar_month(day: date) -> date:
    """The same date a month later; the last day of that month when it has no such date."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(received_at: datetime) -> date:
    """UK GDPR Art. 12(3): one calendar month after receipt (its UTC date: never later than the UK
    date, so a request is never due late)."""
    return add_calendar_month(received_at.astimezone(UTC).date())


def require_text(field_name: str, text: str, minimum: int = MIN_REASON_CHARS) -> str:
    value = text.strip()
    if len(value) < minimum:
        raise InvalidInput(field_name, f"must be at least {minimum} characters")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidInput(field_name, f"must be at most {MAX_TEXT_CHARS} characters")
    return value


def require_received(received_at: datetime, now: datetime) -> None:
    if received_at > now + CLOCK_SKEW_ALLOWANCE:
        raise InvalidInput("received_at", "must not be in the future")
    if received_at < now - MAX_RECEIVED_AGE:
        raise InvalidInput("received_at", "must be within the last year")


@dataclass(frozen=True, slots=True)
class Restriction:
    """A restriction's state: in force from its grant until lifted."""

    in_force: bool = False
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None


@dataclass(frozen=True, slots=True)
class SubjectRequest:
    request_id: str
    kind: RequestKind
    vrm: str
    received_at: datetime
    due: date
    requester_ref: str
    notes: str
    created_by: str
    created_at: datetime
    entry_salt: str
    """The request's secret for export entry ids (never shown)."""
    status: RequestStatus = RequestStatus.OPEN
    decision: Decision | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    exemption: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)
    """What was done: corrections made, reads restricted, what erasure removed and kept."""
    restriction: Restriction = Restriction()
    version: int = 0
    system_search: dict[str, Any] | None = None
    """The engine query behind its export or decision while it runs (execution id, when started)."""
    withheld_reads: tuple[tuple[str, str], ...] = ()
    """A part-granted erasure: the (camera id, read id) of the reads kept under the exemption (never
    shown: read ids embed camera ids; the DPO named them by entry id)."""

    def overdue(self, now: datetime) -> bool:
        return self.status is RequestStatus.OPEN and now.date() > self.due


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    decision: Decision
    reason: str
    exemption: str | None = None
    corrections: tuple[tuple[str, str], ...] = ()
    """Rectification: (entry_id, corrected VRM) for each read the DPO names."""
    withheld: tuple[str, ...] = ()
    """Erasure granted in part: the entry ids of the reads kept under the exemption."""


def require_decision(request: SubjectRequest, decided: DecisionRequest) -> None:
    """A decision is made once; refusing (or granting in part) cites the exemption relied on; only a
    rectification names reads to correct, and granting one must name at least one; only an erasure
    granted in part names reads to withhold, and it must name at least one (else it is a grant)."""
    if request.status is not RequestStatus.OPEN:
        raise Conflict("this request has already been decided")
    require_text("reason", decided.reason)
    if decided.decision is not Decision.GRANTED and not (decided.exemption or "").strip():
        raise InvalidInput("exemption", f"a {decided.decision.value} decision cites the exemption relied on")
    if request.kind is RequestKind.RECTIFICATION and decided.decision.acts:
        if not decided.corrections:
            raise InvalidInput("corrections", "name the reads to correct (entry_id and vrm)")
    elif decided.corrections:
        raise InvalidInput("corrections", "only a rectification decision corrects reads")
    if len(decided.corrections) > MAX_RECTIFICATIONS:
        raise InvalidInput("corrections", f"at most {MAX_RECTIFICATIONS} reads a decision")
    if request.kind is RequestKind.ERASURE and decided.decision is Decision.PARTLY:
        if not decided.withheld:
            raise InvalidInput(
                "withheld", "name the reads kept under the exemption (entry ids of the export)"
            )
    elif decided.withheld:
        raise InvalidInput("withheld", "only an erasure granted in part withholds reads")
    if len(decided.withheld) > MAX_WITHHELD:
        raise InvalidInput("withheld", f"at most {MAX_WITHHELD} reads a decision")


def require_liftable(request: SubjectRequest) -> None:
    if request.kind is not RequestKind.RESTRICTION or not request.restriction.in_force:
        raise Conflict("no restriction of this request is in force")


def entry_id(salt: str, camera_id: str, read_id: str) -> str:
    """An export's name for a read: keyed by the request's secret, so it reveals nothing of the read
    (read ids embed camera ids) and cannot be matched across requests."""
    digest = hmac.new(bytes.fromhex(salt), f"{camera_id}\x1f{read_id}".encode(), hashlib.sha256)
    return ENTRY_ID_PREFIX + digest.hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class ExportRead:
    entry_id: str
    captured_at: datetime
    vrm: str
    lea: str
    area: str
    corrected: bool


@dataclass(frozen=True, slots=True)
class ExportAlert:
    raised_at: datetime
    captured_at: datetime
    vrm: str
    lea: str
    area: str
    category: str
    outcome: str | None


@dataclass(frozen=True, slots=True)
class AccessExport:
    """What an access export holds (R-SAR): never a camera id, site, position or image (R-CAMERA)."""

    request_id: str
    vrm: str
    generated_at: datetime
    window_from: datetime
    window_to: datetime
    reads: tuple[ExportRead, ...]
    alerts: tuple[ExportAlert, ...]
    complete: bool

    def document(self) -> dict[str, Any]:
        return {
            "format": "nas.subject-access-export.v1",
            "request_id": self.request_id,
            "vrm": self.vrm,
            "generated_at": iso_utc(self.generated_at),
            "from": iso_utc(self.window_from),
            "to": iso_utc(self.window_to),
            "complete": self.complete,
            "area": "LEA and the 10 km Ordnance Survey National Grid square",
            "reads": [
                {
                    "entry_id": r.entry_id,
                    "captured_at": iso_utc(r.captured_at),
                    "vrm": r.vrm,
                    "lea": r.lea,
                    "grid_square": r.area,
                    "corrected": r.corrected,
                }
                for r in self.reads
            ],
            "alerts": [
                {
                    "raised_at": iso_utc(a.raised_at),
                    "captured_at": iso_utc(a.captured_at),
                    "vrm": a.vrm,
                    "lea": a.lea,
                    "grid_square": a.area,
                    "category": a.category,
                    "outcome": a.outcome,
                }
                for a in self.alerts
            ],
        }

    def json_text(self) -> str:
        return json.dumps(self.document(), indent=2) + "\n"

    def csv_text(self) -> str:
        """One table: a row per read (`record` = read) and per alert (`record` = alert)."""
        out = io.StringIO()
        columns = (
            "record",
            "captured_at",
            "vrm",
            "lea",
            "grid_square",
            "corrected",
            "entry_id",
            "raised_at",
            "category",
            "outcome",
        )
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        document = self.document()
        for read in document["reads"]:
            writer.writerow({"record": "read", **read})
        for alert in document["alerts"]:
            writer.writerow({"record": "alert", **alert})
        return out.getvalue()


def export_window(now: datetime) -> tuple[datetime, datetime]:
    """An access export covers what is within retention: the last 365 days (R-RET-365)."""
    return now - SEARCH_RETENTION, now


def entries_named(field_name: str, requested: Sequence[str], known: dict[str, Any]) -> None:
    """Every entry id a decision names must be one of the request's reads (a 400 naming the field)."""
    unknown = [entry for entry in requested if entry not in known]
    if unknown:
        raise InvalidInput(field_name, f"not an entry of this request's export: {unknown[0][:40]}")
