"""R-VRM: vehicle registration marks as the service stores and compares them."""

from __future__ import annotations

import re

from nas.domain.errors import InvalidVrm

_NORMALISED = re.compile(r"[A-Z0-9]{1,10}")


def normalise_vrm(raw: str) -> str:
    """Upper-case, drop spaces and hyphens; the result must be 1-10 chars of [A-Z0-9].

    Non-ASCII input is refused before upper-casing, because `str.upper` maps some letters to ASCII
    ("ß" -> "SS") and would invent a plausible VRM from garbage.
    """
    if not isinstance(raw, str):
        raise InvalidVrm("VRM must be a string")
    if not raw.isascii():
        raise InvalidVrm("VRM must be ASCII letters and digits")
    # str.replace is several times faster than str.translate with a table (every read passes here).
    vrm = raw.replace(" ", "").replace("-", "").upper()
    if not _NORMALISED.fullmatch(vrm):
        raise InvalidVrm("VRM must be 1-10 letters or digits once spaces and hyphens are removed")
    return vrm
