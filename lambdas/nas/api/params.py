"""Parameters the routes parse themselves, so each error names its field (400), and opaque page
tokens: URL-safe base64 of a small JSON object, checked on the way back in."""

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

DATE_TIME: dict[str, Any] = {"json_schema_extra": {"format": "date-time"}, "max_length": 64}
"""Query parameter settings of an RFC 3339 instant (the OpenAPI `date-time` format)."""
LIMIT_DESCRIPTION = f"page size, 1..{MAX_PAGE}"
PAGE_TOKEN_DESCRIPTION = "next_page_token of the previous page of the same query"  # noqa: S105


def parse_instant(field: str, text: str | None) -> datetime | None:
    """RFC 3339 with an offset or `Z`; a naive, empty or malformed value is a 400 naming `field`
    (only an absent parameter is None)."""
    if text is None:
        return None
    message = "must be an RFC 3339 timestamp with offset, e.g. 2026-01-01T00:00:00Z"
    if "T" not in text.upper() or len(text) > 64:
        raise BadRequest(field, message)
    try:
        # A `+` in a query string may arrive decoded as a space.
        value = datetime.fromisoformat(text.replace(" ", "+").replace("t", "T").replace("z", "Z"))
    except ValueError:
        raise BadRequest(field, message) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadRequest(field, message)
    try:
        year = value.astimezone(UTC).year
    except (OverflowError, ValueError):
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BadRequest(field, f"must be in the years {MIN_YEAR} to {MAX_YEAR} (UTC)")
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
    except (ValueError, binascii.Error, RecursionError):
        raise BadRequest("page_token", "is not a page token of this API") from None
    if not isinstance(value, dict) or value.pop("v", None) != 1:
        raise BadRequest("page_token", "is not a page token of this API")
    return value


def pair_token(cursor: tuple[str, str] | None, names: tuple[str, str]) -> str | None:
    """The next page's token for a listing ordered by (position, id), or None on the last page."""
    return None if cursor is None else encode_token(dict(zip(names, cursor, strict=True)))


def pair_cursor(
    token: str | None, names: tuple[str, str], *, position_chars: int | None = None, max_id_chars: int = 64
) -> tuple[str, str] | None:
    """The (position, id) a `pair_token` holds: both strings, the position `position_chars` long when
    given, the id 1..`max_id_chars`; anything else is a 400 `page_token`, so a forged token never
    reaches a store (it could otherwise steer a query anywhere)."""
    value = decode_token(token)
    if value is None:
        return None
    position, identifier = value.get(names[0]), value.get(names[1])
    if (
        set(value) != set(names)
        or not isinstance(position, str)
        or not isinstance(identifier, str)
        or (position_chars is not None and len(position) != position_chars)
        or not 0 < len(identifier) <= max_id_chars
    ):
        raise BadRequest("page_token", "is not a page token of this API")
    return position, identifier
