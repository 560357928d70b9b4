"""The console on the local gateway: the built assets of `console/dist` under `/console/` with the
same security headers as in AWS, `config.json` naming this gateway, and a narrow same-origin proxy
for the two Cognito calls the console makes (InitiateAuth, RespondToAuthChallenge). moto listens on
another port and answers no CORS preflight, so the browser could not call it directly; in AWS the
console calls the user pool's endpoint itself."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

from nas import console

log = logging.getLogger(__name__)

PREFIX = f"/{console.CONSOLE_PATH}"
COGNITO_PROXY = f"{PREFIX}/cognito"
MAX_COGNITO_BODY = 16 * 1024  # an InitiateAuth with a username and password is a few hundred bytes
JSON = "application/json"

Response = tuple[int, list[tuple[str, str]], bytes]


def default_dist() -> Path:
    """`console/dist` of the checkout this package runs from (local mode runs from a checkout)."""
    return Path(__file__).resolve().parents[3] / "console" / "dist"


def is_console_path(path: str) -> bool:
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def _error(status: int, code: str, message: str, extra: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return status, [("Content-Type", JSON), *(extra or [])], body


class ConsoleSite:
    def __init__(
        self,
        *,
        dist: Path,
        aws_endpoint: str,
        app_client_id: str,
        tile_url: str = "",
    ) -> None:
        self.dist = dist
        self.aws_endpoint = aws_endpoint.rstrip("/") + "/"
        self.app_client_id = app_client_id
        self.tile_url = tile_url
        # Locally the imports bucket is moto's, and presigned URLs name moto's endpoint (path style).
        self.upload_origin = aws_endpoint.rstrip("/")
        self.headers = console.security_headers(tile_url, upload_origin=self.upload_origin, allow_http=True)
        # Relative to the page, so the console works whichever loopback name the browser used.
        self.config = console.config_document(
            api_url="/", cognito_endpoint=COGNITO_PROXY, app_client_id=app_client_id, tile_url=tile_url
        )

    @property
    def built(self) -> bool:
        return (self.dist / console.INDEX_FILE).is_file()

    def respond(self, method: str, path: str, headers: dict[str, list[str]], body: bytes) -> Response:
        if path == COGNITO_PROXY:
            if method != "POST":
                return _error(405, "method-not-allowed", "the sign-in proxy takes POST", [("Allow", "POST")])
            return self._cognito(headers, body)
        if method not in ("GET", "HEAD"):
            return _error(405, "method-not-allowed", "the console is read with GET", [("Allow", "GET, HEAD")])
        name = path[len(PREFIX) :].lstrip("/") or console.INDEX_FILE
        if name == console.CONFIG_FILE:
            return self._asset(console.CONFIG_FILE, json.dumps(self.config).encode())
        if not self.built:
            return _error(503, "console-not-built", "the console is not built: run `make setup`")
        if not console.ASSET_NAME.fullmatch(name) or not (self.dist / name).is_file():
            return _error(404, "not-found", f"no console asset {name[:100]!r}")
        content = (self.dist / name).read_bytes()
        if name == console.INDEX_FILE:
            content = console.index_html(content.decode("utf-8"), f"{PREFIX}/").encode("utf-8")
        return self._asset(name, content)

    def _asset(self, name: str, content: bytes) -> Response:
        return 200, [("Content-Type", console.content_type(name)), *self.headers.items()], content

    def _cognito(self, headers: dict[str, list[str]], body: bytes) -> Response:
        """Forwards exactly the console's Cognito calls, for this pool's app client, to moto."""
        lower = {name.lower(): values[-1] for name, values in headers.items()}
        target = lower.get("x-amz-target", "")
        if target not in console.COGNITO_TARGETS:
            return _error(400, "not-forwarded", "only InitiateAuth and RespondToAuthChallenge are forwarded")
        if len(body) > MAX_COGNITO_BODY:
            return _error(413, "too-large", "sign-in request over 16 KB")
        try:
            request_body = json.loads(body)
        except ValueError:
            return _error(400, "invalid-request", "the sign-in request is not JSON")
        if not isinstance(request_body, dict) or request_body.get("ClientId") != self.app_client_id:
            return _error(400, "not-forwarded", "the sign-in request is not for the console's app client")
        request = urllib.request.Request(  # noqa: S310 - the local moto endpoint
            self.aws_endpoint,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:  # Cognito's refusals (wrong password, bad code) are 400s
            status, payload = error.code, error.read()
        except OSError as exc:
            log.warning("sign-in proxy: moto unreachable: %s", exc)
            return _error(502, "sign-in-unavailable", "the local user pool did not answer")
        return (
            status,
            [("Content-Type", "application/x-amz-json-1.1"), ("Cache-Control", "no-store")],
            payload,
        )
