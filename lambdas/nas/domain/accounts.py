"""R-ACCOUNT as pure rules: what the accounts table records of a user, the state an administrator
sees, when an account is idle (90 days without use), what a review is and which decisions it takes,
and when a role change has happened. No clock here: callers pass `now`.

- An account is *used* when its user signs in or makes an API request; its creation and its last
  reinstatement count as use too, so a new or just-reinstated account is never idle at once.
- An account not used for IDLE_AFTER (exactly 90 x 24 hours, or more) is suspended by the daily job
  and listed for review, due REVIEW_WITHIN (7 days) after it was opened.
- A change of a user's groups or `custom:lea` since the job last looked (a new account included:
  from nothing to its roles) is listed for review with the same due date.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from nas.domain.errors import InvalidInput
from nas.domain.roles import Role
from nas.domain.timefmt import iso_utc

IDLE_AFTER = timedelta(days=90)
"""R-ACCOUNT: an account not used for this long is suspended."""
REVIEW_WITHIN = timedelta(days=7)
"""R-ACCOUNT: a suspension or a role change is reviewed within this long of being listed."""

IDLE_REASON = "idle"
"""`disabled_reason` of an account the daily job suspended for want of use."""
KEPT_SUSPENDED_REASON = "idle: kept suspended on review"
JOB_USER = "job:account-hygiene"
"""Who the daily job acts as in the accounts table, the reviews and the audit trail. Never a user
name: the API refuses `:` in one."""

_REVIEW_NAMESPACE = uuid.UUID("5d0c2a4e-93a1-4c5e-9d7e-0f6c1b2a7e31")


class AccountStatus(BaseModel):
    """What the accounts table says of one user (absent: nothing recorded, the account is active).
    `seen_*` is the daily job's snapshot of the user's roles, compared with the next run's."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    username: str
    disabled: bool = False
    disabled_at: str | None = None
    disabled_by: str | None = None
    disabled_reason: str | None = None
    removed: bool = False
    """Disabled for good after a review: the API refuses to reinstate it (the name stays taken)."""
    reinstated_at: str | None = None
    reinstated_by: str | None = None
    seen_groups: tuple[str, ...] | None = None
    seen_lea: str | None = None
    seen_at: str | None = None


class AccountState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    """Disabled by the daily job for want of use (reason `idle`), awaiting or after review."""
    DISABLED = "disabled"
    """Disabled by an administrator (a leaver), or in the user pool by someone outside NAS."""
    REMOVED = "removed"


