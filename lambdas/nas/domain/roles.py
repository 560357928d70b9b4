"""R-ROLE: the Cognito groups (exact names) and the principal a verified token describes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from nas.domain.errors import AccessDenied
from nas.domain.leas import NATIONAL, is_lea


class Role(StrEnum):
    INVESTIGATOR = "investigator"
    SENIOR_INVESTIGATOR = "senior-investigator"
    AUTHORISER = "authoriser"
    VOI_MANAGER = "voi-manager"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    DPO = "dpo"
    ANALYST = "analyst"
    ADMIN = "admin"


SEARCH_ROLES = frozenset({Role.INVESTIGATOR, Role.SENIOR_INVESTIGATOR})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: from the verified ID token's `cognito:username`, `cognito:groups` and
    `custom:lea`."""

    user: str
    roles: frozenset[Role]
    lea: str

    @classmethod
    def from_claims(cls, user: str, groups: Iterable[str], lea: str) -> Principal:
        """Builds the principal or refuses the token: an admin in any other group, known or not, is
        refused (R-ROLE); otherwise unknown groups grant nothing; the LEA must be known."""
        group_names = set(groups)
        if Role.ADMIN.value in group_names and len(group_names) > 1:
            raise AccessDenied("admin-not-exclusive", "an admin account may be in no other group")
        known = {g.value for g in Role}
        roles = frozenset(Role(g) for g in group_names if g in known)
        if lea != NATIONAL and not is_lea(lea):
            raise AccessDenied("unknown-lea", f"custom:lea {lea!r} is not an approved organisation")
        return cls(user=user, roles=roles, lea=lea)

    @property
    def is_national(self) -> bool:
        return self.lea == NATIONAL

    def has_any(self, roles: Iterable[Role]) -> bool:
        return not self.roles.isdisjoint(roles)
