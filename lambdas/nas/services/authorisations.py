"""Authorisations (R-AUTHZ): an authoriser grants a named user lookback beyond 90 days for one case
and level, for at most 30 days; nobody authorises themselves; a revocation holds at once (searches
read the authorisation consistently when they name it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from nas.adapters.authorisations import AuthorisationIndex, AuthorisationListing, AuthorisationStore, Cursor
from nas.domain.errors import AccessDenied, FieldRuleError, InvalidInput, NotFound
from nas.domain.leas import NATIONAL
from nas.domain.models import Authorisation
from nas.domain.policy import MAX_AUTHORISATION_VALIDITY, InvestigationLevel
from nas.domain.roles import Principal, Role


class AuthorisationNotFound(NotFound):
    """No such authorisation, or not one the caller may act on (the two are not told apart)."""


@dataclass(frozen=True, slots=True)
class Grant:
    grantee: str
    case_ref: str
    level: InvestigationLevel
    max_lookback_days: int
    expires_at: datetime
    reason: str


class AuthorisationService:
    def __init__(
        self,
        store: AuthorisationStore,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._store = store
        self._clock = clock
        self._new_id = new_id

    def grant(self, principal: Principal, grant: Grant) -> Authorisation:
        """R-AUTHZ: a new authorisation from `principal` (an authoriser), from now until
        `expires_at` (at most 30 days ahead)."""
        if grant.grantee == principal.user:
            raise AccessDenied("self-authorisation", "nobody may authorise themselves (R-AUTHZ)")
        now = self._clock()
        if not now < grant.expires_at <= now + MAX_AUTHORISATION_VALIDITY:
            raise InvalidInput("expires_at", "must be in the future and at most 30 days ahead (R-AUTHZ)")
        try:
            authorisation = Authorisation(
                authorisation_id=self._new_id(),
                grantee=grant.grantee,
                granted_by=principal.user,
                granted_by_lea=principal.lea,
                case_ref=grant.case_ref,
                investigation_level=grant.level,
                max_lookback_days=grant.max_lookback_days,
                granted_at=now,
                expires_at=grant.expires_at,
                reason=grant.reason,
            )
        except ValidationError as exc:
            raise InvalidInput(_field_of(exc), "is not valid for an authorisation (R-AUTHZ)") from None
        self._store.put(authorisation)
        return authorisation

    def list(
        self, principal: Principal, *, mine: bool, limit: int, cursor: Cursor | None
    ) -> AuthorisationListing:
        """Those the caller granted (authorisers), or with `mine` those granted to the caller."""
        if mine:
            return self._store.list(AuthorisationIndex.BY_GRANTEE, principal.user, limit=limit, cursor=cursor)
        if not principal.has_any({Role.AUTHORISER}):
            raise AccessDenied(
                "role-not-permitted", "only authorisers list the authorisations they granted; use mine=true"
            )
        return self._store.list(AuthorisationIndex.BY_GRANTED_BY, principal.user, limit=limit, cursor=cursor)

    def revoke(self, principal: Principal, authorisation_id: str) -> Authorisation:
        """Revokes at once. The authoriser who granted it may, and so may any authoriser of the same
        LEA (NATIONAL authorisers: any), so a case does not wait for one officer; others get 404."""
        current = self._store.get(authorisation_id)
        if current is None or not _may_revoke(principal, current):
            raise AuthorisationNotFound(authorisation_id)
        revoked = self._store.revoke(authorisation_id, by=principal.user, at=self._clock())
        if revoked is None:
            raise AuthorisationNotFound(authorisation_id)
        return revoked


def _may_revoke(principal: Principal, authorisation: Authorisation) -> bool:
    return (
        authorisation.granted_by == principal.user
        or principal.lea == NATIONAL
        or principal.lea == authorisation.granted_by_lea
    )


def _field_of(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, FieldRuleError):
        return cause.field
    return ".".join(str(p) for p in first["loc"]) or "body"
