"""R-AUDIT at the API: every request (allowed or refused) becomes an audit event that is appended to
the audit trail before the response leaves. If the append fails, a response that would have carried
data is replaced by 503 `audit-unavailable`; a refusal (4xx) carries no data, so it is still returned
and the event goes to the error log instead. `GET /health` is not audited: it is outside the
authorizer, carries no identity and no data, and auditing it would let anonymous callers write to
the trail.

What a record holds as `parameters` is one canonical JSON string, never a map of caller-chosen
keys (a DynamoDB map keyed by whatever a caller sends can be made unreadable, and a merged map
could be padded or overwritten by the caller):
- a request the route accepted: `{"arguments": …}` — the route's validated arguments, by name, as
  the route received them — plus `"uses"` when the route recorded more (say, resolved cameras);
- a request refused before that (401, 403, invalid input): `{"refused": true, "query": …,
  "body": …}` — the raw query and body, each kept apart and size-capped, with `"cut"` counting
  what was left out;
- and for any error response, `"error"`: the code it answered with (the rule of a 403), which the
  daily statistics count refusals by (R-STATS).
Free text that may hold personal data (`note`, `notes`) is recorded as its length only;
`purpose`, `reason` and `case_ref` (R-REASON) have fields of their own.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from nas.api import state
from nas.api.auth import Identity
from nas.api.errors import raw_error
from nas.domain.timefmt import iso_utc
from nas.observability import logger, metrics

UNAUDITED_PATHS = frozenset({"/health"})
WHY_FIELDS = ("purpose", "reason", "case_ref")
FREE_TEXT_FIELDS = frozenset({"note", "notes"})
MAX_VALUE_CHARS = 256
MAX_REASON_CHARS = 1000
MAX_QUERY_NAMES = 20
MAX_QUERY_VALUES = 5
MAX_BODY_CHARS = 2048
MAX_PARAMETERS_CHARS = 8192


class AuditAppender(Protocol):
    """What the wrapper needs of the audit trail: append one event at `now` (raises on failure)."""

    def append(self, event: Mapping[str, Any], now: datetime) -> Any: ...


def safe_text(text: str, limit: int = MAX_VALUE_CHARS) -> tuple[str, int]:
    """`text` cut to `limit` characters, with anything that is not valid UTF-8 (lone surrogates
    from JSON escapes) escaped; and how many characters were cut."""
    cut = max(0, len(text) - limit)
    kept = text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")
    return kept, cut


def canonical(value: Any) -> str:
    """One text per value: sorted keys, no whitespace, ASCII only (so no byte sequence a caller
    sends can make the stored string invalid)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def _redacted(value: Any) -> Any:
    """Free-text fields replaced by their length, at any depth; long strings cut."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for name, item in value.items():
            key = str(name)
            if key in FREE_TEXT_FIELDS:
                out[f"{key}_chars"] = len(item) if isinstance(item, str) else 0
            else:
                out[key] = _redacted(item)
        return out
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    if isinstance(value, str):
        return safe_text(value)[0]
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)  # `from`, as the caller sent it
    return to_jsonable_python(value, fallback=str)


def accepted_parameters(
    arguments: Mapping[str, Any], uses: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(parameters, why) of a request the route accepted: its validated arguments (why fields taken
    out of any argument that carries them) and what it recorded using."""
    plain = {name: _jsonable(value) for name, value in arguments.items()}
    why: dict[str, str] = {}
    for value in [plain, *[v for v in plain.values() if isinstance(v, dict)]]:
        for name in WHY_FIELDS:
            found = value.pop(name, None)
            if isinstance(found, str):
                why[name] = found
    parameters: dict[str, Any] = {"arguments": _redacted(plain)}
    if uses:
        parameters["uses"] = _redacted(_jsonable(dict(uses)))
    return parameters, why


