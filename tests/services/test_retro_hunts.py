"""Retro-hunts on in-memory stores and the real DuckDB engine over Parquet written by the local sink
(issue 10, item 5): the API's half queues a hunt and returns at once; a run searches the window's
stored reads, raises `retro` alerts circulated as live ones (R-CIRC), once each (R-DUP), audits the
system search (R-AUDIT), and waits on, resumes or records a failed search."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs  # type: ignore[import-untyped]
import pytest

from nas.adapters import StoreError
from nas.adapters.alerts import InMemoryAlertStore
from nas.adapters.duckdb_search import DuckDbSearchEngine
from nas.adapters.events import InMemoryAlertPublisher
from nas.adapters.retro_hunts import HuntMessage, InMemoryHuntQueue, InMemoryHuntStore
from nas.adapters.search import EnginePage, EngineState, EngineStatus
from nas.adapters.voi_match import VrmListing
from nas.domain.models import Alert, VoiEntry, VoiSource, alert_id_for
from nas.domain.reads import parse_read
from nas.domain.retro_hunt import HuntRequest, HuntStatus, RetroHunt
from nas.domain.roles import Principal, Role
from nas.domain.search import Purpose, SearchPlan, SearchType
from nas.domain.voi import VoiDraft, VoiRecord, new_entry
from nas.services.retro_hunts import HuntPending, RetroHuntRequests, RetroHuntRunner
from tests.searchdata import ESSEX_A, KENT_A, KENT_B, DirectoryS3, StoredRead, store

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
KENT_MANAGER = Principal.from_claims("vm.kent", [Role.VOI_MANAGER.value], "KENT")
ASK = HuntRequest(2, Purpose.CRIME, "KENT-2026-000123")


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Voi:
    """The voi table as a run reads it: single entries by VRM, the white list."""

    entries: list[VoiEntry] = field(default_factory=list)
    white: set[str] = field(default_factory=set)

    def records_of(self, vrm: str) -> list[VoiRecord]:
        return [VoiRecord(entry=e) for e in self.entries if e.vrm == vrm]

    def listings(self, vrms: Collection[str]) -> dict[str, VrmListing]:
        return {v: VrmListing(tuple(e for e in self.entries if e.vrm == v), v in self.white) for v in vrms}


@dataclass
class Trail:
    events: list[dict[str, Any]] = field(default_factory=list)

    def append(self, event: dict[str, Any], now: datetime) -> None:
        self.events.append(event)


@dataclass
class SlowEngine:
    """Runs for `polls` status checks, then fails or succeeds with no rows."""

    polls: int
    fails: bool = False
    name: str = "athena"
    started: list[str] = field(default_factory=list)

    def start(self, plan: SearchPlan, *, search_id: str) -> str:
        self.started.append(search_id)
        return f"q-{search_id}"

    def status(self, execution_id: str) -> EngineStatus:
        if self.polls:
            self.polls -= 1
            return EngineStatus(EngineState.RUNNING)
        return EngineStatus(EngineState.FAILED if self.fails else EngineState.SUCCEEDED, reason="HIVE")

    def page(self, execution_id: str, search_type: SearchType, token: str | None) -> EnginePage:
        return EnginePage([], None)


@dataclass
class Hunting:
    clock: Clock
    voi: Voi
    hunts: InMemoryHuntStore
    queue: InMemoryHuntQueue
    alerts: InMemoryAlertStore
    publisher: InMemoryAlertPublisher
    trail: Trail
    engine: Any

    def requests(self) -> RetroHuntRequests:
        return RetroHuntRequests(self.hunts, self.queue, clock=self.clock)

    def runner(self, *, wait_s: float = 0.0) -> RetroHuntRunner:
        return RetroHuntRunner(
            hunts=self.hunts,
            voi=self.voi,
            engine=self.engine,
            alerts=self.alerts,
            publisher=self.publisher,
            audit=self.trail,  # type: ignore[arg-type]
            clock=self.clock,
            sleep=lambda s: None,
            wait_s=wait_s,
        )

    def add(self, created: datetime = NOW, **overrides: Any) -> VoiEntry:
        values: dict[str, Any] = {
            "vrm": "AB12CDE",
            "category": "stolen",
            "action": "stop",
            "priority": 1,
            "reason": "Reported stolen, PNC 24/123456A",
            "circulation": ("KENT",),
        } | overrides
        entry = new_entry(
            VoiDraft.model_validate(values),
            voi_id=f"v-{len(self.voi.entries) + 1}",
            principal=KENT_MANAGER,
            now=created,
        )
        self.voi.entries.append(entry)
        return entry

    def hunt(self, entry: VoiEntry, ask: HuntRequest = ASK) -> RetroHunt:
        """The API's half, then one run of the message it queued."""
        self.requests().start(entry, ask, requested_by=KENT_MANAGER)
        return self.run(self.queue.messages[-1])

    def run(self, message: HuntMessage, *, wait_s: float = 0.0) -> RetroHunt:
        """One run of a message whose hunt is there."""
        hunt = self.runner(wait_s=wait_s).run(message)
        assert hunt is not None
        return hunt

    def raised(self) -> list[Alert]:
        return self.publisher.published


