"""The NAS API resolver: routes from `nas.api.routes`, the guard every route passes (R-ROLE, R-ACCOUNT,
bounded input), SPEC §6 error bodies for every error type the layers below raise, and `handle`, which
audits every request before its response leaves (R-AUDIT).

A request goes: powertools' request validation (types, bounds, formats) → `guard` (the caller may
use this route, is not disabled, sent no parameter the route does not declare) → the route (parse,
one service call, a typed response model) → the service → domain rules and adapters.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from nas.adapters import StoreConflict, StoreError, StoreRejected
from nas.api import state
from nas.api.auditing import handle_audited
from nas.api.auth import Identity, authorise, is_public, requires
from nas.api.docs import responses
from nas.api.errors import ApiError, BadRequest, Unauthenticated, error_response, raw_error
from nas.api.routes import (
    admin,
    alerts,
    audit,
    authorisations,
    meta,
    preservations,
    reads,
    reports,
    retention,
    searches,
    subject_requests,
    voi,
)
from nas.api.wiring import services
from nas.domain.errors import AccessDenied, Conflict, InvalidInput, NotFound
from nas.observability import logger
from nas.services.accounts import AccountDisabled

app = APIGatewayRestResolver(enable_validation=True)
BODYLESS_METHODS = frozenset({"GET", "DELETE", "HEAD"})
JSON_MEDIA_TYPES = frozenset({"application/json"})


def _registered_routes() -> list[Any]:
    return [*app._static_routes, *app._dynamic_routes]


def _authorise_current_route() -> Any | None:
    """Records the matched route and checks the caller may use it: 401 (no or malformed claims, a
    disabled account), 403 (R-ROLE). Returns the route, or None for powertools' own 404 route."""
    route = app.context.get("_route")
    if route is None or route not in _registered_routes():
        return None
    request = state.current()
    request.route = route.openapi_path
    principal = authorise(route.func, Identity.from_event(app.current_event.raw_event))
    if principal is not None:
        try:
            services().account_gate.require_active(principal.user)
        except AccountDisabled:
            raise Unauthenticated("this account has been disabled", code="account-disabled") from None
    request.principal = principal
    return route


def _check_inputs(route: Any) -> None:
    """Parameters the route does not declare, and bodies on methods that take none, are refused
    rather than ignored: nothing a caller sends may go unvalidated and unrecorded."""
    event = app.current_event.raw_event
    declared = {param.alias for param in route.dependant.query_params}
    sent = set((event.get("multiValueQueryStringParameters") or {}) or {}) | set(
        event.get("queryStringParameters") or {}
    )
    unknown = sorted(str(name) for name in sent - declared)
    if unknown:
        name = unknown[0][:64]
        raise BadRequest(name, "is not a parameter of this route")
    if app.current_event.http_method.upper() in BODYLESS_METHODS and event.get("body") not in (None, ""):
        raise BadRequest("body", f"{app.current_event.http_method.upper()} requests take no body")


def guard(resolver: APIGatewayRestResolver, next_middleware: Callable[..., Any]) -> Any:
    route = _authorise_current_route()
    if route is not None and state.current().principal is not None:  # a liveness probe may add anything
        _check_inputs(route)
        dependant = route.dependant
        public_names = {p.name: p.alias for p in [*dependant.query_params, *dependant.path_params]}
        arguments = resolver.context.get("_route_args") or {}
        # Recorded under the names the caller used (`from`, not the Python `from_`).
        state.current().arguments = {public_names.get(k, k): v for k, v in arguments.items()}
    return next_middleware(resolver)


app.use(middlewares=[guard])
app.include_router(meta.router)
app.include_router(alerts.router)
app.include_router(audit.router)
app.include_router(admin.router)
app.include_router(retention.router)
app.include_router(reports.router)
app.include_router(searches.router)
app.include_router(authorisations.router)
app.include_router(voi.router)
app.include_router(reads.router)
app.include_router(preservations.router)
app.include_router(subject_requests.router)

TITLE = "NAS: National ANPR Service API"
VERSION = "1"
BEARER = "cognitoIdToken"


