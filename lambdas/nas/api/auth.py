"""R-ROLE at the API: the principal from the Cognito authorizer's claims, and per-route roles.

API Gateway's Cognito user-pool authorizer has verified the ID token and passes its claims in
`requestContext.authorizer.claims`, every value a string: `cognito:groups` is the group names joined
by commas (the local gateway passes it the same way). Only that form is accepted: a claim holding
brackets, quotes, spaces or empty names was not made by either, and the token is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nas.api.errors import Unauthenticated
from nas.catalogue import LEA_CLAIM
from nas.domain.errors import AccessDenied
from nas.domain.roles import Principal, Role

_GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
MAX_GROUPS = 25

ANY_AUTHENTICATED: frozenset[Role] = frozenset()
_ROUTE_ROLES: dict[Callable[..., Any], frozenset[Role] | None] = {}
"""Route function → the roles that may call it (empty: any authenticated user; None: public)."""


class MalformedGroups(ValueError):
    """`cognito:groups` is not in the form the authorizer produces."""


def parse_groups(raw: object) -> tuple[str, ...]:
    """The group names of a `cognito:groups` claim: absent or empty is no group; otherwise names of
    letters, digits, `_`, `.` and `-`, joined by single commas."""
    if raw is None or raw == "":
        return ()
    if not isinstance(raw, str):
        raise MalformedGroups("cognito:groups must be a string")
    names = raw.split(",")
    if len(names) > MAX_GROUPS or not all(_GROUP_NAME.fullmatch(name) for name in names):
        raise MalformedGroups("cognito:groups is not a comma-separated list of group names")
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Identity:
    """What the claims say, unchecked: recorded in the audit trail even when the request is refused."""

    user: str | None
    groups: tuple[str, ...]
    lea: str | None
    token_use: str | None
    groups_malformed: bool = False

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Identity:
        context = event.get("requestContext") or {}
        authorizer = context.get("authorizer") or {}
        claims = authorizer.get("claims") or {}
        if not isinstance(claims, Mapping):
            claims = {}

        def text(name: str) -> str | None:
            value = claims.get(name)
            return str(value) if value not in (None, "") else None

        try:
            groups, malformed = parse_groups(claims.get("cognito:groups")), False
        except MalformedGroups:
            groups, malformed = (), True
        return cls(
            user=text("cognito:username"),
            groups=groups,
            lea=text(LEA_CLAIM),
            token_use=text("token_use"),
            groups_malformed=malformed,
        )

    def principal(self) -> Principal:
        """The verified caller, or 401 (claims missing, not an ID token) / 403 (R-ROLE refusals)."""
        if self.user is None:
            raise Unauthenticated("no cognito:username claim: an ID token is required")
        if self.token_use != "id":  # noqa: S105 - a claim value, not a secret
            raise Unauthenticated("token_use must be 'id': send the Cognito ID token")
        if self.lea is None:
            raise Unauthenticated("no custom:lea claim")
        if self.groups_malformed:
            raise Unauthenticated("cognito:groups is not a comma-separated list of group names")
        return Principal.from_claims(self.user, self.groups, self.lea)


def requires(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Marks a route as callable by any of `roles` (none given: any authenticated user)."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        _ROUTE_ROLES[func] = frozenset(roles)
        return func

    return mark


def public(func: Callable[..., Any]) -> Callable[..., Any]:
    _ROUTE_ROLES[func] = None
    return func


def is_public(func: Callable[..., Any]) -> bool:
    return func in _ROUTE_ROLES and _ROUTE_ROLES[func] is None


def authorise(func: Callable[..., Any], identity: Identity) -> Principal | None:
    """The principal allowed to call route `func`, None for a public route; unmarked routes are
    refused, so a route cannot be exposed by forgetting its roles."""
    if func not in _ROUTE_ROLES:
        raise AccessDenied("route-not-classified", "this route has no access rule")
    roles = _ROUTE_ROLES[func]
    if roles is None:
        return None
    principal = identity.principal()
    if roles and not principal.has_any(roles):
        names = ", ".join(sorted(r.value for r in roles))
        raise AccessDenied("role-not-permitted", f"this route is for: {names}")
    return principal
