"""Routes of the NAS API. Handlers here stay thin: parse, call domain logic, shape the response."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from nas.api.errors import error_response

app = APIGatewayRestResolver(enable_validation=True)


@app.get("/health")
def health() -> dict[str, str]:
    """Liveness only: no data, no identity (the one route without the Cognito authorizer)."""
    return {"status": "ok"}


@app.not_found
def not_found(_: Exception) -> Response[str]:
    return error_response(
        HTTPStatus.NOT_FOUND,
        "not-found",
        f"no route {app.current_event.http_method} {app.current_event.path}",
    )


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]  # powertools leaves it untyped
def invalid_request(error: RequestValidationError) -> Response[str]:
    fields = [
        ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")) for e in error.errors()
    ]
    return error_response(
        HTTPStatus.BAD_REQUEST, "invalid-request", f"invalid field(s): {', '.join(fields)}", fields=fields
    )
