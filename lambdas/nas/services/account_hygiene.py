"""R-ACCOUNT daily job: accounts not used for 90 days are suspended (AdminDisableUser, and the
accounts record the API checks, reason `idle`) and listed for review; role changes seen since the
last run (groups, `custom:lea`; a new account is a change from nothing) are listed for review. Every
action is appended to the audit trail as the job's own event (`nas.services.activity.JobAudit`).

"Used" is the latest of: the last audited API request (the audit trail's by-user index), the last
successful sign-in (Cognito auth events; asked only when the trail shows no request in 90 days),
the account's creation and its last reinstatement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from nas.adapters import StoreError
from nas.adapters.accounts import AccountStore, Directory
from nas.adapters.reviews import ReviewStore
from nas.domain import accounts
from nas.domain.accounts import DirectoryUser, RoleSnapshot
from nas.domain.errors import NotFound
from nas.domain.timefmt import iso_utc, utc_date
from nas.services.activity import ApiActivity, JobAudit

JOB_NAME = "account-hygiene"
KEPT_ADMIN = "last-enabled-admin"
"""Why an idle account was left enabled: suspending it would leave no enabled administrator."""


@dataclass(frozen=True, slots=True)
class HygienePorts:
    directory: Directory
    store: AccountStore
    reviews: ReviewStore
    activity: ApiActivity
    audit: Callable[[str], JobAudit]
    """The job's audit recorder for one run id."""


@dataclass(slots=True)
class HygieneRun:
    """What one run did: accounts suspended, the administrator kept (if every one was idle),
    reviews opened (by kind), and accounts whose suspension failed (tried again next run)."""

    as_of: str
    checked: int = 0
    suspended: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    idle_reviews: list[str] = field(default_factory=list)
    role_change_reviews: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "as_of": self.as_of,
            "checked": self.checked,
            "suspended": self.suspended,
            "kept": self.kept,
            "idle_reviews": len(self.idle_reviews),
            "role_change_reviews": len(self.role_change_reviews),
            "failed": self.failed,
        }


def run_hygiene(ports: HygienePorts, *, now: datetime, run_id: str) -> HygieneRun:
    """One run as of `now` (R-ACCOUNT). Run again, it opens nothing twice: an idle review's id is
    per user and last use, a role change's per user, day and new roles; suspensions and snapshots
    are plain overwrites."""
    audit = ports.audit(run_id)
    run = HygieneRun(as_of=iso_utc(now))
    day = utc_date(now)
    records = {r.username: r for r in ports.store.all_statuses()}
    users = list(ports.directory.all_users())
    run.checked = len(users)

    for user in users:
        _note_role_change(ports, audit, user, records.get(user.username), now=now, day=day, run=run)

    last_used: dict[str, datetime] = {}
    enabled_admins: set[str] = set()
    idle: list[str] = []
    for user in users:
        record = records.get(user.username)
        if not user.enabled or (record is not None and record.disabled):
            continue
        if accounts.is_admin(user.groups):
            enabled_admins.add(user.username)
        try:
            used = _last_used(ports, user, record.reinstated_at if record else None, now)
        except NotFound:
            continue  # deleted from the pool since it was listed: nothing to suspend
        last_used[user.username] = used
        if accounts.is_idle(used, now):
            idle.append(user.username)

    to_suspend, kept = accounts.choose_suspensions(idle, enabled_admins, last_used)
    listed = [u for u in to_suspend if _suspend(ports, audit, u, now=now, run=run)]
    if kept is not None:
        run.kept.append(kept)
        listed.append(kept)
    for username in listed:
        keep = KEPT_ADMIN if username == kept else None
        review = accounts.idle_review(username, last_used=last_used[username], now=now, kept=keep)
        if ports.reviews.open(review):
            run.idle_reviews.append(review.review_id)
            audit.record(
                "review-opened",
                result_count=1,
                review_id=review.review_id,
                user=username,
                kind=review.kind.value,
                kept=keep,
                last_used_at=iso_utc(last_used[username]),
                due_at=iso_utc(review.due_at),
                as_of=run.as_of,
            )
    audit.record("run", result_count=len(run.suspended), summary=run.as_dict())
    return run


def _last_used(
    ports: HygienePorts, user: DirectoryUser, reinstated_at: str | None, now: datetime
) -> datetime:
    known = accounts.last_use(
        user.created_at,
        datetime.fromisoformat(reinstated_at) if reinstated_at else None,
        ports.activity.last_request_at(user.username, now),
    )
    if not accounts.is_idle(known, now):
        return known
    # Only now ask the user pool (one call per user): most accounts are in daily use through the API.
    return accounts.last_use(known, ports.directory.last_sign_in(user.username))


def _suspend(ports: HygienePorts, audit: JobAudit, username: str, *, now: datetime, run: HygieneRun) -> bool:
    try:
        ports.directory.disable(username)
        ports.store.mark_disabled(username, by=accounts.JOB_USER, reason=accounts.IDLE_REASON, at=now)
        ports.directory.sign_out(username)
    except (StoreError, NotFound) as exc:  # one account's failure must not stop the others
        run.failed.append(username)
        audit.record(
            "suspend-failed", result_count=0, user=username, error=type(exc).__name__, as_of=run.as_of
        )
        return False
    run.suspended.append(username)
    audit.record("suspend", result_count=1, reason=accounts.IDLE_REASON, user=username, as_of=run.as_of)
    return True


def _note_role_change(
    ports: HygienePorts,
    audit: JobAudit,
    user: DirectoryUser,
    record: accounts.AccountStatus | None,
    *,
    now: datetime,
    day: str,
    run: HygieneRun,
) -> None:
    before = RoleSnapshot.seen(record)
    after = RoleSnapshot.of(user.groups or (), user.lea)
    if not accounts.role_changed(before, after):
        return
    review = accounts.role_change_review(user.username, before=before, after=after, now=now, day=day)
    if ports.reviews.open(review):
        run.role_change_reviews.append(review.review_id)
        audit.record(
            "review-opened",
            result_count=1,
            review_id=review.review_id,
            user=user.username,
            kind=review.kind.value,
            groups_before=list(before.groups) if before else None,
            groups_after=list(after.groups),
            lea_before=before.lea if before else None,
            lea_after=after.lea,
            due_at=iso_utc(review.due_at),
            as_of=run.as_of,
        )
    # The snapshot moves on once the change is listed, so the next run compares with this one.
    ports.store.record_seen(user.username, groups=after.groups, lea=after.lea, at=now)
