"""One read of the caller's own search (SPEC §6; R-REASON, R-CORRECT): its view, its images and its
corrections.

A read is reached only through a search the caller ran and whose kept rows hold it (anything else is
`NotFound`: 404, existence not disclosed); the row's reference names the read's partition, so the stored
row is read from that one partition. Images come by a byte-range GET of the pack. A read under a
restriction in force (R-SAR) is not shown, as searches do not return it.

A correction is stored with its history (`adapters/corrections.py`); from then on every store shows it
(docs/reads.md, "How each store learns of a correction"). A corrected VRM on a live VOI list raises no
alert (the read is history) but is reported back, so the investigator can act.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from nas.adapters.alerts import AlertReader
from nas.adapters.corrections import CorrectionRaced, CorrectionStore
from nas.adapters.images import ImageStore
from nas.adapters.search_results import ResultStore
from nas.adapters.searches import SearchStore
from nas.adapters.stored_reads import ReadStore
from nas.adapters.subject_requests import RestrictionList
from nas.adapters.voi import VoiLookup
from nas.domain.corrections import (
    Correction,
    CorrectionRequest,
    CorrectionSource,
    VoiMatch,
    correct,
    read_key,
    voi_matches,
)
from nas.domain.errors import Conflict, InvalidInput, NotFound
from nas.domain.layout import ReadRef
from nas.domain.roles import Principal
from nas.domain.search import ConvoyHit, ReadHit, SearchRecord, SearchStatus
from nas.domain.stored import ImageKind, StoredRow

CORRECTION_ATTEMPTS = 3


class ReadNotFound(NotFound):
    """Not a read of the caller's search, no longer stored, or restricted (never told apart)."""


@dataclass(frozen=True, slots=True)
class ReadView:
    search: SearchRecord
    row: StoredRow
    history: list[Correction]

    @property
    def current(self) -> Correction | None:
        return self.history[-1] if self.history else None

    @property
    def vrm(self) -> str:
        current = self.current
        return current.vrm if current is not None else self.row.vrm

    @property
    def corrected(self) -> bool:
        return self.vrm != self.row.vrm


@dataclass(frozen=True, slots=True)
class ImageView:
    view: ReadView
    kind: ImageKind
    body: bytes


@dataclass(frozen=True, slots=True)
class CorrectionMade:
    view: ReadView
    correction: Correction
    voi_matches: list[VoiMatch]
    voi_matches_withheld: int


class OwnSearchReads:
    """Which reads a caller may open: the rows their own search kept."""

    def __init__(self, *, searches: SearchStore, results: ResultStore, clock: Callable[[], datetime]) -> None:
        self._searches = searches
        self._results = results
        self._clock = clock

    def search(self, principal: Principal, search_id: str) -> SearchRecord:
        record = self._searches.get(search_id, now=self._clock())
        if record is None or record.user != principal.user:
            raise ReadNotFound(search_id)
        return record

    def refs(self, principal: Principal, search_id: str) -> tuple[SearchRecord, dict[str, ReadRef]]:
        """The search and its rows' references by read id (the first row of a read id wins)."""
        record = self.search(principal, search_id)
        result = self._results.get(search_id) if record.status is SearchStatus.SUCCEEDED else None
        found: dict[str, ReadRef] = {}
        for hit in result.hits if result is not None else []:
            refs: Iterable[ReadRef] = (
                [s.ref for s in hit.reads]
                if isinstance(hit, ConvoyHit)
                else [hit.ref]
                if isinstance(hit, ReadHit)
                else []
            )
            for ref in refs:
                found.setdefault(ref.read_id, ref)
        return record, found


class ReadService:
    def __init__(
        self,
        *,
        own: OwnSearchReads,
        reads: ReadStore,
        images: ImageStore,
        corrections: CorrectionStore,
        restrictions: RestrictionList,
        alerts: AlertReader,
        voi: VoiLookup,
        clock: Callable[[], datetime],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._own = own
        self._reads = reads
        self._images = images
        self._corrections = corrections
        self._restrictions = restrictions
        self._alerts = alerts
        self._voi = voi
        self._clock = clock
        self._new_id = new_id

    def view(self, principal: Principal, search_id: str, read_id: str) -> ReadView:
        """The read `read_id` among the rows of the caller's search `search_id`, from its partition."""
        record, refs = self._own.refs(principal, search_id)
        ref = refs.get(read_id)
        if ref is None:
            raise ReadNotFound(read_id)
        row = self._reads.get_many([ref]).get((ref.camera_id, ref.read_id))
        if row is None:  # deleted (R-RET-367) or erased (R-SAR) since the search ran
            raise ReadNotFound(read_id)
        view = ReadView(record, row, self._corrections.history(read_key(row.camera_id, row.read_id)))
        if view.vrm in self._restrictions.restricted_vrms():
            raise ReadNotFound(read_id)
        return view

    def image(self, principal: Principal, search_id: str, read_id: str, kind: ImageKind) -> ImageView:
        view = self.view(principal, search_id, read_id)
        ref = view.row.image(kind)
        body = self._images.get(ref) if ref is not None else None
        if body is None:
            raise ReadNotFound(f"{read_id}/{kind.value}")
        return ImageView(view, kind, body)

    def correct(
        self,
        principal: Principal,
        search_id: str,
        read_id: str,
        *,
        vrm: str,
        reason: str,
        alert_id: str | None = None,
    ) -> CorrectionMade:
        """R-CORRECT from a read of the caller's search. `alert_id`, when given, must be an alert of
        this read (the correction made from its `misread` outcome)."""
        view = self.view(principal, search_id, read_id)
        if alert_id is not None:
            alert = self._alerts.get(alert_id)
            if alert is None or (alert.alert.camera_id, alert.alert.read_id) != (
                view.row.camera_id,
                view.row.read_id,
            ):
                raise InvalidInput("alert_id", "is not an alert of this read")
        request = CorrectionRequest(
            vrm=vrm,
            reason=reason,
            by=principal.user,
            source=CorrectionSource.SEARCH,
            search_id=search_id,
            alert_id=alert_id,
        )
        correction = self.apply(view.row, request)
        entries = self._voi.listings([correction.vrm]).get(correction.vrm)
        matches, withheld = voi_matches(
            entries.entries if entries is not None else (),
            now=correction.corrected_at,
            viewer_lea=principal.lea,
            read_lea=view.row.lea,
        )
        history = self._corrections.history(correction.read_key)
        return CorrectionMade(ReadView(view.search, view.row, history), correction, matches, withheld)

    def apply(self, row: StoredRow, request: CorrectionRequest) -> Correction:
        """Stores the read's next correction, on a fresh read of its current one when another
        correction raced this one."""
        key = read_key(row.camera_id, row.read_id)
        for _ in range(CORRECTION_ATTEMPTS):
            current = self._corrections.current([key]).get(key)
            correction = correct(
                current,
                request,
                ref=row.ref,
                captured_at=row.captured_at,
                stored_vrm=row.vrm,
                correction_id=self._new_id(),
                now=self._clock(),
            )
            try:
                self._corrections.put(correction)
            except CorrectionRaced:
                continue
            return correction
        raise Conflict("the read was being corrected by someone else at the same time; try again")
