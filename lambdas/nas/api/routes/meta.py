"""Liveness and the OpenAPI document (generated from the routes by powertools)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from nas.api.auth import public, requires

router = Router()  # type: ignore[no-untyped-call]  # powertools leaves it untyped

TITLE = "NAS: National ANPR Service API"
VERSION = "1"


@router.get("/health", include_in_schema=True, summary="Liveness only: no data, no identity")
@public
def health() -> dict[str, str]:
    """The one route without the Cognito authorizer."""
    return {"status": "ok"}


@router.get("/openapi.json", summary="This API's OpenAPI document")
@requires()
def openapi() -> dict[str, Any]:
    from nas.api.app import app  # the resolver that holds every route

    document: dict[str, Any] = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
    return document
