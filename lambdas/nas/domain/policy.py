"""Time rules of the specification as pure functions of (inputs, now).

Every duration is an exact number of days (a day is 24 hours in UTC), never "a year" or "a month":
the DPIA states days, and a calendar year would make the window one day longer across 29 February.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from nas.domain.errors import AccessDenied
from nas.domain.roles import SEARCH_ROLES, Principal

# R-VOI-28 / R-VOI-56
VOI_REVIEW_AFTER = timedelta(days=28)
VOI_EXPIRE_AFTER = timedelta(days=56)
# R-RET-365: never returned once older; R-RET-367: deleted from storage (S3 lifecycle days).
SEARCH_RETENTION = timedelta(days=365)
READ_STORAGE_EXPIRY_DAYS = 367
# R-ACCESS: lookback without an authorisation, for every level.
STANDARD_LOOKBACK = timedelta(days=90)
# R-AUTHZ
MAX_AUTHORISATION_VALIDITY = timedelta(days=30)
# R-LATE
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)
LIVE_ALERT_WINDOW = timedelta(hours=24)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


# --- VOI lifecycle -------------------------------------------------------------------------------


def voi_review_due_at(last_revised_at: datetime) -> datetime:
    """R-VOI-28: the owner must review the entry by this time."""
    _require_aware(last_revised_at, "last_revised_at")
    return last_revised_at + VOI_REVIEW_AFTER


def voi_expires_at(last_revised_at: datetime) -> datetime:
    """R-VOI-56: the entry stops matching at this time and DynamoDB TTL deletes it after."""
    _require_aware(last_revised_at, "last_revised_at")
    return last_revised_at + VOI_EXPIRE_AFTER


def voi_is_live(expires_at: datetime, now: datetime) -> bool:
    """TTL deletes lazily, so an entry past `expires_at` must be treated as gone."""
    return now < expires_at


def voi_review_overdue(review_due_at: datetime, now: datetime) -> bool:
    return now >= review_due_at


# --- R-LATE --------------------------------------------------------------------------------------


class Timeliness(StrEnum):
    LIVE = "live"
    """Within the live window: may raise alerts."""
    LATE = "late"
    """Older than 24 hours: stored and searchable, raises no live alert."""
    FUTURE = "future"
    """More than 5 minutes ahead of the service clock: a camera clock fault, quarantined."""
    EXPIRED = "expired"
    """Older than the search retention: could never be returned, so it is quarantined, not stored."""


def is_late(captured_at: datetime, now: datetime) -> bool:
    """R-LATE: older than 24 hours, so stored and searchable but never a live alert."""
    _require_aware(captured_at, "captured_at")
    _require_aware(now, "now")
    return now - captured_at > LIVE_ALERT_WINDOW


def capture_timeliness(captured_at: datetime, now: datetime) -> Timeliness:
    _require_aware(captured_at, "captured_at")
    _require_aware(now, "now")
    if captured_at - now > CLOCK_SKEW_ALLOWANCE:
        return Timeliness.FUTURE
    age = now - captured_at
    if age > SEARCH_RETENTION:
        return Timeliness.EXPIRED
    if age > LIVE_ALERT_WINDOW:
        return Timeliness.LATE
    return Timeliness.LIVE


# --- R-RET-365 and R-ACCESS ----------------------------------------------------------------------


class InvestigationLevel(StrEnum):
    PRIORITY_VOLUME = "priority-volume"
    SERIOUS_COMPLEX = "serious-complex"
    MAJOR = "major"


LEVELS_ALLOWING_AUTHORISED_LOOKBACK = frozenset(
    {InvestigationLevel.SERIOUS_COMPLEX, InvestigationLevel.MAJOR}
)


def retention_floor(now: datetime) -> datetime:
    """R-RET-365: the earliest `captured_at` any interface may return."""
    _require_aware(now, "now")
    return now - SEARCH_RETENTION


@dataclass(frozen=True, slots=True)
class LiveAuthorisation:
    """The facts of an R-AUTHZ authorisation that the lookback rule needs."""

    grantee: str
    granted_by: str
    case_ref: str
    investigation_level: InvestigationLevel
    max_lookback: timedelta
    valid_from: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Lookback:
    """The oldest `captured_at` a search may reach, and the rule to name when a request goes further."""

    earliest: datetime
    rule: str

    def require_covers(self, requested_from: datetime) -> None:
        if requested_from < self.earliest:
            raise AccessDenied(
                self.rule, f"searches may reach back to {self.earliest.isoformat()} at the earliest"
            )


def search_lookback(
    *,
    principal: Principal,
    level: InvestigationLevel,
    case_ref: str,
    now: datetime,
    authorisation: LiveAuthorisation | None = None,
) -> Lookback:
    """R-ACCESS: the lookback a principal has for a search at `level` on `case_ref`.

    Without an authorisation every level reaches 90 days. Beyond that only `serious-complex` and
    `major`, with an authorisation granted by someone else to this user for this case and level, live
    at `now`, up to its maximum; never beyond the 365-day retention (R-RET-365).
    """
    _require_aware(now, "now")
    if not principal.has_any(SEARCH_ROLES):
        raise AccessDenied("role-cannot-search", "only investigators and senior investigators may search")
    standard = Lookback(now - STANDARD_LOOKBACK, "lookback-exceeds-role")
    if authorisation is None:
        return standard
    if level not in LEVELS_ALLOWING_AUTHORISED_LOOKBACK:
        raise AccessDenied("level-not-authorisable", f"{level} searches are limited to 90 days")
    if authorisation.grantee != principal.user:
        raise AccessDenied("authorisation-not-for-user", "the authorisation was granted to someone else")
    if authorisation.granted_by == principal.user:
        raise AccessDenied("self-authorisation", "nobody may authorise their own search")
    if authorisation.case_ref != case_ref:
        raise AccessDenied("authorisation-wrong-case", "the authorisation is for another case")
    if authorisation.investigation_level != level:
        raise AccessDenied(
            "authorisation-wrong-level", "the authorisation is for another investigation level"
        )
    if not authorisation.valid_from <= now < authorisation.expires_at:
        raise AccessDenied("authorisation-not-live", "the authorisation is not live")
    if authorisation.max_lookback <= STANDARD_LOOKBACK:
        return standard
    if authorisation.max_lookback >= SEARCH_RETENTION:
        return Lookback(retention_floor(now), "lookback-exceeds-retention")
    return Lookback(now - authorisation.max_lookback, "lookback-exceeds-authorisation")
