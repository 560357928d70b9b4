"""The API as the command line reaches it: the base URL (from `--api-url`, or `api_url` in the
settings file `nas local` writes) and the ID token `nas login` keeps, over plain HTTPS (HTTP to
local mode). Every command that acts for a person goes through the API, so it is authorised and
audited exactly as a browser or curl would be."""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.cli.login import DEFAULT_TOKEN_FILE
from nas.cli.target import TargetError

TOKEN_ENV = "NAS_TOKEN"  # noqa: S105 - the variable's name, not a token
TIMEOUT_S = 60.0


class ApiCallFailed(RuntimeError):
    """The API answered with an error; `status` and `code` are what it said."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        super().__init__(f"{status} {code}: {message}")


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="settings file written by `nas local` (.nas-local.json)")
    parser.add_argument("--api-url", help="the API's base URL (the stack's ApiUrl output)")
    parser.add_argument(
        "--token-file",
        type=Path,
        default=DEFAULT_TOKEN_FILE,
        help=f"the ID token `nas login` kept ({DEFAULT_TOKEN_FILE}); or set {TOKEN_ENV}",
    )


@dataclass(frozen=True, slots=True)
class ApiClient:
    base_url: str
    token: str

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ApiClient:
        base = getattr(args, "api_url", None)
        if not base and getattr(args, "config", None):
            try:
                base = json.loads(Path(args.config).read_text(encoding="utf-8")).get("api_url")
            except (OSError, ValueError, AttributeError) as exc:
                raise TargetError(f"--config {args.config}: {exc}") from None
        if not base:
            raise TargetError("no API: pass --api-url or --config")
        token = os.environ.get(TOKEN_ENV)
        if not token:
            try:
                token = Path(args.token_file).read_text(encoding="utf-8").strip()
            except OSError:
                raise TargetError(f"no token in {args.token_file}: run `nas login` first") from None
        return cls(str(base).rstrip("/"), token)

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
    ) -> Any:
        """The JSON the API answered; raises ApiCallFailed on an error status."""
        payload = self.fetch(method, path, query=query, body=body)
        return json.loads(payload) if payload else None

    def fetch(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
        accept: str = "application/json",
    ) -> bytes:
        """The body the API answered, as bytes (a JPEG, a CSV export: through API Gateway a binary
        body comes back as bytes only to a request that accepts its media type)."""
        url = self.base_url + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, method=method, data=data)  # noqa: S310 - a configured API URL
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", accept)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                payload: bytes = response.read()
        except urllib.error.HTTPError as error:
            raise _failure(error.code, error.read()) from None
        except urllib.error.URLError as error:
            raise TargetError(f"cannot reach {self.base_url}: {error.reason}") from None
        return payload


def _failure(status: int, payload: bytes) -> ApiCallFailed:
    try:
        error = json.loads(payload).get("error") or {}
        return ApiCallFailed(status, str(error.get("code", "error")), str(error.get("message", "")))
    except (ValueError, AttributeError):
        return ApiCallFailed(status, "error", payload[:200].decode("utf-8", "replace"))
