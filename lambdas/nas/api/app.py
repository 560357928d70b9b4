"""The NAS API resolver: routes from `nas.api.routes`, per-route authorisation (R-ROLE), SPEC §6
error bodies, and `handle`, which audits every request before its response leaves (R-AUDIT)."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from nas.adapters import StoreError
from nas.api import state
from nas.api.auditing import handle_audited
from nas.api.auth import Identity, authorise
from nas.api.errors import ApiError, BadRequest, error_response
from nas.api.routes import alerts, audit, meta
from nas.api.wiring import services
from nas.domain.errors import AccessDenied
from nas.observability import logger

app = APIGatewayRestResolver(enable_validation=True)


def _authorise_current_route() -> None:
    """Records the matched route and checks the caller may use it (raises 401/403 errors)."""
    route = app.context.get("_route")
    if route is None or route not in _registered_routes():
        return  # powertools' own 404 route: answered by `not_found`, no identity needed
    request = state.current()
    request.route = route.openapi_path
    request.principal = authorise(route.func, Identity.from_event(app.current_event.raw_event))


def authorise_route(resolver: APIGatewayRestResolver, next_middleware: Callable[..., Any]) -> Any:
    _authorise_current_route()
    return next_middleware(resolver)


def _registered_routes() -> list[Any]:
    return [*app._static_routes, *app._dynamic_routes]


app.use(middlewares=[authorise_route])
app.include_router(meta.router)
app.include_router(alerts.router)
app.include_router(audit.router)


@app.not_found
def not_found(_: Exception) -> Response[str]:
    return error_response(
        HTTPStatus.NOT_FOUND,
        "not-found",
        f"no route {app.current_event.http_method} {app.current_event.path}",
    )


@app.exception_handler(ApiError)  # type: ignore[untyped-decorator]  # powertools leaves it untyped
def api_error(error: ApiError) -> Response[str]:
    return error.response()


@app.exception_handler(AccessDenied)  # type: ignore[untyped-decorator]
def access_denied(error: AccessDenied) -> Response[str]:
    return error_response(HTTPStatus.FORBIDDEN, error.rule, str(error))


@app.exception_handler(StoreError)  # type: ignore[untyped-decorator]
def store_unavailable(error: StoreError) -> Response[str]:
    logger.exception("store unavailable")
    return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "store-unavailable", "a data store is unavailable")


def _refusal() -> Response[str] | None:
    """Request validation runs before the route middleware: refuse unauthorised callers first."""
    try:
        _authorise_current_route()
    except ApiError as refused:
        return refused.response()
    except AccessDenied as refused:
        return error_response(HTTPStatus.FORBIDDEN, refused.rule, str(refused))
    return None


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def invalid_request(error: RequestValidationError) -> Response[str]:
    refused = _refusal()
    if refused is not None:
        return refused
    fields = [
        "body"
        if e.get("type") == "json_invalid"  # its loc is ("body", <offset>)
        else ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")) or "body"
        for e in error.errors()
    ]
    return error_response(
        HTTPStatus.BAD_REQUEST, "invalid-request", f"invalid field(s): {', '.join(fields)}", fields=fields
    )


@app.exception_handler(RecursionError)  # type: ignore[untyped-decorator]
def nested_too_deeply(_: RecursionError) -> Response[str]:
    # Raised by request validation parsing a deeply nested JSON body (`[[[[...`).
    logger.warning("request refused: recursion limit reached, taken as a body nested too deeply")
    refused = _refusal()
    if refused is not None:
        return refused
    return BadRequest("body", "is not valid JSON or is nested too deeply").response()


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolves one API Gateway event, audited (see `nas.api.auditing`)."""
    return handle_audited(app.resolve, event, context, lambda: services().audit)
