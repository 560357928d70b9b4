"""Searches (SPEC §6): every rule checked before any query runs (R-REASON, R-LIMIT, R-ACCESS, R-AUTHZ),
one plan started on the engine (Athena in AWS, DuckDB locally), and the finished result kept once and
paged to its owner alone.

Order of a start: the request's own rules; the named authorisation (read consistently, so a revocation
holds at once); the lookback; a `near` resolved to registered cameras; the plan with its overlays
(corrections, R-CORRECT; restricted VRMs, R-SAR: `overlay.py`); the engine; the record. A search whose
window lies wholly beyond retention is answered without a query (no rows).

A read of a search refreshes it when its query is still running: once the engine says it succeeded,
every row (at most 1,001) is read, the first 1,000 kept with `truncated` (R-LIMIT), and the search
marked succeeded; every page after that comes from the kept result.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from nas.adapters.authorisations import AuthorisationStore
from nas.adapters.cameras import CameraDirectory
from nas.adapters.search import EngineState, SearchEngine
from nas.adapters.search_results import ResultStore, StoredResult
from nas.adapters.searches import Cursor, SearchListing, SearchStore
from nas.domain import policy
from nas.domain.errors import InvalidInput, NotFound
from nas.domain.roles import Principal
from nas.domain.search import (
    FETCH_LIMIT,
    PAGE_LIMIT,
    ROW_LIMIT,
    ConvoyCriteria,
    Criteria,
    Hit,
    LocationCriteria,
    PartialCriteria,
    SearchRecord,
    SearchRequest,
    SearchStatus,
    VrmCriteria,
    cameras_near,
    criteria_document,
    parse_pattern,
    require_criteria,
    require_reason,
    require_window,
    vrm_of,
)
from nas.services.overlay import SearchOverlay


class SearchNotFound(NotFound):
    """No such search, or another user's (the two are not told apart)."""


@dataclass(frozen=True, slots=True)
class StartedSearch:
    record: SearchRecord
    cameras: tuple[str, ...]
    """The cameras a location search resolved to (for the audit record)."""


@dataclass(frozen=True, slots=True)
class SearchPage:
    record: SearchRecord
    hits: list[Hit]
    next_offset: int | None


class SearchService:
    def __init__(
        self,
        *,
        searches: SearchStore,
        authorisations: AuthorisationStore,
        cameras: CameraDirectory,
        engine: SearchEngine,
        results: ResultStore,
        overlay: SearchOverlay,
        clock: Callable[[], datetime],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._overlay = overlay
        self._searches = searches
        self._authorisations = authorisations
        self._cameras = cameras
        self._engine = engine
        self._results = results
        self._clock = clock
        self._new_id = new_id

    def start(self, principal: Principal, request: SearchRequest) -> StartedSearch:
        now = self._clock()
        criteria = _normalised(request.criteria)
        request = replace(request, criteria=criteria)
        require_reason(request.why)
        require_criteria(criteria)
        require_window(request, now)
        authorisation = (
            self._authorisations.get(request.authorisation_id) if request.authorisation_id else None
        )
        policy.require_lookback(
            principal=principal,
            level=request.level,
            case_ref=request.why.case_ref,
            reaches_back_to=request.window_from,
            now=now,
            authorisation_named=request.authorisation_id is not None,
            authorisation=authorisation.as_live() if authorisation else None,
        )
        cameras: tuple[str, ...] = ()
        if isinstance(criteria, LocationCriteria):
            cameras = (
                criteria.camera_ids
                if criteria.near is None
                else cameras_near(self._cameras.all(), criteria.near)
            )
            criteria = replace(criteria, camera_ids=cameras)
        plan = self._overlay.plan(
            criteria, window_from=request.window_from, window_to=request.window_to, now=now
        )
        search_id = self._new_id()
        record = SearchRecord(
            search_id=search_id,
            user=principal.user,
            created_at=now,
            search_type=request.search_type,
            criteria=criteria_document(criteria),
            window_from=request.window_from,
            window_to=request.window_to,
            level=request.level,
            why=request.why,
            authorisation_id=request.authorisation_id,
            status=SearchStatus.RUNNING,
            engine=self._engine.name,
            execution_id=None,
        )
        if plan.empty:
            self._results.put(search_id, StoredResult(request.search_type, [], truncated=False))
            record = replace(
                record, status=SearchStatus.SUCCEEDED, row_count=0, truncated=False, completed_at=now
            )
        else:
            record = replace(record, execution_id=self._engine.start(plan, search_id=search_id))
        self._searches.put(record)
        return StartedSearch(record, cameras)

    def page(self, principal: Principal, search_id: str, *, offset: int = 0) -> SearchPage:
        """A page of the caller's own search (404 for anyone else's), refreshed from the engine while
        it runs. `offset` must lie within the result."""
        now = self._clock()
        record = self._searches.get(search_id, now=now)
        if record is None or record.user != principal.user:
            raise SearchNotFound(search_id)
        record = self._refresh(record, now)
        if record.status is not SearchStatus.SUCCEEDED:
            if offset:
                raise InvalidInput("page_token", "the search has no rows yet")
            return SearchPage(record, [], None)
        result = self._results.get(search_id)
        if result is None:  # the results bucket keeps rows one day
            return SearchPage(replace(record, status=SearchStatus.EXPIRED), [], None)
        if offset >= max(len(result.hits), 1) and offset:
            raise InvalidInput("page_token", "is past the last row of this search")
        hits = result.hits[offset : offset + PAGE_LIMIT]
        following = offset + PAGE_LIMIT
        return SearchPage(record, hits, following if following < len(result.hits) else None)

    def _refresh(self, record: SearchRecord, now: datetime) -> SearchRecord:
        if record.finished or record.execution_id is None:
            return record
        status = self._engine.status(record.execution_id)
        if status.state is EngineState.RUNNING:
            return record
        if status.state is EngineState.FAILED:
            failed = replace(record, status=SearchStatus.FAILED, failure=status.reason, completed_at=now)
            return self._searches.complete(failed)
        hits: list[Hit] = []
        token: str | None = None
        while len(hits) < FETCH_LIMIT:
            page = self._engine.page(record.execution_id, record.search_type, token)
            hits += page.hits
            token = page.next_token
            if token is None:
                break
        truncated = len(hits) > ROW_LIMIT
        kept = hits[:ROW_LIMIT]
        self._results.put(record.search_id, StoredResult(record.search_type, kept, truncated))
        done = replace(
            record, status=SearchStatus.SUCCEEDED, row_count=len(kept), truncated=truncated, completed_at=now
        )
        return self._searches.complete(done)

    def list_own(self, principal: Principal, *, limit: int, cursor: Cursor | None) -> SearchListing:
        """The caller's searches, newest first (no rows)."""
        return self._searches.list_for_user(principal.user, limit=limit, cursor=cursor, now=self._clock())


def _normalised(criteria: Criteria) -> Criteria:
    """R-VRM normalisation of searched VRMs (a 400 naming `vrm` when one is none) and the partial
    pattern's rules (a 400 naming `pattern`)."""
    if isinstance(criteria, VrmCriteria | ConvoyCriteria):
        return replace(criteria, vrm=vrm_of("vrm", criteria.vrm))
    if isinstance(criteria, PartialCriteria):
        return parse_pattern(criteria.pattern)
    return criteria
