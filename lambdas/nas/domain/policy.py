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
    revoked_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        """Granted, not yet expired, not revoked (a revocation takes effect at once)."""
        return self.valid_from <= now < self.expires_at and (self.revoked_at is None or now < self.revoked_at)

    def covers(
        self, *, user: str, case_ref: str, level: InvestigationLevel, lookback: timedelta, now: datetime
    ) -> bool:
        """R-AUTHZ: granted by someone else to `user`, for this case and level, live at `now`, and
        reaching back at least `lookback`."""
        return (
            self.grantee == user
            and self.granted_by != user
            and self.case_ref == case_ref
            and self.investigation_level == level
            and self.is_live(now)
            and lookback <= self.max_lookback
        )


def require_lookback(
    *,
    principal: Principal,
    level: InvestigationLevel,
    case_ref: str,
    reaches_back_to: datetime,
    now: datetime,
    authorisation_named: bool = False,
    authorisation: LiveAuthorisation | None = None,
) -> None:
    """R-ACCESS / R-AUTHZ: may `principal` search back to `reaches_back_to` (lookback = now - it) at
    `level` on `case_ref`? Refuses with the rule that stops it:

    - `lookback-exceeds-level`: beyond 365 days at any level (R-RET-365), or beyond 90 days at
      `priority-volume`;
    - `authorisation-not-valid`: an authorisation was named (`authorisation_named`) but is unknown
      (`authorisation` None), not for this user, case and level, granted by the searcher, not live
      (expired, revoked) or shorter than the lookback;
    - `authorisation-required`: `serious-complex` or `major` beyond 90 days without one.

    A named authorisation is checked even when the lookback would not need it.
    """
    _require_aware(now, "now")
    _require_aware(reaches_back_to, "reaches_back_to")
    if not principal.has_any(SEARCH_ROLES):
        raise AccessDenied("role-cannot-search", "only investigators and senior investigators may search")
    lookback = now - reaches_back_to
    if lookback > SEARCH_RETENTION:
        raise AccessDenied("lookback-exceeds-level", "no search reaches back more than 365 days (R-RET-365)")
    if lookback > STANDARD_LOOKBACK and level not in LEVELS_ALLOWING_AUTHORISED_LOOKBACK:
        raise AccessDenied(
            "lookback-exceeds-level", f"{level} searches reach back at most 90 days (R-ACCESS)"
        )
    if authorisation_named:
        if authorisation is None or not authorisation.covers(
            user=principal.user, case_ref=case_ref, level=level, lookback=lookback, now=now
        ):
            raise AccessDenied(
                "authorisation-not-valid",
                "the authorisation is unknown, not for this user, case and level, not live, or shorter"
                " than the lookback (R-AUTHZ)",
            )
        return
    if lookback > STANDARD_LOOKBACK:
        raise AccessDenied(
            "authorisation-required",
            f"{level} searches beyond 90 days need an authorisation_id for this case (R-AUTHZ)",
        )