def account_state(enabled: bool, record: AccountStatus | None) -> AccountState:
    """The state an administrator sees. The accounts record decides first, since it is what the API
    enforces; a user disabled in the pool alone (by hand, outside NAS) still shows as disabled."""
    if record is not None and record.removed:
        return AccountState.REMOVED
    if record is not None and record.disabled:
        reason = record.disabled_reason or ""
        return AccountState.SUSPENDED if reason.startswith(IDLE_REASON) else AccountState.DISABLED
    return AccountState.ACTIVE if enabled else AccountState.DISABLED


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A user as the identity provider lists it. `groups` is None when not asked for."""

    username: str
    enabled: bool
    lea: str | None
    created_at: datetime
    groups: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class RoleSnapshot:
    groups: tuple[str, ...]
    lea: str | None

    @classmethod
    def of(cls, groups: Iterable[str], lea: str | None) -> RoleSnapshot:
        return cls(tuple(sorted(set(groups))), lea)

    @classmethod
    def seen(cls, record: AccountStatus | None) -> RoleSnapshot | None:
        """What the job recorded at its last look; None when it has never seen the user."""
        if record is None or record.seen_groups is None:
            return None
        return cls.of(record.seen_groups, record.seen_lea)

    @property
    def fingerprint(self) -> str:
        return f"{','.join(self.groups)}|{self.lea or ''}"


def role_changed(before: RoleSnapshot | None, after: RoleSnapshot) -> bool:
    """R-ACCOUNT: a role change since the last look. A user never seen before is a change from
    nothing (a new account is a grant of roles)."""
    return before != after


def last_use(*instants: datetime | None) -> datetime:
    """The latest of the given instants of use (at least one must be given)."""
    known = [i for i in instants if i is not None]
    if not known:
        raise ValueError("no instant of use: an account's creation is always known")
    return max(known)


def is_idle(last_used: datetime, now: datetime) -> bool:
    """R-ACCOUNT: not used for 90 days. 89 days 23:59 is still active; 90 days to the second is idle."""
    return now - last_used >= IDLE_AFTER


def choose_suspensions(
    idle: Sequence[str], enabled_admins: Collection[str], last_used: Mapping[str, datetime]
) -> tuple[list[str], str | None]:
    """Which idle accounts to suspend, and the administrator kept when suspending every idle one
    would leave no enabled administrator: the most recently used of them stays enabled (and is
    listed for review like the rest), so someone can still reinstate accounts through the API."""
    idle_admins = [u for u in idle if u in enabled_admins]
    if not idle_admins or len(idle_admins) < len(set(enabled_admins)):
        return list(idle), None
    kept = max(idle_admins, key=lambda u: (last_used[u], u))
    return [u for u in idle if u != kept], kept


class ReviewKind(StrEnum):
    IDLE = "idle"
    ROLE_CHANGE = "role-change"


class ReviewState(StrEnum):
    OPEN = "open"
    DECIDED = "decided"


class Decision(StrEnum):
    REINSTATE = "reinstate"
    """Idle: enable the account again (its idle clock starts afresh)."""
    KEEP_SUSPENDED = "keep-suspended"
    """Idle: the account stays (or is again) disabled."""
    REMOVE = "remove"
    """Either kind: disabled for good, never deleted (the audit trail names it for years)."""
    CONFIRM = "confirm"
    """Role change: the new roles are right."""


DECISIONS: dict[ReviewKind, frozenset[Decision]] = {
    ReviewKind.IDLE: frozenset({Decision.REINSTATE, Decision.KEEP_SUSPENDED, Decision.REMOVE}),
    ReviewKind.ROLE_CHANGE: frozenset({Decision.CONFIRM, Decision.REMOVE}),
}


def require_decision(kind: ReviewKind, decision: Decision) -> None:
    allowed = DECISIONS[kind]
    if decision not in allowed:
        names = ", ".join(sorted(d.value for d in allowed))
        raise InvalidInput("decision", f"a {kind.value} review takes one of: {names}")


class Review(BaseModel):
    """One item to review (R-ACCOUNT): an idle account suspended (or kept, `kept` saying why), or a
    role change, with what was seen; and, once decided, the decision."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    review_id: str
    username: str
    kind: ReviewKind
    state: ReviewState = ReviewState.OPEN
    opened_at: datetime
    due_at: datetime
    opened_by: str = JOB_USER
    last_used_at: datetime | None = None
    kept: str | None = None
    groups_before: tuple[str, ...] | None = None
    groups_after: tuple[str, ...] | None = None
    lea_before: str | None = None
    lea_after: str | None = None
    decision: Decision | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None

    def overdue(self, now: datetime) -> bool:
        return self.state is ReviewState.OPEN and now >= self.due_at


def review_due_at(opened_at: datetime) -> datetime:
    return opened_at + REVIEW_WITHIN


def review_id(kind: ReviewKind, username: str, when: str, detail: str = "") -> str:
    """Deterministic per (kind, user, when, what was seen): a job run again finds the review it
    opened instead of opening a second."""
    return str(uuid.uuid5(_REVIEW_NAMESPACE, f"{kind.value}/{username}/{when}/{detail}"))


def idle_review(username: str, *, last_used: datetime, now: datetime, kept: str | None) -> Review:
    """Keyed by the last use, not the day: an administrator kept enabled while idle is listed once
    for that idle spell, not again every day; a new spell (after use or reinstatement) is new."""
    return Review(
        review_id=review_id(ReviewKind.IDLE, username, iso_utc(last_used)),
        username=username,
        kind=ReviewKind.IDLE,
        opened_at=now,
        due_at=review_due_at(now),
        last_used_at=last_used,
        kept=kept,
    )


def role_change_review(
    username: str, *, before: RoleSnapshot | None, after: RoleSnapshot, now: datetime, day: str
) -> Review:
    return Review(
        review_id=review_id(ReviewKind.ROLE_CHANGE, username, day, after.fingerprint),
        username=username,
        kind=ReviewKind.ROLE_CHANGE,
        opened_at=now,
        due_at=review_due_at(now),
        groups_before=before.groups if before else None,
        groups_after=after.groups,
        lea_before=before.lea if before else None,
        lea_after=after.lea,
    )


def is_admin(groups: Iterable[str] | None) -> bool:
    return Role.ADMIN.value in set(groups or ())
