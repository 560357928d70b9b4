"""R-ACCOUNT for administrators: the gate every API request passes (is this user disabled?), leavers
disabled at once, accounts listed with their roles and use, suspended accounts reinstated, and the
reviews the daily job opens (`nas.services.account_hygiene`) decided."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nas.adapters.accounts import AccountRemoved, AccountStatus, AccountStore, Directory
from nas.adapters.reviews import ReviewDecided, ReviewPosition, ReviewStore
from nas.domain.accounts import (
    KEPT_SUSPENDED_REASON,
    AccountState,
    Decision,
    DirectoryUser,
    Review,
    ReviewState,
    account_state,
    require_decision,
)
from nas.domain.errors import AccessDenied, InvalidInput, NotFound
from nas.domain.roles import Principal
from nas.services.activity import ApiActivity

STATUS_CACHE_S = 30.0
"""How long an execution environment trusts an account's answer, "active" or "disabled". With the
other environments' caches, a disabled user's still-valid ID token is refused within this long (the
requirement is one minute), and a reinstated user's next token is let through within it."""
MAX_DIRECTORY_PAGES = 5
"""Pages of the user pool (60 users each) one `GET /admin/accounts` reads looking for matches: a
filter that matches few users answers a short page and a token to go on, not a timeout."""


class AccountDisabled(Exception):
    """The caller's account has been disabled; its still-valid token is refused."""


