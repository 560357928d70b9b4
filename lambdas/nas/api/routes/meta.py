"""Liveness: the one route outside the Cognito authorizer. (The OpenAPI document is served by the
resolver itself, `nas.api.app`, which is the one place that knows every route.)"""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from nas.api.auth import public

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped


class Health(BaseModel):
    status: Literal["ok"]


@router.get(
    "/health",
    summary="Liveness only: no data, no identity",
    responses={200: {"description": "alive", "content": {"application/json": {"model": Health}}}},
    security=[],
)
@public
def health() -> Health:
    """The one route without the Cognito authorizer."""
    return Health(status="ok")
