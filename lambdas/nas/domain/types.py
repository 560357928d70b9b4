"""Annotated field types shared by the domain models: each validates and normalises one kind of value."""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime
from typing import Annotated

import pybase64
from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

from nas.domain.leas import NATIONAL, is_lea
from nas.domain.vrm import normalise_vrm

_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)
_JPEG_SOI = b"\xff\xd8\xff"


def _parse_rfc3339(value: object) -> object:
    """RFC 3339 with a mandatory offset (or Z), returned in UTC. Non-strings pass through so that
    pydantic reports the type error."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamp must carry a UTC offset")
        return value.astimezone(UTC)
    if not isinstance(value, str):
        return value
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError("timestamp must be RFC 3339 with an offset or Z, e.g. 2026-11-01T08:15:30Z")
    frac = (match["frac"] or "0")[:6].ljust(6, "0")  # Python keeps microseconds: drop finer digits
    offset = "+00:00" if match["offset"] in ("Z", "z") else match["offset"]
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}{offset}")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # e.g. month 13, offset +25:00, year 1 shifted before year 1
        raise ValueError(f"timestamp is not a real instant: {exc}") from None


def _normalised_vrm(value: object) -> object:
    return normalise_vrm(value) if isinstance(value, str) else value


def _known_lea(value: str) -> str:
    if not is_lea(value):
        raise ValueError(f"{value!r} is not an approved organisation code")
    return value


def _lea_or_national(value: str) -> str:
    return value if value == NATIONAL else _known_lea(value)


def jpeg_base64(max_bytes: int) -> BeforeValidator:
    """Decodes a base64 JPEG to bytes, refusing bad base64, non-JPEG content and oversize images."""

    def decode(value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            # pybase64: SIMD decoding, same strictness as binascii's strict mode, ~50x faster; a
            # 25 KB overview decodes in microseconds, which the match path's budget needs.
            data = pybase64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("image must be standard base64 with padding") from None
        if not data.startswith(_JPEG_SOI):
            raise ValueError("image must be a JPEG")
        if len(data) > max_bytes:
            raise ValueError(f"image must be at most {max_bytes} bytes")
        return data

    return BeforeValidator(decode)


STANDARD_BASE64 = PlainSerializer(
    lambda data: pybase64.b64encode(data).decode("ascii"), return_type=str, when_used="json"
)
"""Images serialise back to the padded standard base64 they arrived in (pydantic's own is URL-safe)."""

UtcDatetime = Annotated[datetime, BeforeValidator(_parse_rfc3339)]
Vrm = Annotated[str, BeforeValidator(_normalised_vrm)]
LeaCode = Annotated[str, AfterValidator(_known_lea)]
LeaOrNational = Annotated[str, AfterValidator(_lea_or_national)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
CaseRef = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9/._-]*$")]
