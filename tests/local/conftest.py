"""Local mode started once per module, in-process, on free ports, with the demo data loaded and
the simulator off (tests put their own reads). The gateway's clock can be moved forward."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nas.local.moto_server import free_port
from nas.local.runtime import LocalMode, LocalOptions


def wait_for[T](probe: Callable[[], T | None], *, timeout_s: float = 30.0, interval_s: float = 0.2) -> T:
    """Polls `probe` until it returns something truthy; fails the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)


class Clock:
    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


@dataclass
class Local:
    mode: LocalMode
    config: dict[str, Any]
    config_path: Path
    clock: Clock

    def client(self, service: str) -> Any:
        return self.mode.client(service)

    def request(
        self, method: str, path: str, *, token: str | None = None, body: bytes | None = None
    ) -> tuple[int, dict[str, str], Any]:
        request = urllib.request.Request(self.config["api_url"] + path, method=method, data=body)  # noqa: S310
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                return response.status, dict(response.headers), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        """The pool's AuthenticationResult (IdToken, AccessToken, …) for a user."""
        result: dict[str, Any] = self.client("cognito-idp").initiate_auth(
            ClientId=self.config["app_client_id"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )["AuthenticationResult"]
        return result

    def id_token(self, group: str = "operator") -> str:
        user = self.config["demo"]["users"][group]
        return str(self.sign_in(user["username"], user["password"])["IdToken"])

    def access_token(self, group: str = "operator") -> str:
        user = self.config["demo"]["users"][group]
        return str(self.sign_in(user["username"], user["password"])["AccessToken"])


@pytest.fixture(scope="package")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    pytest.importorskip("pyarrow")
    config_path = tmp_path_factory.mktemp("local") / ".nas-local.json"
    clock = Clock()
    mode = LocalMode(
        LocalOptions(
            aws_port=free_port(),
            api_port=free_port(),
            demo=True,
            simulator=False,
            config_path=config_path,
            flush_interval_s=1.0,
            clock=clock,
            audit_digest_interval_s=1.0,
            sweep_interval_s=1.0,
        )
    )
    config = mode.start()
    try:
        yield Local(mode, config, config_path, clock)
    finally:
        mode.stop()
