"""R-ACCOUNT rules: the 90-day idle boundary, review due dates, role changes, which decisions a review
takes, the state an administrator sees, and the administrator kept when every one is idle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nas.domain import accounts
from nas.domain.accounts import (
    AccountState,
    AccountStatus,
    Decision,
    ReviewKind,
    ReviewState,
    RoleSnapshot,
)
from nas.domain.errors import InvalidInput

NOW = datetime(2024, 5, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("unused_for", "idle"),
    [
        (timedelta(days=89), False),
        (timedelta(days=90) - timedelta(seconds=1), False),
        (timedelta(days=90), True),
        (timedelta(days=91), True),
    ],
)
def test_an_account_is_idle_after_exactly_90_days_without_use(unused_for: timedelta, idle: bool) -> None:
    assert accounts.is_idle(NOW - unused_for, NOW) is idle


def test_the_90_days_are_counted_in_24_hour_days_across_a_leap_day() -> None:
    # 2024-02-29 lies between: 90 days before 2024-05-30T12:00Z is 2024-03-01T12:00Z, not 03-02.
    assert accounts.is_idle(datetime(2024, 3, 1, 12, 0, tzinfo=UTC), NOW)
    assert not accounts.is_idle(datetime(2024, 3, 1, 12, 0, 1, tzinfo=UTC), NOW)


def test_last_use_is_the_latest_instant_known() -> None:
    created = NOW - timedelta(days=200)
    request = NOW - timedelta(days=95)
    sign_in = NOW - timedelta(days=10)
    assert accounts.last_use(created, None, request, sign_in) == sign_in
    assert accounts.last_use(created, None) == created
    with pytest.raises(ValueError, match="no instant"):
        accounts.last_use(None, None)


def test_a_review_is_due_seven_days_after_it_is_opened() -> None:
    review = accounts.idle_review("op.kent", last_used=NOW - timedelta(days=90), now=NOW, kept=None)
    assert review.due_at == datetime(2024, 6, 6, 12, 0, tzinfo=UTC)
    assert review.state is ReviewState.OPEN
    assert not review.overdue(NOW + timedelta(days=7) - timedelta(seconds=1))
    assert review.overdue(NOW + timedelta(days=7))
    decided = review.model_copy(update={"state": ReviewState.DECIDED})
    assert not decided.overdue(NOW + timedelta(days=30))


def test_review_ids_repeat_within_a_day_and_differ_across_users_kinds_and_days() -> None:
    first = accounts.review_id(ReviewKind.IDLE, "a", "2024-05-30")
    assert first == accounts.review_id(ReviewKind.IDLE, "a", "2024-05-30")
    others = {
        accounts.review_id(ReviewKind.IDLE, "b", "2024-05-30"),
        accounts.review_id(ReviewKind.ROLE_CHANGE, "a", "2024-05-30"),
        accounts.review_id(ReviewKind.IDLE, "a", "2024-05-31"),
    }
    assert first not in others
    assert len(others) == 3


def test_a_role_change_is_a_change_of_groups_or_lea_and_a_new_account_is_one() -> None:
    seen = RoleSnapshot.of(["operator"], "KENT")
    assert not accounts.role_changed(seen, RoleSnapshot.of(["operator", "operator"], "KENT"))
    assert accounts.role_changed(seen, RoleSnapshot.of(["operator", "investigator"], "KENT"))
    assert accounts.role_changed(seen, RoleSnapshot.of(["operator"], "ESSEX"))
    assert accounts.role_changed(None, seen)
    record = AccountStatus(username="u", seen_groups=("operator",), seen_lea="KENT")
    assert RoleSnapshot.seen(record) == seen
    assert RoleSnapshot.seen(AccountStatus(username="u", disabled=True)) is None


@pytest.mark.parametrize(
    ("kind", "decision", "allowed"),
    [
        (ReviewKind.IDLE, Decision.REINSTATE, True),
        (ReviewKind.IDLE, Decision.KEEP_SUSPENDED, True),
        (ReviewKind.IDLE, Decision.REMOVE, True),
        (ReviewKind.IDLE, Decision.CONFIRM, False),
        (ReviewKind.ROLE_CHANGE, Decision.CONFIRM, True),
        (ReviewKind.ROLE_CHANGE, Decision.REMOVE, True),
        (ReviewKind.ROLE_CHANGE, Decision.REINSTATE, False),
        (ReviewKind.ROLE_CHANGE, Decision.KEEP_SUSPENDED, False),
    ],
)
def test_each_kind_of_review_takes_its_own_decisions(
    kind: ReviewKind, decision: Decision, allowed: bool
) -> None:
    if allowed:
        accounts.require_decision(kind, decision)
    else:
        with pytest.raises(InvalidInput) as refused:
            accounts.require_decision(kind, decision)
        assert refused.value.field == "decision"


@pytest.mark.parametrize(
    ("enabled", "record", "state"),
    [
        (True, None, AccountState.ACTIVE),
        (False, None, AccountState.DISABLED),
        (True, AccountStatus(username="u", disabled=True, disabled_reason="idle"), AccountState.SUSPENDED),
        (
            False,
            AccountStatus(username="u", disabled=True, disabled_reason=accounts.KEPT_SUSPENDED_REASON),
            AccountState.SUSPENDED,
        ),
        (
            False,
            AccountStatus(username="u", disabled=True, disabled_reason="Left, HR 12"),
            AccountState.DISABLED,
        ),
        (False, AccountStatus(username="u", disabled=True, removed=True), AccountState.REMOVED),
        (True, AccountStatus(username="u", reinstated_at="2024-05-01T00:00:00.000000Z"), AccountState.ACTIVE),
    ],
)
def test_the_state_an_administrator_sees(
    enabled: bool, record: AccountStatus | None, state: AccountState
) -> None:
    assert accounts.account_state(enabled, record) is state


def test_the_most_recently_used_admin_is_kept_when_every_admin_is_idle() -> None:
    used = {
        "adm.a": NOW - timedelta(days=120),
        "adm.b": NOW - timedelta(days=95),
        "op": NOW - timedelta(days=91),
    }
    suspend, kept = accounts.choose_suspensions(["adm.a", "adm.b", "op"], {"adm.a", "adm.b"}, used)
    assert (suspend, kept) == (["adm.a", "op"], "adm.b")


def test_idle_admins_are_suspended_while_another_admin_stays_enabled() -> None:
    used = {"adm.a": NOW - timedelta(days=120), "op": NOW - timedelta(days=91)}
    suspend, kept = accounts.choose_suspensions(["adm.a", "op"], {"adm.a", "adm.b"}, used)
    assert (suspend, kept) == (["adm.a", "op"], None)
