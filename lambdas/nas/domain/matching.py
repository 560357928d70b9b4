"""Which VOI entries a read hits (R-VOI-56, R-CIRC, R-WHITE). Pure: the caller fetched the entries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from nas.domain.models import BULK_SOURCES, Read, VoiEntry


def candidate_hits(read: Read, entries: Iterable[VoiEntry], now: datetime) -> list[VoiEntry]:
    """Entries of the read's VRM that are live at `now` (TTL deletes lazily, so expiry is checked
    here) and circulated to the read's LEA."""
    return [e for e in entries if e.vrm == read.vrm and e.is_live(now) and e.circulated_to(read.lea)]


def without_white_listed(hits: Iterable[VoiEntry], *, white_listed: bool) -> list[VoiEntry]:
    """R-WHITE: a white-listed VRM never raises an alert from a bulk (DVLA/MIB) list; hits from
    PNC and local lists stand."""
    return [e for e in hits if not (white_listed and e.source in BULK_SOURCES)]
