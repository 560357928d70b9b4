"""Cognito pre-token-generation trigger (event V1): refuses to issue a token to a user who is in
`admin` and any other group (R-ROLE: separate accounts for user and administrative functions).
Raising makes Cognito refuse the sign-in or refresh; otherwise the event is returned unchanged."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from nas.domain.errors import AccessDenied
from nas.domain.roles import Role
from nas.observability import logger


class TokenRefused(Exception):
    """Cognito shows this message to the client as the reason the token was not issued."""


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("request") or {}
    groups = list((request.get("groupConfiguration") or {}).get("groupsToOverride") or [])
    if Role.ADMIN.value in groups and len(set(groups)) > 1:
        logger.warning(
            "token refused: admin in other groups",
            extra={"user": event.get("userName"), "trigger": event.get("triggerSource"), "groups": groups},
        )
        refusal = AccessDenied("admin-not-exclusive", "an admin account may be in no other group")
        raise TokenRefused(f"{refusal.rule}: {refusal}")
    return event