def refused_parameters(event: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(parameters, why) of a refused request: the raw query and body, apart and capped."""
    cut: dict[str, int] = {}
    query: dict[str, list[str]] = {}
    raw_query = event.get("multiValueQueryStringParameters") or {}
    if isinstance(raw_query, Mapping):
        names = list(raw_query)
        if len(names) > MAX_QUERY_NAMES:
            cut["query_names"] = len(names) - MAX_QUERY_NAMES
        chars_cut = 0
        for name in names[:MAX_QUERY_NAMES]:
            values = raw_query.get(name) or []
            if not isinstance(values, list):
                values = [values]
            if len(values) > MAX_QUERY_VALUES:
                cut["query_values"] = cut.get("query_values", 0) + len(values) - MAX_QUERY_VALUES
            key, key_cut = safe_text(str(name))
            kept = []
            for value in values[:MAX_QUERY_VALUES]:
                text, value_cut = safe_text(str(value))
                kept.append(text)
                chars_cut += value_cut
            query[key] = kept
            chars_cut += key_cut
        if chars_cut:
            cut["query_chars"] = chars_cut
    why: dict[str, str] = {}
    body_text, body_value = _raw_body(event)
    if isinstance(body_value, Mapping):
        for name in WHY_FIELDS:
            if isinstance(body_value.get(name), str):
                why[name] = body_value[name]
        body_text = canonical(_redacted({k: v for k, v in body_value.items() if k not in WHY_FIELDS}))
    parameters: dict[str, Any] = {"refused": True, "query": query}
    if body_text is not None:
        parameters["body"], body_cut = safe_text(body_text, MAX_BODY_CHARS)
        if body_cut:
            cut["body_chars"] = body_cut
    if cut:
        parameters["cut"] = cut
    return parameters, why


def _raw_body(event: Mapping[str, Any]) -> tuple[str | None, Any]:
    """The body as text (a description for binary or undecodable bodies) and, when it is a JSON
    document, its value."""
    raw = event.get("body")
    if raw is None or raw == "":
        return None, None
    if not isinstance(raw, str):
        return "(not text)", None
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return "(invalid base64)", None
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError:
            return f"(binary, {len(data)} bytes)", None
    try:
        return raw, json.loads(raw)
    except (ValueError, RecursionError):
        return raw, None


def parameters_of(
    event: Mapping[str, Any], request: state.RequestState, error: str | None = None
) -> tuple[str, dict[str, str | None]]:
    """The `parameters` text and the why fields (R-REASON) of the request's audit record; `error` is
    the code an error response carried (the rule of a refusal, which R-STATS counts)."""
    if request.arguments is not None:
        parameters, why = accepted_parameters(request.arguments, request.uses)
    else:
        parameters, why = refused_parameters(event)
    if error is not None:
        parameters["error"] = error
    text = canonical(parameters)
    if len(text) > MAX_PARAMETERS_CHARS:  # only reachable through many long values: keep the shape
        text = canonical({"cut": {"parameters_chars": len(text)}, "refused": request.arguments is None})
    reasons = {**why, **{k: v for k, v in request.why.items() if v is not None}}
    return text, {
        name: safe_text(reasons[name], MAX_REASON_CHARS)[0] if isinstance(reasons.get(name), str) else None
        for name in WHY_FIELDS
    }


def error_code(response: Mapping[str, Any]) -> str | None:
    """The `error.code` of an error response's JSON body (None for a success or another body)."""
    if int(response.get("statusCode") or 0) < HTTPStatus.BAD_REQUEST:
        return None
    try:
        body = json.loads(response.get("body") or "null")
    except (TypeError, ValueError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return safe_text(code, 64)[0] if isinstance(code, str) else None


def audit_event(
    event: Mapping[str, Any],
    request: state.RequestState,
    status: int,
    at: datetime,
    error: str | None = None,
) -> dict[str, Any]:
    identity = Identity.from_event(event)
    context = event.get("requestContext") or {}
    parameters, why = parameters_of(event, request, error)
    principal = request.principal
    route = request.route or safe_text(str(event.get("path") or ""))[0]
    return {
        "at": iso_utc(at),
        "user": principal.user if principal else (safe_text(identity.user)[0] if identity.user else None),
        "groups": sorted(r.value for r in principal.roles) if principal else list(identity.groups),
        "lea": principal.lea if principal else (safe_text(identity.lea)[0] if identity.lea else None),
        "method": safe_text(str(event.get("httpMethod") or ""), 16)[0],
        "route": route,
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
    trail: Callable[[], AuditAppender],
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
        record = audit_event(event, request, int(response["statusCode"]), now, error_code(response))
        try:
            trail().append(record, now)
        except Exception:
            # The record goes to the error log instead, so the trail can be reconciled from it.
            metrics.add_metric("AuditWriteFailed", MetricUnit.Count, 1)
            logger.exception("audit record not written", extra={"audit_event": record})
            if int(response["statusCode"]) < HTTPStatus.BAD_REQUEST:
                return raw_error(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    "audit-unavailable",
                    "the request could not be audited, so its response is withheld; try again",
                )
        return response
    finally:
        state.end(token)
