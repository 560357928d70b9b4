"""Account administration for `admin` users (R-ACCOUNT). Administrators never see ANPR data: these
routes hold accounts only, and an admin account may be in no other group (R-ROLE)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from nas.api import state
from nas.api.auth import requires
from nas.api.docs import responses
from nas.api.params import MAX_TOKEN_CHARS, PAGE_TOKEN_DESCRIPTION, decode_token, encode_token
from nas.api.wiring import services
from nas.domain.accounts import AccountState, Decision, Review, ReviewKind, ReviewState
from nas.domain.roles import Role
from nas.domain.timefmt import iso_utc
from nas.services.accounts import AccountQuery, AccountSummary

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$"
LEA_PATTERN = r"^[A-Z][A-Z0-9-]{1,15}$"
REVIEW_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
MAX_ACCOUNTS_PAGE = 50
MAX_REVIEWS_PAGE = 100


class DisableRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str, Field(min_length=10, max_length=500, description="why, e.g. the leaver's HR reference")
    ]


class ReinstateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str, Field(min_length=10, max_length=500, description="why the account may be used again")
    ]


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Annotated[
        Decision,
        Field(description="idle reviews: reinstate, keep-suspended, remove; role changes: confirm, remove"),
    ]
    reason: Annotated[str, Field(min_length=10, max_length=500, description="why the reviewer decided so")]


class DisabledAccount(BaseModel):
    username: str
    disabled: bool
    disabled_at: str | None
    disabled_by: str | None


class ReinstatedAccount(BaseModel):
    username: str
    disabled: bool
    reinstated_at: str | None
    reinstated_by: str | None


class AccountView(BaseModel):
    username: str
    groups: list[str]
    lea: str | None
    status: AccountState
    enabled: bool = Field(description="whether the user pool lets the user sign in")
    created_at: str
    last_sign_in_at: str | None = Field(
        description="the last successful sign-in (Cognito auth events); null when none or not kept"
    )
    last_api_request_at: str | None = Field(description="the last audited API request (R-AUDIT)")
    disabled_at: str | None
    disabled_reason: str | None

    @classmethod
    def of(cls, summary: AccountSummary) -> AccountView:
        return cls(
            username=summary.username,
            groups=list(summary.groups),
            lea=summary.lea,
            status=summary.state,
            enabled=summary.enabled,
            created_at=iso_utc(summary.created_at),
            last_sign_in_at=iso_utc(summary.last_sign_in_at) if summary.last_sign_in_at else None,
            last_api_request_at=iso_utc(summary.last_api_request_at) if summary.last_api_request_at else None,
            disabled_at=summary.disabled_at,
            disabled_reason=summary.disabled_reason,
        )


class AccountPageView(BaseModel):
    accounts: list[AccountView]
    next_page_token: str | None
    sign_in_history: bool = Field(
        description="false where the user pool keeps no auth events (local mode): last_sign_in_at is unknown"
    )


class ReviewView(BaseModel):
    review_id: str
    username: str
    kind: ReviewKind
    state: ReviewState
    opened_at: str
    due_at: str
    overdue: bool
    opened_by: str
    last_used_at: str | None
    kept: str | None = Field(description="why an idle account was left enabled (last-enabled-admin)")
    groups_before: list[str] | None
    groups_after: list[str] | None
    lea_before: str | None
    lea_after: str | None
    decision: Decision | None
    decided_by: str | None
    decided_at: str | None
    decision_reason: str | None

    @classmethod
    def of(cls, review: Review, now: datetime) -> ReviewView:
        def instant(moment: datetime | None) -> str | None:
            return iso_utc(moment) if moment else None

        return cls(
            review_id=review.review_id,
            username=review.username,
            kind=review.kind,
            state=review.state,
            opened_at=iso_utc(review.opened_at),
            due_at=iso_utc(review.due_at),
            overdue=review.overdue(now),
            opened_by=review.opened_by,
            last_used_at=instant(review.last_used_at),
            kept=review.kept,
            groups_before=list(review.groups_before) if review.groups_before is not None else None,
            groups_after=list(review.groups_after) if review.groups_after is not None else None,
            lea_before=review.lea_before,
            lea_after=review.lea_after,
            decision=review.decision,
            decided_by=review.decided_by,
            decided_at=instant(review.decided_at),
            decision_reason=review.decision_reason,
        )


class ReviewPageView(BaseModel):
    reviews: list[ReviewView]
    next_page_token: str | None


@router.get(
    "/admin/accounts",
    summary="Accounts with their groups, LEA, status, creation, last sign-in and last API request"
    " (R-ACCOUNT), filtered and paged",
    responses=responses("a page of accounts", AccountPageView),
)
@requires(Role.ADMIN)
def list_accounts(
    status: Annotated[AccountState | None, Query(description="only accounts in this status")] = None,
    lea: Annotated[str | None, Query(pattern=LEA_PATTERN, description="only users of this LEA code")] = None,
    group: Annotated[Role | None, Query(description="only members of this R-ROLE group")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_ACCOUNTS_PAGE, description=f"page size, 1..{MAX_ACCOUNTS_PAGE}")
    ] = 25,
    page_token: Annotated[
        str | None, Query(max_length=MAX_TOKEN_CHARS, description=PAGE_TOKEN_DESCRIPTION)
    ] = None,
) -> AccountPageView:
    query = AccountQuery(status=status, lea=lea, group=group.value if group else None, limit=limit)
    page = services().accounts.list_accounts(state.principal(), query, decode_token(page_token))
    state.used(result_count=len(page.accounts))
    return AccountPageView(
        accounts=[AccountView.of(s) for s in page.accounts],
        next_page_token=encode_token(page.cursor) if page.cursor else None,
        sign_in_history=page.sign_in_history,
    )


@router.post(
    "/admin/accounts/<user>/disable",
    summary="Disable an account at once (R-ACCOUNT, leavers): no sign-ins, tokens refused within a minute",
    responses=responses("the account, now disabled", DisabledAccount, 404),
)
@requires(Role.ADMIN)
def disable_account(
    user: Annotated[str, Path(pattern=USERNAME_PATTERN, description="the Cognito user name")],
    request: Annotated[DisableRequest, Body()],
) -> DisabledAccount:
    status = services().accounts.disable(state.principal(), user, request.reason)
    state.used(result_count=1)
    return DisabledAccount(
        username=status.username,
        disabled=status.disabled,
        disabled_at=status.disabled_at,
        disabled_by=status.disabled_by,
    )


@router.post(
    "/admin/accounts/<user>/reinstate",
    summary="Reinstate a suspended or disabled account (R-ACCOUNT): sign-ins allowed, the API lets"
    " its next token through; a removed account is a 409",
    responses=responses("the account, reinstated", ReinstatedAccount, 404, 409),
)
@requires(Role.ADMIN)
def reinstate_account(
    user: Annotated[str, Path(pattern=USERNAME_PATTERN, description="the Cognito user name")],
    request: Annotated[ReinstateRequest, Body()],
) -> ReinstatedAccount:
    status = services().accounts.reinstate(state.principal(), user)
    state.used(result_count=1)
    return ReinstatedAccount(
        username=status.username,
        disabled=status.disabled,
        reinstated_at=status.reinstated_at,
        reinstated_by=status.reinstated_by,
    )


@router.get(
    "/admin/reviews",
    summary="Account reviews (R-ACCOUNT): idle accounts suspended and role changes, soonest due"
    " first (overdue first)",
    responses=responses("a page of reviews", ReviewPageView),
)
@requires(Role.ADMIN)
def list_reviews(
    review_state: Annotated[
        ReviewState, Query(alias="state", description="open (default) or decided reviews")
    ] = ReviewState.OPEN,
    limit: Annotated[
        int, Query(ge=1, le=MAX_REVIEWS_PAGE, description=f"page size, 1..{MAX_REVIEWS_PAGE}")
    ] = 50,
    page_token: Annotated[
        str | None, Query(max_length=MAX_TOKEN_CHARS, description=PAGE_TOKEN_DESCRIPTION)
    ] = None,
) -> ReviewPageView:
    page = services().accounts.list_reviews(state.principal(), review_state, limit, decode_token(page_token))
    state.used(result_count=len(page.reviews))
    now = datetime.now(UTC)
    return ReviewPageView(
        reviews=[ReviewView.of(r, now) for r in page.reviews],
        next_page_token=encode_token(page.cursor) if page.cursor else None,
    )


@router.post(
    "/admin/reviews/<review_id>",
    summary="Decide an account review (R-ACCOUNT): reinstate, keep suspended or remove an idle"
    " account; confirm or remove after a role change",
    responses=responses("the review, decided", ReviewView, 404, 409),
)
@requires(Role.ADMIN)
def decide_review(
    review_id: Annotated[str, Path(pattern=REVIEW_ID_PATTERN, description="the review's id")],
    request: Annotated[DecisionRequest, Body()],
) -> ReviewView:
    review = services().accounts.decide_review(state.principal(), review_id, request.decision, request.reason)
    state.used(result_count=1, user=review.username, decision=review.decision)
    return ReviewView.of(review, datetime.now(UTC))
