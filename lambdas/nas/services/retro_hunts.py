"""Retro-hunts (issue 10, item 5; R-VOI, R-REASON, R-AUDIT, R-CIRC, R-WHITE, R-DUP): a manager who
adds or revises a single entry may ask for the stored reads of its VRM over the last 1-7 days to be
searched, and for alerts to be raised for the reads the entry would have hit.

Two halves, so the API never waits on a search (Athena takes seconds; the API has 29):
- `RetroHuntRequests` (in the API, behind `VoiService`'s `RetroHunt` seam) checks the request,
  writes the hunt `queued` and puts it on the retro-hunt queue;
- `RetroHuntRunner` (the retro-hunt function, fed by that queue; local mode polls the same queue)
  starts the search on the engine as a system search, waits for it, reads its rows, raises and
  publishes the alerts the match rules give, records the search in the audit trail under the
  manager's purpose and case, and marks the hunt finished with what it found.

A run is safe to repeat (a redelivered message, a retry after a fault): a finished hunt is left as
it is; the engine's execution is kept on the hunt, so a repeat waits on the same query (Athena's
`ClientRequestToken` is the hunt id as well); and an alert's id is the live alert's, so a read never
alerts twice on one entry (R-DUP), whether live, by this hunt or by another.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Protocol

from nas.adapters import StoreError
from nas.adapters.alerts import AlertStore, AlertWrite
from nas.adapters.audit import AuditTrail
from nas.adapters.events import AlertPublisher
from nas.adapters.retro_hunts import HuntMessage, HuntQueue, HuntStore
from nas.adapters.search import EngineState, SearchEngine
from nas.adapters.voi_match import VrmListing
from nas.domain.models import Alert, VoiEntry
from nas.domain.retro_hunt import (
    ROW_LIMIT,
    HuntRequest,
    HuntStatus,
    RetroHunt,
    new_hunt,
    require_request,
    retro_alerts,
)
from nas.domain.roles import Principal
from nas.domain.search import FETCH_LIMIT, ReadHit, SearchType, VrmCriteria, plan_search
from nas.domain.timefmt import iso_utc
from nas.domain.voi import VoiRecord
from nas.observability import logger
from nas.services.activity import JOB_METHOD, job_user

JOB = "retro-hunt"
AUDIT_ROUTE = f"/jobs/{JOB}/search"
WAIT_S = 240.0
"""How long one run waits on its query before leaving it to the next delivery of its message."""
POLL_S = 1.0


def new_hunt_id(now: datetime) -> str:
    """Sortable by request time (an entry's latest hunt is its greatest id), unique by its tail."""
    return f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:12]}"


class HuntPending(Exception):
    """The hunt's query was still running when this run stopped waiting: deliver the message again."""


class RetroHuntRequests:
    """The API's half: `VoiService` calls `start` after an entry is written, `latest` to show it."""

    def __init__(
        self,
        hunts: HuntStore,
        queue: HuntQueue,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[datetime], str] = new_hunt_id,
    ) -> None:
        self._hunts = hunts
        self._queue = queue
        self._clock = clock
        self._new_id = new_id

    def check(self, request: HuntRequest) -> None:
        """Refuses a bad request (400 naming the field) before anything is written."""
        require_request(request)

    def start(self, entry: VoiEntry, request: HuntRequest, *, requested_by: Principal) -> RetroHunt:
        now = self._clock()
        hunt = new_hunt(
            entry,
            request,
            hunt_id=self._new_id(now),
            requested_by=requested_by.user,
            requested_by_lea=requested_by.lea,
            now=now,
        )
        self._hunts.create(hunt)
        try:
            self._queue.send(HuntMessage(hunt.voi_id, hunt.hunt_id))
        except StoreError:
            # The entry is written; its hunt says plainly that it never ran, and the caller is told.
            self._hunts.progress(
                hunt.model_copy(
                    update={"status": HuntStatus.FAILED, "failure": "could not be queued", "finished_at": now}
                )
            )
            raise
        return hunt

    def latest(self, voi_id: str) -> RetroHunt | None:
        return self._hunts.latest(voi_id)

    def forget(self, voi_id: str) -> int:
        """R-VOI-DEL: a deleted entry's hunts go with it (a run still under way then stops)."""
        return self._hunts.forget(voi_id)


class HuntVoi(Protocol):
    """What a run reads of the voi table: the VRM's single entries (consistently: a hunt runs at
    once after its entry is written) and its listing (for the white list)."""

    def records_of(self, vrm: str) -> list[VoiRecord]: ...

    def listings(self, vrms: Collection[str]) -> dict[str, VrmListing]: ...


