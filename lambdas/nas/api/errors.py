"""SPEC §6 error bodies: `{"error": {"code": ..., "message": ...}}`, and the exceptions routes raise
to produce them (mapped in `nas.api.app`)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types


def error_body(code: str, message: str, **details: object) -> str:
    body: dict[str, object] = {"code": code, "message": message}
    body.update(details)
    return json.dumps({"error": body})


def error_response(status: HTTPStatus, code: str, message: str, **details: object) -> Response[str]:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(code, message, **details),
    )


def raw_error(status: HTTPStatus, code: str, message: str) -> dict[str, Any]:
    """An error in the Lambda proxy response shape, for answers made outside the resolver."""
    return {
        "statusCode": status.value,
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
        "body": error_body(code, message),
        "isBase64Encoded": False,
    }


class ApiError(Exception):
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    code = "internal-error"

    def __init__(self, message: str, *, code: str | None = None, **details: object) -> None:
        self.details = details
        if code is not None:
            self.code = code
        super().__init__(message)

    def response(self) -> Response[str]:
        return error_response(self.status, self.code, str(self), **self.details)


class BadRequest(ApiError):
    """Bad input; names the field (body, query or path parameter)."""

    status = HTTPStatus.BAD_REQUEST
    code = "invalid-request"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}", fields=[field])


class Unauthenticated(ApiError):
    status = HTTPStatus.UNAUTHORIZED
    code = "unauthenticated"
