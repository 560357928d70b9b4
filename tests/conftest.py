"""Shared fixtures of the NAS test suite. Powertools reads its settings when the observability module is
imported, so they are set here, before any test module imports a handler."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "NAS")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "nas-test")

JPEG_SOI = b"\xff\xd8\xff\xe0"


@pytest.fixture(scope="session")
def now() -> datetime:
    """The service clock of the domain tests: 2024-05-30T12:00:00Z, in a leap year."""
    return datetime(2024, 5, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def make_read() -> Callable[..., dict[str, Any]]:
    """A factory for a valid `nas.read.v1` record as a JSON-ready dict, captured one minute before
    `now`; keyword arguments replace or add fields."""

    def make(**overrides: Any) -> dict[str, Any]:
        read: dict[str, Any] = {
            "schema": "nas.read.v1",
            "read_id": "r-0001",
            "vrm": "ab12 cde",
            "captured_at": "2024-05-30T11:59:00Z",
            "camera_id": "KENT-CAM-0042",
            "lea": "KENT",
            "source": "static",
        }
        read.update(overrides)
        return read

    return make


@pytest.fixture(scope="session")
def jpeg_b64() -> Callable[[int], str]:
    """Base64 of `size` bytes that start like a JPEG (the service checks the SOI marker, not the rest)."""

    def make(size: int = 64) -> str:
        return base64.b64encode(JPEG_SOI + b"\x00" * (size - len(JPEG_SOI))).decode("ascii")

    return make
