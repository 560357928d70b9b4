"""OpenAPI response documentation shared by the routes: every operation declares its success model
and each error status it can return, all with the one error body of SPEC §6."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # `fields` on 400s

    code: str
    message: str
    fields: list[str] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "bad input; `fields` names the parameter or body field (unknown parameters included)",
    401: "no verified Cognito ID token, a malformed claim, or a disabled account",
    403: "refused; `code` names the rule (e.g. role-not-permitted, admin-not-exclusive)",
    404: "not found, or not visible to the caller (the two are not told apart)",
    409: "conflicting concurrent change, or a change the stored state cannot take",
    415: "a request body that is not application/json",
    429: "throttled (API Gateway or WAF rate limits)",
    503: "store-unavailable or audit-unavailable: nothing was returned; try again",
}
ALWAYS = (400, 401, 403, 415, 429, 503)
"""What any authenticated operation can answer: bad or unknown input, no token, a refused role, a
body that is not JSON, throttling, an unavailable store or audit trail."""


def responses(
    description: str,
    model: type[BaseModel] | None,
    *extra: int,
    status: int = 200,
    content: dict[str, Any] | None = None,
) -> dict[int, OpenAPIResponse]:
    """The `responses` of an authenticated operation: its success and every error it can return
    (ALWAYS plus `extra`, e.g. 404 and 409). `content` replaces the success's JSON model for an
    operation answering other media types (images, CSV)."""
    success: OpenAPIResponse = {"description": description}
    if model is not None:
        success["content"] = {"application/json": {"model": model}}
    if content is not None:
        success["content"] = content
    documented: dict[int, OpenAPIResponse] = {status: success}
    for code in sorted({*ALWAYS, *extra}):
        documented[code] = _error(ERROR_DESCRIPTIONS[code])
    return documented


BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
"""The schema of a binary response body (an image)."""
TEXT: dict[str, Any] = {"type": "string"}

__all__ = ["BINARY", "ERROR_DESCRIPTIONS", "TEXT", "ErrorBody", "responses"]
