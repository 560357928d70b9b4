"""R-SAR: the DPO's data-subject requests: recorded with their due date, listed (overdue first),
decided once, and carried out.

- access: an export of the VRM's reads within retention, corrections applied (R-CORRECT), with time
  and a coarse area only (the LEA and a 10 km grid square; never a camera id, site or image:
  R-CAMERA), and the alerts raised on it. Built by the search engine as a system search (the same plan
  as an investigator's VRM search, restrictions aside, with a larger row limit), audited under the
  request.
- restriction: granted, the VRM's reads are left out of every search (the plan's predicates) until the
  DPO lifts it; how many reads it covers is recorded for the DPO alone.
- rectification: granted, each read the DPO names (by its export entry id) is corrected (R-CORRECT).
- erasure: granted, the VRM's rows are removed from the stored Parquet (old versions too) and its
  images blanked in their packs (`ReadEraser`); preserved copies (R-PRESERVE) are listed and left alone
  (CPIA), and the decision says so. In AWS the decision is recorded with the erasure pending and
  handed to the erasure function (`ErasureDispatch`, a queue), which carries it out (`ErasureWork`)
  and records the counts on the request; in local mode it is carried out before the decision returns.

A system search that an engine runs in the background (Athena) is waited for up to `wait_s`; past that
the request answers 409 and the next call picks the same query up (its id is kept on the request).
"""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from nas.adapters import StoreError
from nas.adapters.alerts import AlertIndex, AlertReader
from nas.adapters.cameras import CameraDirectory
from nas.adapters.preservations import PreservationStore
from nas.adapters.search import EngineState, SearchEngine, UnknownExecution
from nas.adapters.stored_reads import ReadStore
from nas.adapters.subject_requests import Cursor, RequestChanged, SubjectRequestStore
from nas.domain.alerts import AlertRecord
from nas.domain.corrections import CorrectionRequest, CorrectionSource
from nas.domain.erasure import ERASURE_STATE, ErasureCounts, ErasureScope, ErasureState
from nas.domain.errors import Conflict, InvalidInput, NotFound
from nas.domain.grid import grid_square
from nas.domain.layout import ReadRef
from nas.domain.roles import Principal
from nas.domain.search import ReadHit, VrmCriteria, vrm_of
from nas.domain.subject_requests import (
    EXPORT_ROW_LIMIT,
    AccessExport,
    Decision,
    DecisionRequest,
    ExportAlert,
    ExportRead,
    RequestKind,
    RequestStatus,
    Restriction,
    SubjectRequest,
    due_date,
    entries_named,
    entry_id,
    export_window,
    require_decision,
    require_liftable,
    require_received,
    require_text,
)
from nas.domain.timefmt import iso_utc
from nas.services.overlay import SearchOverlay
from nas.services.reads import ReadService

SYSTEM_SEARCH_REUSE = timedelta(minutes=10)
"""A running system search is picked up again by a retry within this long (Athena keeps results a day)."""
UPDATE_ATTEMPTS = 3


class ReadEraser(Protocol):
    def erase(self, scope: ErasureScope) -> ErasureCounts:
        """Removes every stored row of the scope's VRM (and every older version of the files held
        them) and blanks its images in their packs."""
        ...


class ErasureDispatch(Protocol):
    def dispatch(self, request_id: str) -> None:
        """Hands the granted erasure of this request to whatever carries it out (StoreError if it
        could not be handed over)."""
        ...


def erasure_outcome(
    request: SubjectRequest, *, overlay: SearchOverlay, eraser: ReadEraser, preservations: PreservationStore
) -> dict[str, object]:
    """Carries out the request's erasure; what it did, as the request's outcome records it."""
    scope = ErasureScope.of(request.vrm, overlay.of_vrm(request.vrm), withheld=request.withheld_reads)
    counts = eraser.erase(scope)
    kept = preservations.holding_vrm(request.vrm)
    return {
        ERASURE_STATE: ErasureState.DONE.value,
        "erasure": counts.as_dict(),
        "reads_withheld": len(request.withheld_reads),
        "preserved_copies_kept": kept,
        "note": (
            f"{len(kept)} preservation(s) hold reads of this VRM for criminal cases (CPIA) and are kept"
            " until released"
            if kept
            else "no preserved copy holds a read of this VRM"
        ),
    }


