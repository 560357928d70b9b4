"""Account administration for `admin` users (R-ACCOUNT). Administrators never see ANPR data: these
routes hold accounts only, and an admin account may be in no other group (R-ROLE)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from nas.api import state
from nas.api.auth import requires
from nas.api.docs import responses
from nas.api.wiring import services
from nas.domain.roles import Role

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$"


class DisableRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str, Field(min_length=10, max_length=500, description="why, e.g. the leaver's HR reference")
    ]


class DisabledAccount(BaseModel):
    username: str
    disabled: bool
    disabled_at: str | None
    disabled_by: str | None


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