class RetroHuntRunner:
    def __init__(
        self,
        *,
        hunts: HuntStore,
        voi: HuntVoi,
        engine: SearchEngine,
        alerts: AlertStore,
        publisher: AlertPublisher,
        audit: AuditTrail,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wait_s: float = WAIT_S,
    ) -> None:
        self._hunts = hunts
        self._voi = voi
        self._engine = engine
        self._alerts = alerts
        self._publisher = publisher
        self._audit = audit
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._wait_s = wait_s

    def run(self, message: HuntMessage) -> RetroHunt | None:
        """Runs the hunt to its end; raises HuntPending while its query runs on, StoreError when a
        store failed (the message is delivered again, and the run repeats safely). None when the
        hunt is gone: its entry was deleted (R-VOI-DEL) or has expired."""
        hunt = self._hunts.get(message.voi_id, message.hunt_id)
        if hunt is None:
            logger.info("retro-hunt gone with its entry", extra={"hunt_id": message.hunt_id})
            return None
        if hunt.finished:
            return hunt
        if hunt.execution_id is None:
            plan = plan_search(
                VrmCriteria(hunt.vrm),
                window_from=hunt.window_from,
                window_to=hunt.window_to,
                now=self._clock(),
            )
            execution_id = self._engine.start(plan, search_id=hunt.hunt_id) if not plan.empty else ""
            running = self._hunts.progress(
                hunt.model_copy(update={"status": HuntStatus.RUNNING, "execution_id": execution_id})
            )
            if running is None or running.finished:
                return running
            hunt = running
        hits = self._rows(hunt)
        if hits is None:
            return self._finish(hunt, status=HuntStatus.FAILED, failure="the search failed")
        entry = next((r.entry for r in self._voi.records_of(hunt.vrm) if r.entry.voi_id == hunt.voi_id), None)
        listing = self._voi.listings([hunt.vrm]).get(hunt.vrm)
        now = self._clock()
        kept = hits[:ROW_LIMIT]
        alerts = retro_alerts(kept, entry, white_listed=listing.white_listed if listing else False, now=now)
        raised = self._raise(alerts)
        live = entry is not None and entry.is_live(now)
        return self._finish(
            hunt,
            status=HuntStatus.SUCCEEDED if live else HuntStatus.FAILED,
            reads=len(kept),
            raised=raised,
            truncated=len(hits) > ROW_LIMIT,
            failure=None if live else "the entry was deleted or expired before its hunt ran (R-VOI-DEL)",
        )

    def _rows(self, hunt: RetroHunt) -> list[ReadHit] | None:
        """The query's rows once it has succeeded; None when it failed."""
        if not hunt.execution_id:
            return []  # the window lies wholly beyond retention: nothing to search
        deadline = self._monotonic() + self._wait_s
        while True:
            status = self._engine.status(hunt.execution_id)
            if status.state is EngineState.FAILED:
                logger.warning(
                    "retro-hunt search failed", extra={"hunt_id": hunt.hunt_id, "reason": status.reason}
                )
                return None
            if status.state is EngineState.SUCCEEDED:
                break
            if self._monotonic() >= deadline:
                raise HuntPending(hunt.hunt_id)
            self._sleep(POLL_S)
        hits: list[ReadHit] = []
        token: str | None = None
        while len(hits) < FETCH_LIMIT:
            page = self._engine.page(hunt.execution_id, SearchType.VRM, token)
            hits += [h for h in page.hits if isinstance(h, ReadHit)]
            token = page.next_token
            if token is None:
                break
        return hits

    def _raise(self, alerts: list[Alert]) -> int:
        """Each alert stored once (R-DUP) and published as live alerts are; returns how many are new.
        A store or publish failure raises, so the message comes back and the rest are raised then."""
        to_publish: list[Alert] = []
        new = 0
        for alert in alerts:
            put = self._alerts.put_new(alert)
            if put.write is AlertWrite.NEW:
                new += 1
            if put.write is not AlertWrite.DUPLICATE:
                to_publish.append(put.alert)
        failed = self._publisher.publish(to_publish)
        if failed:
            raise StoreError(f"{len(failed)} retro alert(s) could not be published")
        self._alerts.mark_published([a.alert_id for a in to_publish])  # the sweeper covers a failed mark
        return new

    def _finish(
        self,
        hunt: RetroHunt,
        *,
        status: HuntStatus,
        reads: int | None = None,
        raised: int | None = None,
        truncated: bool | None = None,
        failure: str | None = None,
    ) -> RetroHunt | None:
        """Audits the system search first (a repeat may audit twice, never not at all), then records
        the hunt's end; the first end recorded stands."""
        now = self._clock()
        self._audit.append(self._audit_event(hunt, status, reads, raised, now), now)
        done = hunt.model_copy(
            update={
                "status": status,
                "reads_found": reads,
                "alerts_raised": raised,
                "truncated": truncated,
                "failure": failure,
                "finished_at": now,
            }
        )
        logger.info(
            "retro-hunt finished",
            extra={"hunt_id": hunt.hunt_id, "status": status.value, "reads": reads, "alerts": raised},
        )
        return self._hunts.progress(done)

    @staticmethod
    def _audit_event(
        hunt: RetroHunt, status: HuntStatus, reads: int | None, raised: int | None, now: datetime
    ) -> dict[str, Any]:
        """R-AUDIT: the system search as the trail records a search, under the requesting manager's
        LEA, purpose, reason and case; who asked, for which entry, over which days, with what found."""
        arguments = {
            "type": SearchType.VRM.value,
            "vrm": hunt.vrm,
            "voi_id": hunt.voi_id,
            "hunt_id": hunt.hunt_id,
            "days": hunt.days,
            "from": iso_utc(hunt.window_from),
            "to": iso_utc(hunt.window_to),
            "requested_by": hunt.requested_by,
            "requested_at": iso_utc(hunt.requested_at),
            "status": status.value,
            "alerts_raised": raised,
        }
        return {
            "at": iso_utc(now),
            "user": job_user(JOB),
            "groups": [],
            "lea": hunt.requested_by_lea,
            "method": JOB_METHOD,
            "route": AUDIT_ROUTE,
            "parameters": json.dumps(
                {"arguments": arguments}, sort_keys=True, separators=(",", ":"), ensure_ascii=True
            ),
            "purpose": hunt.purpose.value,
            "reason": hunt.reason,
            "case_ref": hunt.case_ref,
            "status": 200 if status is HuntStatus.SUCCEEDED else 502,
            "result_count": reads,
            "request_id": hunt.hunt_id,
            "source_ip": None,
        }