class RequestNotFound(NotFound):
    """No such subject request."""


@dataclass(frozen=True, slots=True)
class NewRequest:
    kind: RequestKind
    vrm: str
    received_at: datetime
    requester_ref: str
    notes: str


@dataclass(frozen=True, slots=True)
class ShownRequest:
    """A request as of the moment it was read: whether it is overdue then."""

    request: SubjectRequest
    overdue: bool


@dataclass(frozen=True, slots=True)
class ShownListing:
    requests: list[ShownRequest]
    next_cursor: Cursor | None


@dataclass(frozen=True, slots=True)
class SystemRows:
    hits: list[ReadHit]
    complete: bool
    window_from: datetime
    window_to: datetime


class SubjectRequestService:
    def __init__(
        self,
        *,
        store: SubjectRequestStore,
        overlay: SearchOverlay,
        engine: SearchEngine,
        alerts: AlertReader,
        cameras: CameraDirectory,
        reads: ReadStore,
        corrector: ReadService,
        preservations: PreservationStore,
        eraser: ReadEraser | None,
        clock: Callable[[], datetime],
        erasures: ErasureDispatch | None = None,
        wait_s: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._store = store
        self._overlay = overlay
        self._engine = engine
        self._alerts = alerts
        self._cameras = cameras
        self._reads = reads
        self._corrector = corrector
        self._preservations = preservations
        self._eraser = eraser
        self._erasures = erasures
        self._clock = clock
        self._wait_s = wait_s
        self._sleep = sleep
        self._monotonic = monotonic
        self._new_id = new_id

    # --- recording and listing ------------------------------------------------------------------

    def _shown(self, request: SubjectRequest) -> ShownRequest:
        return ShownRequest(request, request.overdue(self._clock()))

    def create(self, principal: Principal, new: NewRequest) -> ShownRequest:
        now = self._clock()
        require_received(new.received_at, now)
        require_text("requester_ref", new.requester_ref, minimum=1)
        request = SubjectRequest(
            request_id=self._new_id(),
            kind=new.kind,
            vrm=vrm_of("vrm", new.vrm),
            received_at=new.received_at,
            due=due_date(new.received_at),
            requester_ref=new.requester_ref.strip(),
            notes=new.notes,
            created_by=principal.user,
            created_at=now,
            entry_salt=secrets.token_hex(32),
        )
        self._store.put_new(request)
        return self._shown(request)

    def get(self, principal: Principal, request_id: str) -> ShownRequest:
        return self._shown(self._request(request_id))

    def _request(self, request_id: str) -> SubjectRequest:
        found = self._store.get(request_id)
        if found is None:
            raise RequestNotFound(request_id)
        return found

    def listing(
        self,
        principal: Principal,
        *,
        status: RequestStatus | None,
        overdue: bool,
        limit: int,
        cursor: Cursor | None,
    ) -> ShownListing:
        """Soonest due first. `overdue`: open requests past their due date (status must be open or
        absent)."""
        if overdue and status not in (None, RequestStatus.OPEN):
            raise InvalidInput("overdue", "only open requests can be overdue")
        due_before = self._clock().date() if overdue else None
        found = self._store.listing(
            status or RequestStatus.OPEN, due_before=due_before, limit=limit, cursor=cursor
        )
        return ShownListing([self._shown(r) for r in found.requests], found.next_cursor)

    # --- access ----------------------------------------------------------------------------------

    def export(self, principal: Principal, request_id: str) -> AccessExport:
        request = self._request(request_id)
        if request.kind is RequestKind.RESTRICTION:
            # A rectification's listing is where the DPO finds the entry ids of the reads to correct,
            # an erasure's those of the reads to withhold when it is granted in part.
            raise Conflict("only an access, rectification or erasure request has an export")
        if request.decision is Decision.REFUSED:
            raise Conflict(f"this {request.kind.value} request was refused")
        rows = self._system_rows(request, "export")
        cameras = {c.camera_id: c for c in self._cameras.all()}
        reads = tuple(
            ExportRead(
                entry_id=entry_id(request.entry_salt, h.camera_id, h.read_id),
                captured_at=h.captured_at,
                vrm=h.vrm,
                lea=h.lea,
                area=grid_square(h.lat, h.lon),
                corrected=h.corrected,
            )
            for h in rows.hits
        )
        alerts = tuple(
            ExportAlert(
                raised_at=a.alert.raised_at,
                captured_at=a.alert.captured_at,
                vrm=request.vrm,
                lea=a.alert.lea,
                area=grid_square(
                    *(
                        (cameras[a.alert.camera_id].lat, cameras[a.alert.camera_id].lon)
                        if a.alert.camera_id in cameras
                        else (None, None)
                    )
                ),
                category=a.alert.category,
                outcome=a.alert.outcome.value if a.alert.outcome else None,
            )
            for a in self._alerts_on(request.vrm, rows.window_from, rows.window_to)
        )
        return AccessExport(
            request_id=request.request_id,
            vrm=request.vrm,
            generated_at=self._clock(),
            window_from=rows.window_from,
            window_to=rows.window_to,
            reads=reads,
            alerts=alerts,
            complete=rows.complete,
        )

    def _alerts_on(self, vrm: str, since: datetime, until: datetime) -> list[AlertRecord]:
        """Alerts whose read shows the VRM now (R-CORRECT): raised on it and not corrected away, or
        raised on another VRM whose read was corrected to it."""
        corrections = self._overlay.of_vrm(vrm)
        away = {(c.camera_id, c.read_id) for c in corrections if c.stored_vrm == vrm and c.vrm != vrm}
        to = {
            (c.camera_id, c.read_id): c.stored_vrm
            for c in corrections
            if c.vrm == vrm and c.stored_vrm != vrm
        }
        found = [
            a for a in self._raised(vrm, since, until) if (a.alert.camera_id, a.alert.read_id) not in away
        ]
        for stored_vrm in sorted(set(to.values())):
            found += [
                a
                for a in self._raised(stored_vrm, since, until)
                if (a.alert.camera_id, a.alert.read_id) in to
            ]
        return sorted(found, key=lambda a: (a.alert.raised_at, a.alert_id), reverse=True)

    def _raised(self, vrm: str, since: datetime, until: datetime) -> list[AlertRecord]:
        return list(self._alerts.newest(AlertIndex.BY_VRM, vrm, iso_utc(since), iso_utc(until)))

    # --- decisions -------------------------------------------------------------------------------

    def decide(self, principal: Principal, request_id: str, decided: DecisionRequest) -> ShownRequest:
        request = self._request(request_id)
        require_decision(request, decided)
        outcome: dict[str, object] = {}
        restriction = request.restriction
        withheld = self._withheld(request, decided) if decided.withheld else ()
        if decided.decision.acts:
            if request.kind is RequestKind.RESTRICTION:
                rows = self._system_rows(request, "restriction")
                restriction = Restriction(in_force=True)
                outcome = {"restricted_reads": len(rows.hits), "restricted_reads_complete": rows.complete}
            elif request.kind is RequestKind.RECTIFICATION:
                outcome = {"corrections": self._rectify(principal, request, decided)}
            elif request.kind is RequestKind.ERASURE:
                outcome = self._erase(replace(request, withheld_reads=withheld))
        now = self._clock()
        decided_request = replace(
            self._request(request_id),
            status=RequestStatus.DECIDED,
            decision=decided.decision,
            decided_at=now,
            decided_by=principal.user,
            decision_reason=decided.reason.strip(),
            exemption=(decided.exemption or "").strip() or None,
            outcome=outcome,
            restriction=restriction,
            withheld_reads=withheld,
        )
        try:
            stored = self._store.update(decided_request)
        except RequestChanged:
            raise Conflict("the request was changed meanwhile; read it again") from None
        if outcome.get(ERASURE_STATE) == ErasureState.PENDING:
            stored = self._hand_over(stored)
        return self._shown(stored)

    def _hand_over(self, request: SubjectRequest) -> SubjectRequest:
        """Queues the recorded erasure; if it cannot be queued the request says so (failed, nothing
        erased) and the caller gets the store error, so a granted erasure is never silently left
        pending."""
        assert self._erasures is not None
        try:
            self._erasures.dispatch(request.request_id)
        except StoreError as error:
            failed = {**request.outcome, ERASURE_STATE: ErasureState.FAILED.value, "error": str(error)[:300]}
            # The store error below is what the caller hears; if this fails too, it still shows pending.
            with contextlib.suppress(StoreError):
                self._store.update_outcome(replace(request, outcome=failed))
            raise
        return request

    def lift(self, principal: Principal, request_id: str, reason: str) -> ShownRequest:
        """Lifts a restriction in force: searches return the VRM's reads again (audited)."""
        request = self._request(request_id)
        require_liftable(request)
        lifted = replace(
            request,
            restriction=Restriction(
                in_force=False,
                lifted_at=self._clock(),
                lifted_by=principal.user,
                lift_reason=require_text("reason", reason),
            ),
        )
        try:
            return self._shown(self._store.update(lifted))
        except RequestChanged:
            raise Conflict("the request was changed meanwhile; read it again") from None

    def _rectify(
        self, principal: Principal, request: SubjectRequest, decided: DecisionRequest
    ) -> list[dict[str, str]]:
        rows = self._system_rows(request, "rectification")
        by_entry = {entry_id(request.entry_salt, h.camera_id, h.read_id): h.ref for h in rows.hits}
        entries_named("corrections", [entry for entry, _ in decided.corrections], by_entry)
        refs: dict[str, ReadRef] = {entry: by_entry[entry] for entry, _ in decided.corrections}
        stored = self._reads.get_many(list(refs.values()))
        made: list[dict[str, str]] = []
        for entry, vrm in decided.corrections:
            ref = refs[entry]
            row = stored.get((ref.camera_id, ref.read_id))
            if row is None:
                raise InvalidInput("corrections", f"{entry} is no longer stored")
            correction = self._corrector.apply(
                row,
                CorrectionRequest(
                    vrm=vrm,
                    reason=f"R-SAR rectification {request.request_id}: {decided.reason.strip()}"[:1000],
                    by=principal.user,
                    source=CorrectionSource.SUBJECT_REQUEST,
                    subject_request_id=request.request_id,
                ),
            )
            made.append({"entry_id": entry, "correction_id": correction.correction_id, "vrm": correction.vrm})
        return made

    def _withheld(self, request: SubjectRequest, decided: DecisionRequest) -> tuple[tuple[str, str], ...]:
        """The reads an erasure granted in part keeps, from the entry ids of the request's export."""
        rows = self._system_rows(request, "erasure")
        by_entry = {entry_id(request.entry_salt, h.camera_id, h.read_id): h for h in rows.hits}
        entries_named("withheld", decided.withheld, by_entry)
        return tuple(sorted({(by_entry[e].camera_id, by_entry[e].read_id) for e in decided.withheld}))

    def _erase(self, request: SubjectRequest) -> dict[str, object]:
        """Queued for the erasure function where there is one (AWS); else carried out here."""
        if self._erasures is not None:
            return {ERASURE_STATE: ErasureState.PENDING.value, "queued_at": iso_utc(self._clock())}
        if self._eraser is None:
            raise Conflict("erasure cannot run here: no Parquet rewriter is configured (docs/reads.md)")
        return erasure_outcome(
            request, overlay=self._overlay, eraser=self._eraser, preservations=self._preservations
        )

    # --- the system search -----------------------------------------------------------------------

    def _system_rows(self, request: SubjectRequest, purpose: str) -> SystemRows:
        """The VRM's reads within retention, corrections applied, restrictions not applied, at most
        EXPORT_ROW_LIMIT (`complete` false beyond)."""
        now = self._clock()
        window_from, window_to = export_window(now)
        plan = self._overlay.plan(
            VrmCriteria(request.vrm),
            window_from=window_from,
            window_to=window_to,
            now=now,
            restrict=False,
            limit=EXPORT_ROW_LIMIT + 1,
        )
        if plan.empty:
            return SystemRows([], True, window_from, window_to)
        execution_id = self._execution(request, purpose, now)
        if execution_id is None:
            execution_id = self._engine.start(plan, search_id=self._new_id())
            self._remember(
                request, {"execution_id": execution_id, "purpose": purpose, "started_at": iso_utc(now)}
            )
        self._wait(execution_id)
        hits: list[ReadHit] = []
        token: str | None = None
        while len(hits) <= EXPORT_ROW_LIMIT:
            page = self._engine.page(execution_id, plan.search_type, token)
            hits += [h for h in page.hits if isinstance(h, ReadHit)]
            token = page.next_token
            if token is None:
                break
        return SystemRows(hits[:EXPORT_ROW_LIMIT], len(hits) <= EXPORT_ROW_LIMIT, window_from, window_to)

    def _execution(self, request: SubjectRequest, purpose: str, now: datetime) -> str | None:
        """The request's system search of this purpose started within SYSTEM_SEARCH_REUSE, if the engine
        still has it."""
        kept = request.system_search or {}
        if kept.get("purpose") != purpose or not kept.get("execution_id"):
            return None
        if now - datetime.fromisoformat(str(kept["started_at"])) > SYSTEM_SEARCH_REUSE:
            return None
        try:
            self._engine.status(str(kept["execution_id"]))
        except UnknownExecution:
            return None
        return str(kept["execution_id"])

    def _remember(self, request: SubjectRequest, search: dict[str, str]) -> None:
        for _ in range(UPDATE_ATTEMPTS):
            current = self._store.get(request.request_id) or request
            try:
                self._store.update(replace(current, system_search=search))
                return
            except RequestChanged:
                continue

    def _wait(self, execution_id: str) -> None:
        deadline = self._monotonic() + self._wait_s
        delay = 0.2
        while True:
            status = self._engine.status(execution_id)
            if status.state is EngineState.SUCCEEDED:
                return
            if status.state is EngineState.FAILED:
                raise Conflict(f"the system search failed: {status.reason or 'no reason given'}")
            if self._monotonic() > deadline:
                raise Conflict("the system search is still running; try again in a few seconds")
            self._sleep(delay)
            delay = min(delay * 2, 2.0)


class ErasureWork:
    """R-SAR: the erasure function's work: carries out a granted erasure the api queued and records
    what it did on the request. Idempotent: a request whose erasure is done is left as it is (a
    message delivered twice), and running again over erased files removes nothing more."""

    def __init__(
        self,
        *,
        store: SubjectRequestStore,
        overlay: SearchOverlay,
        eraser: ReadEraser,
        preservations: PreservationStore,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._overlay = overlay
        self._eraser = eraser
        self._preservations = preservations
        self._clock = clock

    def carry_out(self, request_id: str, *, last_attempt: bool) -> SubjectRequest:
        """Erases and records the counts. On failure the error propagates (the message is retried);
        on the `last_attempt` the request is first marked failed with the error, so the DPO sees it
        while the message waits in the dead-letter queue."""
        request = self._store.get(request_id)
        if request is None:
            raise RequestNotFound(request_id)
        if not _erasure_owed(request):
            return request
        try:
            outcome = erasure_outcome(
                request, overlay=self._overlay, eraser=self._eraser, preservations=self._preservations
            )
            return self._record(request_id, {**outcome, "erased_at": iso_utc(self._clock())})
        except Exception as error:
            if last_attempt:
                failed = {
                    **request.outcome,
                    ERASURE_STATE: ErasureState.FAILED.value,
                    "error": f"{type(error).__name__}: {error}"[:300],
                    "failed_at": iso_utc(self._clock()),
                }
                self._record(request_id, failed)
            raise

    def _record(self, request_id: str, outcome: dict[str, object]) -> SubjectRequest:
        for _ in range(UPDATE_ATTEMPTS):
            current = self._request(request_id)
            try:
                return self._store.update_outcome(replace(current, outcome=outcome))
            except RequestChanged:
                continue
        raise Conflict(f"request {request_id} kept changing; its erasure outcome was not recorded")

    def _request(self, request_id: str) -> SubjectRequest:
        found = self._store.get(request_id)
        if found is None:
            raise RequestNotFound(request_id)
        return found


def _erasure_owed(request: SubjectRequest) -> bool:
    """A granted erasure recorded as pending, or as failed (a redrive from the dead-letter queue)."""
    return (
        request.kind is RequestKind.ERASURE
        and request.decision is not None
        and request.decision.acts
        and request.outcome.get(ERASURE_STATE) in (ErasureState.PENDING, ErasureState.FAILED)
    )
