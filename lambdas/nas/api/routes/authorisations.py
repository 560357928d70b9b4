"""`POST /authorisations`, `GET /authorisations` and `DELETE /authorisations/{id}` (R-AUTHZ). Authorisers
grant and revoke; a grantee (investigator, senior investigator) lists their own with `?mine=true`.
Every request is audited; `reason` and `case_ref` go to the audit record's own fields."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from nas.adapters.authorisations import Cursor
from nas.api import state
from nas.api.auth import requires
from nas.api.docs import responses
from nas.api.errors import BadRequest
from nas.api.params import (
    DATE_TIME,
    MAX_PAGE,
    MAX_TOKEN_CHARS,
    PAGE_TOKEN_DESCRIPTION,
    pair_cursor,
    pair_token,
    parse_instant,
)
from nas.api.routes.admin import USERNAME_PATTERN
from nas.api.wiring import services
from nas.domain.models import Authorisation
from nas.domain.policy import InvestigationLevel
from nas.domain.roles import Role
from nas.domain.timefmt import iso_utc
from nas.domain.types import CaseRef, Identifier
from nas.services.authorisations import Grant

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped


class AuthorisationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grantee: Annotated[str, Field(pattern=USERNAME_PATTERN, description="the investigator's user name")]
    case_ref: CaseRef
    investigation_level: InvestigationLevel = Field(description="serious-complex or major")
    max_lookback_days: Annotated[int, Field(ge=1, le=365)]
    expires_at: Annotated[str, Field(description="RFC 3339 with offset, at most 30 days ahead", **DATE_TIME)]
    reason: Annotated[str, Field(min_length=10, max_length=1000)]


class AuthorisationView(BaseModel):
    authorisation_id: str
    grantee: str
    granted_by: str
    case_ref: str
    investigation_level: InvestigationLevel
    max_lookback_days: int
    granted_at: str
    expires_at: str
    reason: str
    revoked_at: str | None
    revoked_by: str | None

    @classmethod
    def of(cls, a: Authorisation) -> AuthorisationView:
        return cls(
            authorisation_id=a.authorisation_id,
            grantee=a.grantee,
            granted_by=a.granted_by,
            case_ref=a.case_ref,
            investigation_level=a.investigation_level,
            max_lookback_days=a.max_lookback_days,
            granted_at=iso_utc(a.granted_at),
            expires_at=iso_utc(a.expires_at),
            reason=a.reason,
            revoked_at=iso_utc(a.revoked_at) if a.revoked_at else None,
            revoked_by=a.revoked_by,
        )


class AuthorisationList(BaseModel):
    authorisations: list[AuthorisationView]
    next_page_token: str | None


@router.post(
    "/authorisations",
    summary="Grant a user lookback beyond 90 days for one case and level (R-AUTHZ); never to oneself",
    responses=responses("the authorisation", AuthorisationView, status=201),
    status_code=201,
)
@requires(Role.AUTHORISER)
def grant(request: Annotated[AuthorisationRequest, Body()]) -> AuthorisationView:
    expires_at = parse_instant("expires_at", request.expires_at)
    if expires_at is None:
        raise BadRequest("expires_at", "is required")
    authorisation = services().authorisations.grant(
        state.principal(),
        Grant(
            grantee=request.grantee,
            case_ref=request.case_ref,
            level=request.investigation_level,
            max_lookback_days=request.max_lookback_days,
            expires_at=expires_at,
            reason=request.reason,
        ),
    )
    state.used(result_count=1, authorisation_id=authorisation.authorisation_id)
    return AuthorisationView.of(authorisation)


PAGE_KEYS = ("at", "authorisation_id")  # what a page token holds: the position, then the id


def _cursor(token: str | None) -> Cursor | None:
    return pair_cursor(token, PAGE_KEYS, position_chars=len("2026-01-01T00:00:00.000000Z"))


@router.get(
    "/authorisations",
    summary="Authorisations the caller granted; with mine=true, those granted to the caller",
    responses=responses("a page of authorisations", AuthorisationList),
)
@requires(Role.AUTHORISER, Role.INVESTIGATOR, Role.SENIOR_INVESTIGATOR)
def list_authorisations(
    mine: Annotated[bool, Query(description="those granted to the caller")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size, 1..100")] = 50,
    page_token: Annotated[
        str | None, Query(max_length=MAX_TOKEN_CHARS, description=PAGE_TOKEN_DESCRIPTION)
    ] = None,
) -> AuthorisationList:
    listing = services().authorisations.list(
        state.principal(), mine=mine, limit=limit, cursor=_cursor(page_token)
    )
    state.used(result_count=len(listing.authorisations))
    token = pair_token(listing.next_cursor, PAGE_KEYS)
    return AuthorisationList(
        authorisations=[AuthorisationView.of(a) for a in listing.authorisations], next_page_token=token
    )


@router.delete(
    "/authorisations/<authorisation_id>",
    summary="Revoke an authorisation at once (its granter, or an authoriser of the same LEA)",
    responses=responses("the authorisation, revoked", AuthorisationView, 404),
)
@requires(Role.AUTHORISER)
def revoke(authorisation_id: Annotated[Identifier, Path()]) -> AuthorisationView:
    authorisation = services().authorisations.revoke(state.principal(), authorisation_id)
    state.used(result_count=1)
    return AuthorisationView.of(authorisation)
