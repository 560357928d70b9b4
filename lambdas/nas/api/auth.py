"""R-ROLE at the API: the principal from the Cognito authorizer's claims, and per-route roles.

API Gateway's Cognito user-pool authorizer has verified the ID token and passes its claims in
`requestContext.authorizer.claims`, every value a string. `cognito:groups` arrives as "a,b",
"[a b]", "[a, b]" or a single name depending on the path it took, so all of those are parsed.
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

_GROUP_SEPARATORS = re.compile(r"[,\s]+")

ANY_AUTHENTICATED: frozenset[Role] = frozenset()
_ROUTE_ROLES: dict[Callable[..., Any], frozenset[Role] | None] = {}
"""Route function → the roles that may call it (empty: any authenticated user; None: public)."""


def parse_groups(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, list | tuple):
        return tuple(str(g).strip() for g in raw if str(g).strip())
    text = str(raw).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return tuple(g.strip("\"' ") for g in _GROUP_SEPARATORS.split(text) if g.strip("\"' "))


@dataclass(frozen=True, slots=True)
class Identity:
    """What the claims say, unchecked: recorded in the audit trail even when the request is refused."""

    user: str | None
    groups: tuple[str, ...]
    lea: str | None
    token_use: str | None

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

        return cls(
            user=text("cognito:username"),
            groups=parse_groups(claims.get("cognito:groups")),
            lea=text(LEA_CLAIM),
            token_use=text("token_use"),
        )

    def principal(self) -> Principal:
        """The verified caller, or 401 (claims missing, not an ID token) / 403 (R-ROLE refusals)."""
        if self.user is None:
            raise Unauthenticated("no cognito:username claim: an ID token is required")
        if self.token_use != "id":  # noqa: S105 - a claim value, not a secret
            raise Unauthenticated("token_use must be 'id': send the Cognito ID token")
        if self.lea is None:
            raise Unauthenticated("no custom:lea claim")
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
