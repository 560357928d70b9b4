"""R-ACCOUNT: leavers refused at once. The gate every API request passes (is this user disabled?)
and the admin workflow that disables an account."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from nas.adapters.accounts import AccountStatus, AccountStore, Directory
from nas.domain.errors import AccessDenied
from nas.domain.roles import Principal

STATUS_CACHE_S = 30.0
"""How long an execution environment trusts an account's "not disabled" answer. With the other
environments' caches, a disabled user's still-valid ID token is refused within this long (the
requirement is one minute); a cached "disabled" never expires early, only a restart clears it."""


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
        if cached is not None and (cached[0] or now - cached[1] < self._cache_s):
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


class AccountService:
    def __init__(
        self, store: AccountStore, directory: Directory, gate: AccountGate, *, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._directory = directory
        self._gate = gate
        self._clock = clock

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