@pytest.fixture
def hunting(tmp_path: Path) -> Hunting:
    store(
        DirectoryS3(tmp_path),
        "reads",
        [
            StoredRead("k1", "AB12CDE", NOW - timedelta(hours=3)),
            StoredRead("k2", "AB12CDE", NOW - timedelta(days=1, hours=12), camera=KENT_B),
            StoredRead("k3", "AB12CDE", NOW - timedelta(days=3)),  # outside a two-day hunt
            StoredRead("e1", "AB12CDE", NOW - timedelta(hours=5), camera=ESSEX_A),
            StoredRead("x1", "XY99ZZZ", NOW - timedelta(hours=1), camera=KENT_A),
        ],
    )
    engine = DuckDbSearchEngine(pafs.LocalFileSystem(), str(tmp_path))
    return Hunting(
        Clock(),
        Voi(),
        InMemoryHuntStore(),
        InMemoryHuntQueue(),
        InMemoryAlertStore(),
        InMemoryAlertPublisher(),
        Trail(),
        engine,
    )


def test_the_api_half_queues_the_hunt_and_returns_before_any_search(hunting: Hunting) -> None:
    entry = hunting.add()
    hunt = hunting.requests().start(entry, ASK, requested_by=KENT_MANAGER)
    assert hunt.status is HuntStatus.QUEUED
    assert hunting.queue.messages == [HuntMessage(entry.voi_id, hunt.hunt_id)]
    assert hunting.hunts.latest(entry.voi_id) == hunt
    assert hunting.raised() == []


def test_reads_of_the_window_from_circulated_leas_raise_retro_alerts(hunting: Hunting) -> None:
    entry = hunting.add()
    hunt = hunting.hunt(entry)
    assert (hunt.status, hunt.reads_found, hunt.alerts_raised) == (HuntStatus.SUCCEEDED, 3, 2)
    # k3 is three days old (a two-day hunt); e1 is Essex's read of a Kent-only entry (R-CIRC).
    assert sorted(a.read_id for a in hunting.raised()) == ["k1", "k2"]
    assert all(a.retro and a.voi_id == entry.voi_id for a in hunting.raised())
    assert set(hunting.alerts.items) == {a.alert_id for a in hunting.raised()}


def test_a_seven_day_hunt_reaches_the_older_read(hunting: Hunting) -> None:
    hunt = hunting.hunt(hunting.add(), HuntRequest(7, Purpose.CRIME, "KENT-2026-000123"))
    assert sorted(a.read_id for a in hunting.raised()) == ["k1", "k2", "k3"]
    assert hunt.window_from == NOW - timedelta(days=7)


def test_a_national_entry_alerts_on_every_leas_reads(hunting: Hunting) -> None:
    hunting.hunt(hunting.add(circulation=("NATIONAL",)))
    assert sorted(a.read_id for a in hunting.raised()) == ["e1", "k1", "k2"]


def test_a_second_hunt_over_the_same_reads_raises_nothing_new(hunting: Hunting) -> None:
    entry = hunting.add()
    hunting.hunt(entry)
    hunting.clock.now = NOW + timedelta(hours=1)
    again = hunting.hunt(entry)
    assert (again.reads_found, again.alerts_raised) == (3, 0)
    assert len(hunting.raised()) == 2
    assert len(hunting.alerts.items) == 2


def test_a_read_that_alerted_live_does_not_alert_again(hunting: Hunting) -> None:
    entry = hunting.add(created=NOW - timedelta(hours=4))
    captured = NOW - timedelta(hours=3)
    read = parse_read(StoredRead("k1", "AB12CDE", captured).payload(), now=captured).read
    live = Alert.raise_for(read, entry, captured + timedelta(seconds=1))
    assert live.alert_id == alert_id_for(KENT_A.camera_id, "k1", entry.voi_id)
    hunting.alerts.put_new(live)
    hunting.alerts.mark_published([live.alert_id])
    hunt = hunting.hunt(entry)
    assert hunt.alerts_raised == 1
    assert [a.read_id for a in hunting.raised()] == ["k2"]


def test_a_redelivered_message_changes_nothing_once_the_hunt_finished(hunting: Hunting) -> None:
    entry = hunting.add()
    hunt = hunting.hunt(entry)
    again = hunting.run(hunting.queue.messages[-1])
    assert again == hunt
    assert len(hunting.raised()) == 2
    assert len(hunting.trail.events) == 1


