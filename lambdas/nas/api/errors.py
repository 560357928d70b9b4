"""SPEC §6 error bodies: `{"error": {"code": ..., "message": ...}}`."""

from __future__ import annotations

import json
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types


def error_response(status: HTTPStatus, code: str, message: str, **details: object) -> Response[str]:
    body: dict[str, object] = {"code": code, "message": message}
    body.update(details)
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": body}),
    )
