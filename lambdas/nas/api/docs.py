"""OpenAPI response documentation shared by the routes."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def ok(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


ERRORS: dict[int, OpenAPIResponse] = {
    400: _error("bad input; `fields` names the parameter or body field"),
    401: _error("no verified Cognito ID token"),
    403: _error("refused; `code` names the rule (e.g. role-not-permitted, admin-not-exclusive)"),
    404: _error("not found (or not visible to the caller)"),
    409: _error("conflicting concurrent change"),
    429: _error("throttled"),
    503: _error("audit-unavailable: the request could not be audited, so it was not carried out"),
}

__all__ = ["ERRORS", "ErrorBody", "ok"]