def test_the_system_search_is_audited_under_the_managers_case(hunting: Hunting) -> None:
    entry = hunting.add()
    hunt = hunting.hunt(entry)
    [event] = hunting.trail.events
    assert (event["user"], event["method"], event["lea"]) == ("job:retro-hunt", "JOB", "KENT")
    assert (event["purpose"], event["case_ref"], event["result_count"]) == ("crime", "KENT-2026-000123", 3)
    assert entry.voi_id in event["reason"]
    arguments = json.loads(event["parameters"])["arguments"]
    assert arguments | {"requested_at": None} == arguments | {
        "requested_at": None,
        "requested_by": "vm.kent",
        "voi_id": entry.voi_id,
        "vrm": "AB12CDE",
        "days": 2,
        "alerts_raised": 2,
        "hunt_id": hunt.hunt_id,
    }


def test_an_entry_deleted_before_its_hunt_ran_raises_nothing(hunting: Hunting) -> None:
    entry = hunting.add()
    hunting.requests().start(entry, ASK, requested_by=KENT_MANAGER)
    hunting.voi.entries.clear()
    hunt = hunting.run(hunting.queue.messages[-1])
    assert (hunt.status, hunt.alerts_raised) == (HuntStatus.FAILED, 0)
    assert hunting.raised() == []


def test_a_search_still_running_is_left_for_the_next_delivery_which_resumes_it(hunting: Hunting) -> None:
    hunting.engine = SlowEngine(polls=3)
    entry = hunting.add()
    hunting.requests().start(entry, ASK, requested_by=KENT_MANAGER)
    message = hunting.queue.messages[-1]
    with pytest.raises(HuntPending):
        hunting.runner(wait_s=0).run(message)
    running = hunting.hunts.get(entry.voi_id, message.hunt_id)
    assert running is not None
    assert running.status is HuntStatus.RUNNING
    done = hunting.run(message, wait_s=10)
    assert done.status is HuntStatus.SUCCEEDED
    assert hunting.engine.started == [message.hunt_id]  # resumed, not started again


def test_a_failed_search_fails_the_hunt_and_is_audited(hunting: Hunting) -> None:
    hunting.engine = SlowEngine(polls=0, fails=True)
    hunt = hunting.hunt(hunting.add())
    assert (hunt.status, hunt.failure) == (HuntStatus.FAILED, "the search failed")
    assert hunting.trail.events[0]["status"] == 502


class Unpublishable(InMemoryAlertPublisher):
    def publish(self, alerts: Any) -> set[str]:
        return {a.alert_id for a in alerts}


def test_alerts_that_could_not_be_published_are_published_by_the_repeat(hunting: Hunting) -> None:
    entry = hunting.add()
    hunting.requests().start(entry, ASK, requested_by=KENT_MANAGER)
    message = hunting.queue.messages[-1]
    published = hunting.publisher
    hunting.publisher = Unpublishable()
    with pytest.raises(StoreError):
        hunting.runner().run(message)
    hunting.publisher = published
    hunt = hunting.run(message)
    assert sorted(a.read_id for a in hunting.raised()) == ["k1", "k2"]
    assert hunt.status is HuntStatus.SUCCEEDED


class FullQueue(InMemoryHuntQueue):
    def send(self, message: HuntMessage) -> None:
        raise StoreError("sqs SendMessage retro-hunts: ServiceUnavailable")


def test_a_hunt_that_could_not_be_queued_is_recorded_failed(hunting: Hunting) -> None:
    entry = hunting.add()
    hunting.queue = FullQueue()
    with pytest.raises(StoreError):
        hunting.requests().start(entry, ASK, requested_by=KENT_MANAGER)
    hunt = hunting.hunts.latest(entry.voi_id)
    assert hunt is not None
    assert (hunt.status, hunt.failure) == (HuntStatus.FAILED, "could not be queued")


def test_a_hunt_forgotten_with_its_deleted_entry_stops_quietly(hunting: Hunting) -> None:
    entry = hunting.add()
    hunting.hunt(entry)
    hunting.requests().start(entry, ASK, requested_by=KENT_MANAGER)
    assert hunting.requests().forget(entry.voi_id) == 2
    assert hunting.hunts.latest(entry.voi_id) is None
    assert hunting.runner().run(hunting.queue.messages[-1]) is None
    assert len(hunting.trail.events) == 1  # the first hunt's search only


def test_the_white_list_holds_back_a_bulk_entrys_hunt_but_not_a_pnc_entrys(hunting: Hunting) -> None:
    hunting.voi.white.add("AB12CDE")
    pnc = hunting.add(source="pnc")
    assert hunting.hunt(pnc).alerts_raised == 2
    dvla = pnc.model_copy(update={"voi_id": "v-dvla", "source": VoiSource.DVLA})
    hunting.voi.entries.append(dvla)
    hunt = hunting.hunt(dvla)
    assert (hunt.reads_found, hunt.alerts_raised) == (3, 0)
    assert {a.voi_id for a in hunting.raised()} == {pnc.voi_id}
