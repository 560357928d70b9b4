"""Time rules (R-VOI-28, R-VOI-56, R-LATE, R-RET-365, R-ACCESS) at their boundaries. Expected instants
are written out by hand, so a wrong duration (or a calendar year in place of 365 days) shows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from nas.domain.errors import AccessDenied
from nas.domain.policy import (
    InvestigationLevel,
    LiveAuthorisation,
    Timeliness,
    capture_timeliness,
    require_lookback,
    retention_floor,
    voi_expires_at,
    voi_is_live,
    voi_review_due_at,
    voi_review_overdue,
)
from nas.domain.roles import Principal


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# --- R-VOI-28 / R-VOI-56 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_revised_at", "review_due_at", "expires_at"),
    [
        pytest.param(
            utc(2024, 2, 1, 10), utc(2024, 2, 29, 10), utc(2024, 3, 28, 10), id="across-29-february-2024"
        ),
        pytest.param(
            utc(2023, 2, 1, 10), utc(2023, 3, 1, 10), utc(2023, 3, 29, 10), id="non-leap-february-2023"
        ),
        pytest.param(
            utc(2024, 12, 20, 23, 59, 59, 999999),
            utc(2025, 1, 17, 23, 59, 59, 999999),
            utc(2025, 2, 14, 23, 59, 59, 999999),
            id="across-new-year",
        ),
        pytest.param(
            datetime(2024, 2, 1, 10, tzinfo=timezone(timedelta(hours=1))),
            utc(2024, 2, 29, 9),
            utc(2024, 3, 28, 9),
            id="offset-input",
        ),
    ],
)
def test_voi_review_and_expiry_are_28_and_56_days_after_last_revision(
    last_revised_at: datetime, review_due_at: datetime, expires_at: datetime
) -> None:
    assert voi_review_due_at(last_revised_at) == review_due_at
    assert voi_expires_at(last_revised_at) == expires_at


@pytest.mark.parametrize("rule", [voi_review_due_at, voi_expires_at])
def test_voi_dates_refuse_naive_datetimes(rule: Callable[[datetime], datetime]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        rule(datetime(2024, 2, 1, 10))


@pytest.mark.parametrize(
    ("now", "live"),
    [
        pytest.param(utc(2024, 3, 28, 9, 59, 59, 999999), True, id="1us-before-expiry"),
        pytest.param(utc(2024, 3, 28, 10), False, id="at-expiry"),
        pytest.param(utc(2024, 3, 28, 10, 0, 0, 1), False, id="after-expiry"),
        pytest.param(utc(2024, 2, 1, 10), True, id="at-revision"),
    ],
)
def test_voi_is_live_until_its_expiry(now: datetime, live: bool) -> None:
    assert voi_is_live(utc(2024, 3, 28, 10), now) is live


@pytest.mark.parametrize(
    ("now", "overdue"),
    [
        pytest.param(utc(2024, 2, 29, 9, 59, 59, 999999), False, id="1us-before-due"),
        pytest.param(utc(2024, 2, 29, 10), True, id="at-due"),
    ],
)
def test_voi_review_is_overdue_from_its_due_time(now: datetime, overdue: bool) -> None:
    assert voi_review_overdue(utc(2024, 2, 29, 10), now) is overdue


# --- R-LATE -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("captured_at", "expected"),
    [
        pytest.param(utc(2024, 5, 30, 12, 5, 0, 1), Timeliness.FUTURE, id="5min-and-1us-ahead"),
        pytest.param(utc(2024, 5, 30, 12, 5), Timeliness.LIVE, id="exactly-5min-ahead"),
        pytest.param(utc(2024, 5, 30, 12), Timeliness.LIVE, id="now"),
        pytest.param(utc(2024, 5, 29, 12), Timeliness.LIVE, id="exactly-24h-old"),
        pytest.param(utc(2024, 5, 29, 11, 59, 59, 999999), Timeliness.LATE, id="24h-and-1us-old"),
        pytest.param(utc(2023, 5, 31, 12), Timeliness.LATE, id="exactly-365d-old"),
        pytest.param(utc(2023, 5, 31, 11, 59, 59, 999999), Timeliness.EXPIRED, id="365d-and-1us-old"),
        pytest.param(utc(2023, 5, 30, 12), Timeliness.EXPIRED, id="one-calendar-year-old"),
    ],
)
def test_capture_timeliness_classes(captured_at: datetime, expected: Timeliness) -> None:
    assert capture_timeliness(captured_at, utc(2024, 5, 30, 12)) is expected


def test_capture_timeliness_refuses_naive_captured_at() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        capture_timeliness(datetime(2024, 5, 30, 12), utc(2024, 5, 30, 12))


# --- R-RET-365 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "floor"),
    [
        pytest.param(utc(2024, 3, 1), utc(2023, 3, 2), id="leap-year-365-days-is-not-a-calendar-year"),
        pytest.param(utc(2025, 3, 1), utc(2024, 3, 1), id="non-leap-year"),
        pytest.param(utc(2024, 5, 30), utc(2023, 5, 31), id="late-may-2024"),
    ],
)
def test_retention_floor_is_365_days_before_now(now: datetime, floor: datetime) -> None:
    assert retention_floor(now) == floor


def test_retention_floor_refuses_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        retention_floor(datetime(2024, 3, 1))


# --- R-ACCESS / R-AUTHZ ----------------------------------------------------------------------------

NOW = utc(2024, 5, 30)
NINETY_DAYS_AGO = utc(2024, 3, 1)  # across 29 February
CASE = "KENT-2024-000123"
INVESTIGATOR = Principal.from_claims("ivy.investigator", ["investigator"], "KENT")
LIVE_GRANT = LiveAuthorisation(
    grantee="ivy.investigator",
    granted_by="sam.superintendent",
    case_ref=CASE,
    investigation_level=InvestigationLevel.SERIOUS_COMPLEX,
    max_lookback=timedelta(days=200),
    valid_from=utc(2024, 5, 20),
    expires_at=utc(2024, 6, 10),
)
TWO_HUNDRED_DAYS_AGO = utc(2023, 11, 12)
US = timedelta(microseconds=1)


def check(
    reaches_back_to: datetime,
    *,
    level: InvestigationLevel = InvestigationLevel.SERIOUS_COMPLEX,
    grant: LiveAuthorisation | None = None,
    named: bool | None = None,
    principal: Principal = INVESTIGATOR,
    **changes: object,
) -> str | None:
    """The rule that refuses the search, or None when it may run."""
    if grant is not None and changes:
        grant = dataclasses.replace(grant, **changes)  # type: ignore[arg-type]
    try:
        require_lookback(
            principal=principal,
            level=level,
            case_ref=CASE,
            reaches_back_to=reaches_back_to,
            now=NOW,
            authorisation_named=grant is not None if named is None else named,
            authorisation=grant,
        )
    except AccessDenied as denied:
        return denied.rule
    return None


@pytest.mark.parametrize(
    "roles",
    [
        pytest.param(["operator"], id="operator"),
        pytest.param(["authoriser"], id="authoriser"),
        pytest.param(["auditor", "dpo", "analyst", "voi-manager"], id="many-non-search-roles"),
        pytest.param(["admin"], id="admin"),
        pytest.param([], id="no-role"),
    ],
)
def test_only_search_roles_may_search(roles: list[str]) -> None:
    principal = Principal.from_claims("someone", roles, "KENT")
    assert check(NOW, principal=principal) == "role-cannot-search"


@pytest.mark.parametrize("role", ["investigator", "senior-investigator"])
@pytest.mark.parametrize("level", list(InvestigationLevel))
def test_every_level_reaches_back_exactly_90_days_without_authorisation(
    role: str, level: InvestigationLevel
) -> None:
    principal = Principal.from_claims("ivy.investigator", [role, "operator"], "NATIONAL")
    assert check(NINETY_DAYS_AGO, level=level, principal=principal) is None


def test_priority_volume_beyond_90_days_exceeds_its_level_with_or_without_authorisation() -> None:
    level = InvestigationLevel.PRIORITY_VOLUME
    assert check(NINETY_DAYS_AGO - US, level=level) == "lookback-exceeds-level"
    grant = dataclasses.replace(LIVE_GRANT, investigation_level=level)
    assert check(NINETY_DAYS_AGO - US, level=level, grant=grant) == "lookback-exceeds-level"


@pytest.mark.parametrize("level", [InvestigationLevel.SERIOUS_COMPLEX, InvestigationLevel.MAJOR])
def test_serious_levels_beyond_90_days_require_an_authorisation(level: InvestigationLevel) -> None:
    assert check(NINETY_DAYS_AGO - US, level=level) == "authorisation-required"
    assert check(utc(2023, 5, 31), level=level) == "authorisation-required"  # exactly 365 days


def test_an_authorisation_covers_exactly_its_maximum_lookback() -> None:
    assert check(TWO_HUNDRED_DAYS_AGO, grant=LIVE_GRANT) is None
    assert check(TWO_HUNDRED_DAYS_AGO - US, grant=LIVE_GRANT) == "authorisation-not-valid"


@pytest.mark.parametrize("level", [InvestigationLevel.SERIOUS_COMPLEX, InvestigationLevel.MAJOR])
def test_no_search_reaches_beyond_365_days_even_with_a_365_day_authorisation(
    level: InvestigationLevel,
) -> None:
    grant = dataclasses.replace(LIVE_GRANT, investigation_level=level, max_lookback=timedelta(days=365))
    assert check(utc(2023, 5, 31), level=level, grant=grant) is None  # 365 days, not a calendar year
    assert check(utc(2023, 5, 31) - US, level=level, grant=grant) == "lookback-exceeds-level"


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"grantee": "olly.other"}, id="other-grantee"),
        pytest.param({"granted_by": "ivy.investigator"}, id="self-authorised"),
        pytest.param({"case_ref": "KENT-2024-000999"}, id="other-case"),
        pytest.param({"investigation_level": InvestigationLevel.MAJOR}, id="other-level"),
        pytest.param({"valid_from": utc(2024, 5, 30, 0, 0, 0, 1)}, id="1us-before-valid-from"),
        pytest.param({"expires_at": utc(2024, 5, 30)}, id="at-expiry"),
        pytest.param({"expires_at": utc(2024, 5, 29)}, id="expired"),
        pytest.param({"revoked_at": utc(2024, 5, 30)}, id="revoked-now"),
        pytest.param({"revoked_at": utc(2024, 5, 21)}, id="revoked-earlier"),
    ],
)
def test_an_authorisation_that_does_not_apply_is_not_valid(changes: dict[str, object]) -> None:
    assert check(TWO_HUNDRED_DAYS_AGO, grant=LIVE_GRANT, **changes) == "authorisation-not-valid"


def test_a_named_authorisation_that_does_not_exist_is_not_valid_even_within_90_days() -> None:
    assert check(NOW - timedelta(days=1), named=True) == "authorisation-not-valid"
    assert check(NOW - timedelta(days=1), grant=LIVE_GRANT, grantee="olly.other") == "authorisation-not-valid"


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"valid_from": NOW}, id="from-now"),
        pytest.param({"expires_at": NOW + US}, id="1us-before-expiry"),
        pytest.param({"revoked_at": NOW + US}, id="revoked-from-1us-later"),
    ],
)
def test_an_authorisation_is_live_from_valid_from_until_expiry_or_revocation(
    changes: dict[str, object],
) -> None:
    assert check(TWO_HUNDRED_DAYS_AGO, grant=LIVE_GRANT, **changes) is None


def test_require_lookback_refuses_naive_instants() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        require_lookback(
            principal=INVESTIGATOR,
            level=InvestigationLevel.PRIORITY_VOLUME,
            case_ref=CASE,
            reaches_back_to=datetime(2024, 5, 1),
            now=NOW,
        )
