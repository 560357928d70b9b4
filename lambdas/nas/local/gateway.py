"""The local API Gateway: HTTP on loopback to REST API proxy events for the api Lambda, with the
Cognito authorizer in front of every route but `GET /health` (the one unauthenticated route), and
the console's static assets under `/console/`, which need no token (the app signs in first)."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from nas.local.auth import TokenVerifier, Unauthorized, bearer_token, gateway_claims
from nas.local.console import ConsoleSite, is_console_path
from nas.local.logs import log_as, service_of
from nas.local.moto_server import LOOPBACK, no_delay
from nas.local.poller import ACCOUNT_ID, LocalLambdaContext

log = logging.getLogger(__name__)

API_ID = "local"
STAGE = "local"
HEALTH = "/health"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# The methods of the REST API's `ANY` proxy method; anything else never reaches the integration.
API_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_DIGITS = re.compile(r"[0-9]+")

Handler = Callable[[dict[str, Any], Any], Mapping[str, Any]]


def needs_token(method: str, path: str) -> bool:
    return not (method == "GET" and path == HEALTH)


def proxy_event(
    *,
    method: str,
    target: str,
    headers: Mapping[str, list[str]],
    body: bytes,
    source_ip: str,
    claims: Mapping[str, str] | None,
    host: str,
    now: datetime,
) -> dict[str, Any]:
    """A REST API proxy integration event (resource `/health` or `/{proxy+}`)."""
    parts = urlsplit(target)
    path = parts.path or "/"
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    resource = HEALTH if path == HEALTH else "/{proxy+}"
    text_body: str | None
    is_base64 = False
    if not body:
        text_body = None
    else:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode("ascii"), True
    single_headers = {name: values[-1] for name, values in headers.items()}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": {name: list(values) for name, values in headers.items()} or None,
        "queryStringParameters": {n: v[-1] for n, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": None if resource == HEALTH else {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": uuid.uuid4().hex,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{STAGE}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": single_headers.get("User-Agent"),
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "accessKey": None,
                "cognitoIdentityPoolId": None,
                "cognitoIdentityId": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "principalOrgId": None,
            },
            "authorizer": {"claims": dict(claims)} if claims is not None else None,
            "domainName": host,
            "apiId": API_ID,
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def unauthorized_body(message: str) -> bytes:
    return error_body("unauthorized", message)


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class AuthorizerUnavailable(Exception):
    """The authorizer could not decide (JWKS fetch or verification failed for a reason other than
    the token): API Gateway answers 500, not 401, and the api handler never runs."""


class Gateway:
    """Holds what the request handler needs; `serve` runs the HTTP server in a thread."""

    def __init__(
        self,
        handler: Handler,
        verifier: TokenVerifier,
        *,
        port: int,
        host: str = LOOPBACK,
        console: ConsoleSite | None = None,
    ) -> None:
        self.handler = handler
        self.verifier = verifier
        self.console = console
        # One request at a time through the handler, as in one Lambda execution environment: the
        # powertools resolver keeps the current event on the app object.
        self.invoke_lock = threading.Lock()
        self.context = LocalLambdaContext(function_name="nas-local-api")
        self._server = ThreadingHTTPServer((host, port), _request_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def respond(
        self,
        method: str,
        target: str,
        headers: Mapping[str, list[str]],
        body: bytes,
        source_ip: str,
        host: str,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        path = urlsplit(target).path or "/"
        if self.console is not None and is_console_path(path):
            return self.console.respond(method, path, dict(headers), body)
        claims: dict[str, str] | None = None
        if needs_token(method, path):
            authorization = next((v[-1] for n, v in headers.items() if n.lower() == "authorization"), None)
            try:
                claims = gateway_claims(self.verifier.verify(bearer_token(authorization)))
            except Unauthorized as exc:
                return 401, [("Content-Type", "application/json")], unauthorized_body(str(exc))
            except Exception as exc:  # JWKS unreachable, bad key document, …: not the token's fault
                raise AuthorizerUnavailable(str(exc)) from exc
        event = proxy_event(
            method=method,
            target=target,
            headers=headers,
            body=body,
            source_ip=source_ip,
            claims=claims,
            host=host,
            now=datetime.now(UTC),
        )
        started = time.monotonic()
        with self.invoke_lock:
            log_as(function_name=self.context.function_name, service=service_of("Api"))
            response = self.handler(event, self.context)
        log.debug(
            "%s %s -> %s in %.3f s", method, path, response.get("statusCode"), time.monotonic() - started
        )
        return http_response(response)


def http_response(response: Mapping[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """The proxy integration's response as status, headers and body bytes."""
    status = int(response.get("statusCode", 502))
    headers: list[tuple[str, str]] = []
    multi = response.get("multiValueHeaders") or {}
    for name, values in multi.items():
        headers += [(name, str(v)) for v in values]
    for name, value in (response.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    raw = response.get("body") or ""
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode("utf-8")
    return status, headers, body


def _request_handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "nas-local-gateway"

        def setup(self) -> None:
            super().setup()
            no_delay(self.connection)

        def _refuse(self, status: int, code: str, message: str) -> None:
            """Answers with a JSON error and closes the connection: whatever body the client sent is
            left unread, so it must never be parsed as the next request."""
            self.close_connection = True
            self._send(status, [("Content-Type", "application/json")], error_body(code, message))

        def _handle(self) -> None:
            if self.headers.get("Transfer-Encoding") is not None:
                self._refuse(
                    411, "length-required", "Transfer-Encoding is not supported; send Content-Length"
                )
                return
            lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
            if len(lengths) > 1:
                self._refuse(400, "invalid-request", "conflicting Content-Length headers")
                return
            raw_length = lengths.pop() if lengths else "0"
            if not _DIGITS.fullmatch(raw_length):
                self._refuse(400, "invalid-request", f"Content-Length {raw_length!r} is not a byte count")
                return
            length = int(raw_length)
            if length > MAX_BODY_BYTES:
                self._refuse(413, "too-large", "request body over 10 MB")
                return
            body = self.rfile.read(length) if length else b""
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                self._send(
                    400,
                    [("Content-Type", "application/json")],
                    error_body("invalid-request", "the body must be UTF-8 text"),
                )
                return
            headers: dict[str, list[str]] = {}
            for name, value in self.headers.items():
                headers.setdefault(name, []).append(value)
            try:
                status, response_headers, response_body = gateway.respond(
                    self.command,
                    self.path,
                    headers,
                    body,
                    self.client_address[0],
                    self.headers.get("Host", ""),
                )
            except AuthorizerUnavailable:  # the authorizer failed: API Gateway answers 500
                log.exception("authorizer failed on %s %s", self.command, self.path)
                status, response_headers, response_body = (
                    500,
                    [("Content-Type", "application/json")],
                    error_body("authorizer-unavailable", "the authorizer could not verify the token"),
                )
            except Exception:  # the Lambda failed: API Gateway answers 502
                log.exception("api handler failed on %s %s", self.command, self.path)
                status, response_headers, response_body = (
                    502,
                    [("Content-Type", "application/json")],
                    b'{"message":"Internal server error"}',
                )
            self._send(status, response_headers, response_body)

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle  # noqa: N815

        def _method_not_allowed(self) -> None:
            self.close_connection = True  # the body of an unknown method is never read
            self._send(
                405,
                [("Content-Type", "application/json"), ("Allow", ", ".join(API_METHODS))],
                error_body("method-not-allowed", f"{self.command[:16]} is not a method of this API"),
            )

        def __getattr__(self, name: str) -> Any:
            # http.server answers 501 (an HTML page) for a method without a `do_` handler (TRACE,
            # CONNECT, anything made up); API Gateway's answer is a method not allowed.
            if name.startswith("do_"):
                return self._method_not_allowed
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

    return RequestHandler
