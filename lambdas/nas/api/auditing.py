"""R-AUDIT at the API: every request (allowed or refused) becomes an audit event that is appended to
the hash chain before the response leaves. If the append fails, a response that would have carried
data is replaced by 503 `audit-unavailable`; a refusal (4xx) carries no data, so it is still returned
and the event goes to the error log instead. `GET /health` is not audited: it is outside the
authorizer, carries no identity and no data, and auditing it would let anonymous callers write to
the chain."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from nas.adapters.audit import AuditTrail
from nas.api import state
from nas.api.auth import Identity
from nas.api.errors import raw_error
from nas.domain.timefmt import iso_utc
from nas.observability import logger, metrics

UNAUDITED_PATHS = frozenset({"/health"})
WHY_FIELDS = ("purpose", "reason", "case_ref")
FREE_TEXT_FIELDS = frozenset({"note"})
"""Free text that is not copied into the trail (only its length is); `reason` has its own field."""
MAX_VALUE_CHARS = 256
MAX_REASON_CHARS = 1000
MAX_PARAMETERS = 50


def _text(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    try:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    except (RecursionError, ValueError):
        text = "(nested too deeply)"
    return text[:limit]


def parameters_of(event: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str | None]]:
    """(parameters, why): query, path and body fields as text (lists for repeated query parameters),
    and purpose/reason/case_ref wherever they were given."""
    params: dict[str, Any] = {}
    for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
        texts = [_text(v) for v in (values or [])]
        params[name] = texts[0] if len(texts) == 1 else texts
    for name, value in (event.get("queryStringParameters") or {}).items():
        params.setdefault(name, _text(value))
    for name, value in (event.get("pathParameters") or {}).items():
        params[name] = _text(value)
    body = json_body(event)
    if isinstance(body, dict):
        for name, value in body.items():
            if name in FREE_TEXT_FIELDS:
                params[f"{name}_chars"] = str(len(value)) if isinstance(value, str) else "0"
            else:
                params[str(name)] = _text(value)
    elif body is not None:
        params["body"] = "(not a JSON object)"
    why: dict[str, str | None] = {}
    for name in WHY_FIELDS:
        value = params.pop(name, None)
        if isinstance(value, list):
            value = value[-1]
        why[name] = _text(value, MAX_REASON_CHARS) if value is not None else None
    if len(params) > MAX_PARAMETERS:
        params = dict(sorted(params.items())[:MAX_PARAMETERS]) | {"truncated": "true"}
    return params, why


UNPARSABLE = "unparsable"


def json_body(event: Mapping[str, Any]) -> Any:
    """The request body as JSON; UNPARSABLE when it is not JSON or is nested too deeply to parse."""
    raw = event.get("body")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError, RecursionError):
        return UNPARSABLE


def audit_event(
    event: Mapping[str, Any], request: state.RequestState, status: int, at: datetime
) -> dict[str, Any]:
    identity = Identity.from_event(event)
    context = event.get("requestContext") or {}
    parameters, why = parameters_of(event)
    principal = request.principal
    return {
        "at": iso_utc(at),
        "user": principal.user if principal else identity.user,
        "groups": sorted(r.value for r in principal.roles) if principal else list(identity.groups),
        "lea": principal.lea if principal else identity.lea,
        "method": str(event.get("httpMethod") or ""),
        "route": request.route or str(event.get("path") or ""),
        "parameters": parameters,
        **why,
        "status": status,
        "result_count": request.result_count,
        "request_id": (context.get("requestId") or None),
        "source_ip": ((context.get("identity") or {}).get("sourceIp") or None),
    }


def handle_audited(
    resolve: Callable[[dict[str, Any], Any], dict[str, Any]],
    event: dict[str, Any],
    context: Any,
    trail: Callable[[], AuditTrail],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    if event.get("path") in UNAUDITED_PATHS:
        return resolve(event, context)
    request, token = state.begin()
    try:
        try:
            response = resolve(event, context)
        except Exception:
            logger.exception("unhandled error in the api")
            response = raw_error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal-error", "internal error")
        now = clock()
        record = audit_event(event, request, int(response["statusCode"]), now)
        try:
            trail().append(record, now)
        except Exception:
            metrics.add_metric("AuditWriteFailed", MetricUnit.Count, 1)
            logger.exception("audit record not written", extra={"audit_event": record})
            if int(response["statusCode"]) < HTTPStatus.BAD_REQUEST:
                return raw_error(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    "audit-unavailable",
                    "the request could not be audited, so it was not carried out; try again",
                )
        return response
    finally:
        state.end(token)