def openapi_document() -> dict[str, Any]:
    """This API's OpenAPI document, generated from the routes (committed as docs/openapi.json), as
    a client meets the API: no 422 (validation errors are 400s here), query parameters that are
    strings or absent (never null), and GET /health open."""
    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            description="Every operation but GET /health needs `Authorization: Bearer <Cognito ID token>`.",
            security_schemes={BEARER: HTTPBearer(bearerFormat="JWT", description="a Cognito ID token")},
            security=[{BEARER: []}],
        )
    )
    public_paths = {r.openapi_path for r in _registered_routes() if is_public(r.func)}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter.get("schema", {}))
            if path in public_paths:
                operation["security"] = []
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    return document


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, null]` as X (with the outer keywords): an absent query parameter is not null."""
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    kept = [o for o in options if o != {"type": "null"}]
    if len(kept) != 1:
        return schema
    return {**{k: v for k, v in schema.items() if k != "anyOf"}, **kept[0]}


@app.get(
    "/openapi.json", summary="This API's OpenAPI document", responses=responses("the OpenAPI document", None)
)
@requires()
def openapi() -> dict[str, Any]:
    return openapi_document()


def _allowed_methods(path: str) -> list[str]:
    """The methods of the routes serving `path`: a static route's own when one matches (as the
    OpenAPI document lists them: `/voi/imports` takes POST, though `/voi/{voi_id}` matches it too)."""
    static = [route for route in app._static_routes if route.rule.match(path)]
    routes = static or [route for route in _registered_routes() if route.rule.match(path)]
    return sorted({route.method for route in routes})


@app.not_found
def not_found(_: Exception) -> Response[str]:
    method, path = app.current_event.http_method.upper(), app.current_event.path
    allowed = _allowed_methods(path)
    if allowed:
        response = error_response(
            HTTPStatus.METHOD_NOT_ALLOWED, "method-not-allowed", f"{path} takes {', '.join(allowed)}"
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return error_response(HTTPStatus.NOT_FOUND, "not-found", f"no route {method} {path}"[:300])


@app.exception_handler(ApiError)  # type: ignore[untyped-decorator]  # powertools leaves it untyped
def api_error(error: ApiError) -> Response[str]:
    return error.response()


@app.exception_handler(AccessDenied)  # type: ignore[untyped-decorator]
def access_denied(error: AccessDenied) -> Response[str]:
    return error_response(HTTPStatus.FORBIDDEN, error.rule, str(error))


@app.exception_handler(InvalidInput)  # type: ignore[untyped-decorator]
def invalid_input(error: InvalidInput) -> Response[str]:
    return BadRequest(error.field, str(error)).response()


@app.exception_handler(NotFound)  # type: ignore[untyped-decorator]
def not_found_error(error: NotFound) -> Response[str]:
    return error_response(HTTPStatus.NOT_FOUND, "not-found", "not found (or not visible to the caller)")


@app.exception_handler(Conflict)  # type: ignore[untyped-decorator]
def conflict(error: Conflict) -> Response[str]:
    return error_response(HTTPStatus.CONFLICT, "conflict", str(error))


@app.exception_handler(StoreError)  # type: ignore[untyped-decorator]
def store_error(error: StoreError) -> Response[str]:
    if isinstance(error, StoreConflict):
        return error_response(HTTPStatus.CONFLICT, "conflict", "the item kept changing; try again")
    if isinstance(error, StoreRejected):
        logger.warning("store refused a request", extra={"error": str(error)})
        return error_response(
            HTTPStatus.CONFLICT, "store-rejected", "the store cannot take this change in its current state"
        )
    logger.exception("store unavailable")
    return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "store-unavailable", "a data store is unavailable")


def _refusal() -> Response[str] | None:
    """Request validation runs before the guard: refuse unauthorised callers first, so a caller
    without the role never learns the request schema from a 400."""
    try:
        _authorise_current_route()
    except ApiError as refused:
        return refused.response()
    except AccessDenied as refused:
        return error_response(HTTPStatus.FORBIDDEN, refused.rule, str(refused))
    return None


def _field_name(loc: Any) -> str:
    """The dotted field of an error's location. In a body that is a union tagged by `type` (POST
    /searches) pydantic puts the tag first (`partial.pattern`); the caller's field is `pattern`."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    tag = _body_tag()
    if tag is not None and len(parts) > 1 and parts[0] == tag:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _body_tag() -> str | None:
    body = app.current_event.raw_event.get("body")
    try:
        value = json.loads(body) if isinstance(body, str) else None
    except (ValueError, RecursionError):
        return None
    tag = value.get("type") if isinstance(value, dict) else None
    return tag if isinstance(tag, str) else None


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def invalid_request(error: RequestValidationError) -> Response[str]:
    refused = _refusal()
    if refused is not None:
        return refused
    fields = [
        "body"
        if e.get("type") == "json_invalid"
        else _field_name(e["loc"])  # json_invalid: ("body", <offset>)
        for e in error.errors()
    ]
    fields = list(dict.fromkeys(f[:64] for f in fields))
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


@app.exception_handler(UnicodeDecodeError)  # type: ignore[untyped-decorator]
def not_utf8(_: UnicodeDecodeError) -> Response[str]:
    # A binary body (API Gateway passes it base64-encoded) that is not UTF-8 text.
    refused = _refusal()
    if refused is not None:
        return refused
    return BadRequest("body", "must be UTF-8 JSON").response()


@app.exception_handler(binascii.Error)  # type: ignore[untyped-decorator]
def not_base64(_: binascii.Error) -> Response[str]:
    refused = _refusal()
    if refused is not None:
        return refused
    return BadRequest("body", "is not valid base64 although marked so").response()


def unsupported_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """A body in anything but JSON is refused before parsing (415): powertools would otherwise
    try form or multipart parsing, and fail in ways that are not the caller's input errors."""
    if event.get("body") in (None, ""):
        return None
    headers = event.get("headers") or {}
    declared = next((str(v) for k, v in headers.items() if str(k).lower() == "content-type"), None)
    if declared is None or declared.split(";")[0].strip().lower() in JSON_MEDIA_TYPES:
        return None
    return raw_error(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "request bodies must be application/json"
    )


def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return unsupported_media_type(event) or app.resolve(event, context)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolves one API Gateway event, audited (see `nas.api.auditing`)."""
    return handle_audited(resolve, event, context, lambda: services().audit)