class AccountGate:
    """Answers "is this user disabled?" for every request, from the accounts table, remembering
    each answer for STATUS_CACHE_S so a busy user costs one read per half minute, not per request."""

    def __init__(
        self,
        store: AccountStore,
        *,
        cache_s: float = STATUS_CACHE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cache_s = cache_s
        self._monotonic = monotonic
        self._known: dict[str, tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def require_active(self, username: str) -> None:
        now = self._monotonic()
        with self._lock:
            cached = self._known.get(username)
        if cached is not None and now - cached[1] < self._cache_s:
            disabled = cached[0]
        else:
            status = self._store.status(username)
            disabled = bool(status and status.disabled)
            with self._lock:
                self._known[username] = (disabled, now)
        if disabled:
            raise AccountDisabled(username)

    def note_disabled(self, username: str) -> None:
        """This environment disabled the user itself: refuse them here without waiting."""
        with self._lock:
            self._known[username] = (True, self._monotonic())

    def note_enabled(self, username: str) -> None:
        """This environment reinstated the user itself: let them through here without waiting."""
        with self._lock:
            self._known[username] = (False, self._monotonic())


@dataclass(frozen=True, slots=True)
class AccountQuery:
    status: AccountState | None = None
    lea: str | None = None
    group: str | None = None
    limit: int = 25


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """One account as an administrator sees it (never any ANPR data)."""

    username: str
    groups: tuple[str, ...]
    lea: str | None
    state: AccountState
    enabled: bool
    created_at: datetime
    last_sign_in_at: datetime | None
    last_api_request_at: datetime | None
    disabled_at: str | None
    disabled_reason: str | None


@dataclass(frozen=True, slots=True)
class AccountPage:
    accounts: list[AccountSummary]
    cursor: dict[str, Any] | None
    sign_in_history: bool
    """False where the user pool keeps no auth events (local mode): last sign-in is unknown."""


@dataclass(frozen=True, slots=True)
class ReviewPage:
    reviews: list[Review]
    cursor: dict[str, Any] | None


def _bad_cursor() -> InvalidInput:
    return InvalidInput("page_token", "is not a page token of this query")


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        directory: Directory,
        gate: AccountGate,
        *,
        clock: Callable[[], datetime],
        reviews: ReviewStore | None = None,
        activity: ApiActivity | None = None,
    ) -> None:
        self._store = store
        self._directory = directory
        self._gate = gate
        self._clock = clock
        self._reviews = reviews
        self._activity = activity

    def disable(self, admin: Principal, username: str, reason: str) -> AccountStatus:
        """Disables `username` (R-ACCOUNT, a leaver): the identity provider first (it says whether
        the user exists, and refuses new sign-ins), then the accounts record the API checks, then
        every refresh token is revoked. Each step is idempotent, so a failed call is simply retried."""
        if admin.user == username:
            raise AccessDenied("self-disable", "an administrator may not disable their own account")
        self._directory.disable(username)
        status = self._store.mark_disabled(username, by=admin.user, reason=reason, at=self._clock())
        self._gate.note_disabled(username)
        self._directory.sign_out(username)
        return status

    def reinstate(self, admin: Principal, username: str) -> AccountStatus:
        """Lets a suspended or disabled user back in (R-ACCOUNT): the user pool (sign-ins), then
        the accounts record (the API's check; the idle clock starts again from now). A removed
        account is refused (409): its name stays retired."""
        current = self._store.status(username)
        if current is not None and current.removed:
            raise AccountRemoved(f"{username} was removed after review and cannot be reinstated")
        self._directory.enable(username)
        status = self._store.mark_reinstated(username, by=admin.user, at=self._clock())
        self._gate.note_enabled(username)
        return status

    def list_accounts(
        self, admin: Principal, query: AccountQuery, cursor: Mapping[str, Any] | None
    ) -> AccountPage:
        """Users with their groups, LEA, state, creation, last sign-in and last API request,
        filtered by state, LEA and group; at most MAX_DIRECTORY_PAGES pages of the pool a call."""
        fingerprint = [query.status.value if query.status else None, query.lea, query.group]
        token, skip = self._resume(cursor, fingerprint)
        matched: list[tuple[DirectoryUser, AccountStatus | None]] = []
        next_cursor: dict[str, Any] | None = None
        for _ in range(MAX_DIRECTORY_PAGES):
            users, after = self._directory.list_users(group=query.group, token=token)
            records = self._store.statuses(u.username for u in users)
            for index in range(skip, len(users)):
                user = users[index]
                record = records.get(user.username)
                if self._matches(user, record, query):
                    matched.append((user, record))
                if len(matched) == query.limit:
                    if index + 1 < len(users):
                        next_cursor = {"q": fingerprint, "t": token, "skip": index + 1}
                    elif after is not None:
                        next_cursor = {"q": fingerprint, "t": after, "skip": 0}
                    return self._page(matched, next_cursor)
            token, skip = after, 0
            if token is None:
                return self._page(matched, None)
        return self._page(matched, {"q": fingerprint, "t": token, "skip": 0})

    @staticmethod
    def _resume(cursor: Mapping[str, Any] | None, fingerprint: list[Any]) -> tuple[str | None, int]:
        if cursor is None:
            return None, 0
        if set(cursor) != {"q", "t", "skip"} or cursor["q"] != fingerprint:
            raise _bad_cursor()
        token, skip = cursor["t"], cursor["skip"]
        if not (token is None or (isinstance(token, str) and token)):
            raise _bad_cursor()
        if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip < 60:
            raise _bad_cursor()
        return token, skip

    @staticmethod
    def _matches(user: DirectoryUser, record: AccountStatus | None, query: AccountQuery) -> bool:
        if query.lea is not None and user.lea != query.lea:
            return False
        return query.status is None or account_state(user.enabled, record) is query.status

    def _page(
        self, matched: list[tuple[DirectoryUser, AccountStatus | None]], cursor: dict[str, Any] | None
    ) -> AccountPage:
        now = self._clock()
        summaries = []
        for user, record in matched:
            last_request = self._activity.last_request_at(user.username, now) if self._activity else None
            summaries.append(
                AccountSummary(
                    username=user.username,
                    groups=self._directory.groups_of(user.username),
                    lea=user.lea,
                    state=account_state(user.enabled, record),
                    enabled=user.enabled,
                    created_at=user.created_at,
                    last_sign_in_at=self._directory.last_sign_in(user.username),
                    last_api_request_at=last_request,
                    disabled_at=record.disabled_at if record and record.disabled else None,
                    disabled_reason=record.disabled_reason if record and record.disabled else None,
                )
            )
        return AccountPage(summaries, cursor, self._directory.sign_in_history)

    def _review_store(self) -> ReviewStore:
        if self._reviews is None:
            raise RuntimeError("account reviews are not wired for this service")
        return self._reviews

    def list_reviews(
        self, admin: Principal, state: ReviewState, limit: int, cursor: Mapping[str, Any] | None
    ) -> ReviewPage:
        """Reviews in `state`, soonest due first: overdue ones lead (R-ACCOUNT)."""
        after = None
        if cursor is not None:
            due, review = cursor.get("due"), cursor.get("id")
            if set(cursor) != {"s", "due", "id"} or cursor["s"] != state.value:
                raise _bad_cursor()
            if not (
                isinstance(due, str)
                and 0 < len(due) <= 32
                and isinstance(review, str)
                and 0 < len(review) <= 64
            ):
                raise _bad_cursor()
            after = ReviewPosition(due, review)
        reviews, position = self._review_store().listing(state, after, limit)
        next_cursor = (
            {"s": state.value, "due": position.due_at, "id": position.review_id} if position else None
        )
        return ReviewPage(reviews, next_cursor)

    def decide_review(self, admin: Principal, review_id: str, decision: Decision, reason: str) -> Review:
        """Records a reviewer's decision and carries it out (R-ACCOUNT): reinstate (enable the
        account again), keep suspended (the account is disabled, again if it had been reinstated),
        remove (disabled for good: never deleted, so the name the audit trail holds is never
        reused), or confirm a role change. The action first, then the decision, which is written
        only while the review is still open (a second decision is a 409)."""
        store = self._review_store()
        review = store.get(review_id)
        if review is None:
            raise NotFound(review_id)
        if review.username == admin.user:
            raise AccessDenied("self-review", "an administrator may not decide a review of their own account")
        require_decision(review.kind, decision)
        if review.state is not ReviewState.OPEN:
            raise ReviewDecided(f"review {review_id} was decided already")
        now = self._clock()
        if decision is Decision.REINSTATE:
            self.reinstate(admin, review.username)
        elif decision is Decision.KEEP_SUSPENDED:
            self._directory.disable(review.username)
            self._store.mark_disabled(review.username, by=admin.user, reason=KEPT_SUSPENDED_REASON, at=now)
            self._gate.note_disabled(review.username)
        elif decision is Decision.REMOVE:
            self._directory.disable(review.username)
            self._store.mark_removed(review.username, by=admin.user, reason=reason, at=now)
            self._gate.note_disabled(review.username)
            self._directory.sign_out(review.username)
        return store.decide(review_id, decision=decision, by=admin.user, at=now, reason=reason)
