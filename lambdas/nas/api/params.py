"""Query parameters the routes parse themselves, so each error names its field (400), and opaque
page tokens: URL-safe base64 of a small JSON object, checked on the way back in."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from nas.api.errors import BadRequest
from nas.domain.audit import MAX_YEAR, MIN_YEAR

MAX_PAGE = 100
DEFAULT_PAGE = 50
MAX_TOKEN_CHARS = 2048


def parse_instant(field: str, text: str | None) -> datetime | None:
    """RFC 3339 with an offset or `Z`; a naive or malformed value is a 400 naming `field`."""
    if text is None or text == "":
        return None
    try:
        value = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
    except ValueError:
        raise BadRequest(
            field, "must be an RFC 3339 timestamp with offset, e.g. 2026-01-01T00:00:00Z"
        ) from None
    if "T" not in text or value.tzinfo is None or value.utcoffset() is None:
        raise BadRequest(field, "must be an RFC 3339 timestamp with offset, e.g. 2026-01-01T00:00:00Z")
    try:
        year = value.astimezone(UTC).year
    except (OverflowError, ValueError):
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:  # so UTC conversion and window arithmetic cannot overflow
        raise BadRequest(field, f"must be in the years {MIN_YEAR} to {MAX_YEAR} (UTC)")
    return value


def parse_limit(text: str | None, *, default: int = DEFAULT_PAGE) -> int:
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit():
        raise BadRequest("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    value = int(text)
    if not 1 <= value <= MAX_PAGE:
        raise BadRequest("limit", f"must be from 1 to {MAX_PAGE}")
    return value


def encode_token(value: dict[str, Any]) -> str:
    raw = json.dumps({"v": 1, **value}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(text: str | None) -> dict[str, Any] | None:
    """The object behind a page token; anything not made by `encode_token` is a 400 `page_token`."""
    if text is None or text == "":
        return None
    if len(text) > MAX_TOKEN_CHARS:
        raise BadRequest("page_token", "is not a page token of this API")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (ValueError, binascii.Error):
        raise BadRequest("page_token", "is not a page token of this API") from None
    if not isinstance(value, dict) or value.pop("v", None) != 1:
        raise BadRequest("page_token", "is not a page token of this API")
    return value
