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


# R-VRM (OCR look-alikes): characters that plate readers confuse with one another, one class per row,
# the first character of a class standing for all of them. Every stored read keeps its VRM in this
# canonical form (`vrm_canonical`), so an OCR-tolerant search is an equality lookup on it, and the
# read's storage bucket is derived from it (exact and tolerant searches of one VRM land in one
# bucket). Changing this table changes where reads are stored: add a class only with a migration.
LOOKALIKE_CLASSES: tuple[str, ...] = (
    "0ODQ",  # round shapes: zero, O, D, Q
    "1I",  # vertical strokes: one, I
    "2Z",
    "5S",
    "6G",
    "8B",
)
_CANONICAL = str.maketrans({ch: cls[0] for cls in LOOKALIKE_CLASSES for ch in cls[1:]})


def canonical_vrm(vrm: str) -> str:
    """The VRM with each character replaced by its look-alike class's representative (`LOOKALIKE_CLASSES`):
    `"AB12CDE"` and `"A812C0E"` share the canonical form `"A812C0E"`. `vrm` must be normalised."""
    return vrm.translate(_CANONICAL)
