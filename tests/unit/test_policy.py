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
    Lookback,
    Timeliness,
    capture_timeliness,
    retention_floor,
    search_lookback,
    voi_expires_at,
    voi_is_live,
    voi_review_due_at,
    voi_review_overdue,
)
from nas.domain.roles import Principal, Role


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


# --- R-ACCESS -----------------------------------------------------------------------------------

NOW = utc(2024, 5, 30)
NINETY_DAYS_AGO = utc(2024, 3, 1)
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


def lookback_with(authorisation: LiveAuthorisation | None, **changes: object) -> Lookback:
    if authorisation is not None and changes:
        authorisation = dataclasses.replace(authorisation, **changes)  # type: ignore[arg-type]
    return search_lookback(
        principal=INVESTIGATOR,
        level=InvestigationLevel.SERIOUS_COMPLEX,
        case_ref=CASE,
        now=NOW,
        authorisation=authorisation,
    )


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
    with pytest.raises(AccessDenied) as denied:
        search_lookback(principal=principal, level=InvestigationLevel.PRIORITY_VOLUME, case_ref=CASE, now=NOW)
    assert denied.value.rule == "role-cannot-search"


@pytest.mark.parametrize("role", ["investigator", "senior-investigator"])
@pytest.mark.parametrize("level", list(InvestigationLevel))
def test_without_authorisation_every_level_reaches_back_90_days(role: str, level: InvestigationLevel) -> None:
    principal = Principal.from_claims("ivy.investigator", [role, "operator"], "NATIONAL")
    lookback = search_lookback(principal=principal, level=level, case_ref=CASE, now=NOW)
    assert lookback.earliest == NINETY_DAYS_AGO
    assert lookback.rule == "lookback-exceeds-role"


def test_lookback_covers_exactly_its_earliest_instant_and_no_further() -> None:
    lookback = lookback_with(None)
    lookback.require_covers(utc(2024, 3, 1))
    lookback.require_covers(utc(2024, 5, 29))
    with pytest.raises(AccessDenied) as denied:
        lookback.require_covers(utc(2024, 2, 29, 23, 59, 59, 999999))
    assert denied.value.rule == "lookback-exceeds-role"


def test_search_lookback_refuses_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        search_lookback(
            principal=INVESTIGATOR,
            level=InvestigationLevel.PRIORITY_VOLUME,
            case_ref=CASE,
            now=datetime(2024, 5, 30),
        )


def test_priority_volume_cannot_use_an_authorisation() -> None:
    grant = dataclasses.replace(LIVE_GRANT, investigation_level=InvestigationLevel.PRIORITY_VOLUME)
    with pytest.raises(AccessDenied) as denied:
        search_lookback(
            principal=INVESTIGATOR,
            level=InvestigationLevel.PRIORITY_VOLUME,
            case_ref=CASE,
            now=NOW,
            authorisation=grant,
        )
    assert denied.value.rule == "level-not-authorisable"


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        pytest.param({"grantee": "olly.other"}, "authorisation-not-for-user", id="other-grantee"),
        pytest.param({"granted_by": "ivy.investigator"}, "self-authorisation", id="self-authorised"),
        pytest.param({"case_ref": "KENT-2024-000999"}, "authorisation-wrong-case", id="other-case"),
        pytest.param(
            {"investigation_level": InvestigationLevel.MAJOR}, "authorisation-wrong-level", id="other-level"
        ),
        pytest.param(
            {"valid_from": utc(2024, 5, 30, 0, 0, 0, 1)}, "authorisation-not-live", id="1us-before-valid-from"
        ),
        pytest.param({"expires_at": utc(2024, 5, 30)}, "authorisation-not-live", id="at-expiry"),
        pytest.param({"expires_at": utc(2024, 5, 29)}, "authorisation-not-live", id="expired"),
    ],
)
def test_an_authorisation_that_does_not_apply_is_refused(changes: dict[str, object], rule: str) -> None:
    with pytest.raises(AccessDenied) as denied:
        lookback_with(LIVE_GRANT, **changes)
    assert denied.value.rule == rule


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"valid_from": utc(2024, 5, 30)}, id="from-now"),
        pytest.param({"expires_at": utc(2024, 5, 30, 0, 0, 0, 1)}, id="1us-before-expiry"),
    ],
)
def test_an_authorisation_is_live_from_valid_from_until_just_before_expiry(
    changes: dict[str, object],
) -> None:
    assert lookback_with(LIVE_GRANT, **changes).earliest == utc(2023, 11, 12)


def test_authorisation_extends_the_lookback_to_its_maximum() -> None:
    lookback = lookback_with(LIVE_GRANT)
    assert lookback.earliest == utc(2023, 11, 12)  # 200 days before 2024-05-30, across 29 February
    assert lookback.rule == "lookback-exceeds-authorisation"
    lookback.require_covers(utc(2023, 11, 12))
    with pytest.raises(AccessDenied) as denied:
        lookback.require_covers(utc(2023, 11, 11, 23, 59, 59, 999999))
    assert denied.value.rule == "lookback-exceeds-authorisation"


@pytest.mark.parametrize("level", [InvestigationLevel.SERIOUS_COMPLEX, InvestigationLevel.MAJOR])
def test_authorisation_never_reaches_beyond_retention(level: InvestigationLevel) -> None:
    grant = dataclasses.replace(LIVE_GRANT, investigation_level=level, max_lookback=timedelta(days=365))
    lookback = search_lookback(
        principal=INVESTIGATOR, level=level, case_ref=CASE, now=NOW, authorisation=grant
    )
    assert lookback.earliest == utc(2023, 5, 31)
    assert lookback.rule == "lookback-exceeds-retention"
    with pytest.raises(AccessDenied) as denied:
        lookback.require_covers(utc(2023, 5, 30, 23, 59, 59, 999999))
    assert denied.value.rule == "lookback-exceeds-retention"


@pytest.mark.parametrize("days", [60, 90])
def test_authorisation_shorter_than_90_days_leaves_the_standard_lookback(days: int) -> None:
    lookback = lookback_with(LIVE_GRANT, max_lookback=timedelta(days=days))
    assert lookback.earliest == NINETY_DAYS_AGO
    assert lookback.rule == "lookback-exceeds-role"


def test_senior_investigator_uses_an_authorisation_like_an_investigator() -> None:
    senior = Principal.from_claims("ivy.investigator", [Role.SENIOR_INVESTIGATOR.value], "KENT")
    grant = dataclasses.replace(LIVE_GRANT, investigation_level=InvestigationLevel.MAJOR)
    lookback = search_lookback(
        principal=senior, level=InvestigationLevel.MAJOR, case_ref=CASE, now=NOW, authorisation=grant
    )
    assert lookback.earliest == utc(2023, 11, 12)
