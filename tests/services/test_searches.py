"""The search service over in-memory stores and an engine that answers as Athena does (running, then
pages of results or a failure): a result is read once when the query has succeeded, cut to 1,000 rows
with `truncated`, and paged from what was kept; a window beyond retention runs no query."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from nas.adapters.authorisations import InMemoryAuthorisationStore
from nas.adapters.cameras import InMemoryCameraDirectory
from nas.adapters.corrections import InMemoryCorrectionStore
from nas.adapters.search import EnginePage, EngineState, EngineStatus
from nas.adapters.search_results import InMemoryResultStore
from nas.adapters.searches import InMemorySearchStore
from nas.adapters.subject_requests import InMemorySubjectRequestStore
from nas.domain.errors import InvalidInput
from nas.domain.layout import Arrival, Partition, ReadRef
from nas.domain.policy import InvestigationLevel
from nas.domain.roles import Principal
from nas.domain.search import (
    Hit,
    Purpose,
    ReadHit,
    SearchPlan,
    SearchRequest,
    SearchStatus,
    SearchType,
    VrmCriteria,
    Why,
)
from nas.services.overlay import SearchOverlay
from nas.services.searches import SearchNotFound, SearchService

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
IVY = Principal.from_claims("ivy", ["investigator"], "KENT")


def hit(n: int) -> ReadHit:
    ref = ReadRef(Partition(Arrival.LIVE, date(2026, 11, 19), 3), "C1", f"r{n}")
    return ReadHit(f"r{n}", "AB12CDE", NOW - timedelta(minutes=n), "C1", "KENT", 51.0, 1.0, "N", 90, ref)


@dataclass
class AthenaLike:
    """Runs for `polls` status checks, then succeeds with `rows` hits in pages of `page_rows`, or fails."""

    rows: int = 0
    polls: int = 1
    page_rows: int = 600
    fails: bool = False
    name: str = "athena"
    started: list[SearchPlan] = field(default_factory=list)
    pages_read: int = 0

    def start(self, plan: SearchPlan, *, search_id: str) -> str:
        self.started.append(plan)
        return f"q-{search_id}"

    def status(self, execution_id: str) -> EngineStatus:
        if self.polls:
            self.polls -= 1
            return EngineStatus(EngineState.RUNNING)
        if self.fails:
            return EngineStatus(EngineState.FAILED, reason="HIVE_BAD_DATA")
        return EngineStatus(EngineState.SUCCEEDED)

    def page(self, execution_id: str, search_type: SearchType, token: str | None) -> EnginePage:
        self.pages_read += 1
        start = int(token or 0)
        hits: list[Hit] = [hit(n) for n in range(start, min(start + self.page_rows, self.rows))]
        following = start + self.page_rows
        return EnginePage(hits, str(following) if following < self.rows else None)


def service(engine: AthenaLike, results: InMemoryResultStore | None = None) -> SearchService:
    return SearchService(
        searches=InMemorySearchStore(),
        authorisations=InMemoryAuthorisationStore(),
        cameras=InMemoryCameraDirectory(),
        engine=engine,
        results=results or InMemoryResultStore(),
        overlay=SearchOverlay(InMemoryCorrectionStore(), InMemorySubjectRequestStore()),
        clock=lambda: NOW,
        new_id=lambda: "s-1",
    )


def vrm_search(days: float = 30, until_days: float = 0) -> SearchRequest:
    return SearchRequest(
        criteria=VrmCriteria(" ab12-cde "),
        window_from=NOW - timedelta(days=days),
        window_to=NOW - timedelta(days=until_days),
        level=InvestigationLevel.PRIORITY_VOLUME,
        why=Why(Purpose.CRIME, "Burglary enquiry, suspect vehicle", "KENT-2026-001234"),
    )


def test_a_running_search_has_no_rows_until_its_query_succeeds() -> None:
    engine = AthenaLike(rows=3, polls=2)
    searches = service(engine)
    started = searches.start(IVY, vrm_search())
    assert (started.record.status, started.record.execution_id) == (SearchStatus.RUNNING, "q-s-1")
    assert engine.started[0].vrm == "AB12CDE"  # normalised before planning
    assert searches.page(IVY, "s-1").record.status is SearchStatus.RUNNING
    assert searches.page(IVY, "s-1").record.status is SearchStatus.RUNNING
    done = searches.page(IVY, "s-1")
    assert done.record.status is SearchStatus.SUCCEEDED
    assert [h.read_id for h in done.hits if isinstance(h, ReadHit)] == ["r0", "r1", "r2"]
    assert (done.record.row_count, done.record.truncated, done.next_offset) == (3, False, None)


def test_results_are_read_once_cut_to_1000_and_marked_truncated() -> None:
    engine = AthenaLike(rows=5000, polls=0)
    searches = service(engine)
    searches.start(IVY, vrm_search())
    first = searches.page(IVY, "s-1")
    assert engine.pages_read == 2  # 600 + 600 rows: past 1,001, no more pages read
    assert (first.record.row_count, first.record.truncated) == (1000, True)
    assert (len(first.hits), first.next_offset) == (100, 100)
    last = searches.page(IVY, "s-1", offset=900)
    assert [h.read_id for h in last.hits if isinstance(h, ReadHit)][-1] == "r999"
    assert last.next_offset is None
    assert engine.pages_read == 2  # later pages come from the kept result


def test_exactly_1000_rows_are_not_truncated() -> None:
    searches = service(AthenaLike(rows=1000, polls=0))
    searches.start(IVY, vrm_search())
    assert searches.page(IVY, "s-1").record.truncated is False


def test_a_failed_query_fails_the_search_with_its_reason() -> None:
    searches = service(AthenaLike(polls=0, fails=True))
    searches.start(IVY, vrm_search())
    page = searches.page(IVY, "s-1")
    assert (page.record.status, page.record.failure, page.hits) == (SearchStatus.FAILED, "HIVE_BAD_DATA", [])


def test_rows_expired_with_the_results_bucket_show_as_expired() -> None:
    results = InMemoryResultStore()
    searches = service(AthenaLike(rows=2, polls=0), results)
    searches.start(IVY, vrm_search())
    assert searches.page(IVY, "s-1").record.status is SearchStatus.SUCCEEDED
    results.documents.clear()  # the bucket's one-day expiry
    assert searches.page(IVY, "s-1").record.status is SearchStatus.EXPIRED


def test_another_users_search_is_not_found() -> None:
    searches = service(AthenaLike(rows=1, polls=0))
    searches.start(IVY, vrm_search())
    with pytest.raises(SearchNotFound):
        searches.page(Principal.from_claims("olly", ["investigator"], "KENT"), "s-1")
    with pytest.raises(SearchNotFound):
        searches.page(IVY, "no-such-search")


def test_an_offset_past_the_rows_is_invalid() -> None:
    searches = service(AthenaLike(rows=150, polls=0))
    searches.start(IVY, vrm_search())
    assert len(searches.page(IVY, "s-1", offset=100).hits) == 50
    with pytest.raises(InvalidInput) as refused:
        searches.page(IVY, "s-1", offset=200)
    assert refused.value.field == "page_token"
