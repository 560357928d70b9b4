"""VOI management (R-VOI, R-VOI-28, R-VOI-56, R-VOI-DEL, R-CIRC, R-WHITE): single entries through
the API, what a VRM is listed as, reviews due, and the background work that keeps expiry without a
trace (the TTL stream's rebuild, the sweep local mode runs on a timer) and reminds owners of reviews.

Single entries are written with their match item in one transaction (`DynamoVoiStore`); bulk entries
are read from their list's active generation and change only by import (`VoiImportService`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from nas.adapters.voi import EntryChanged, ReviewPosition
from nas.domain import policy
from nas.domain import voi as rules
from nas.domain.errors import Conflict, InvalidInput, NotFound
from nas.domain.leas import NATIONAL, lea_codes
from nas.domain.models import VoiEntry
from nas.domain.retro_hunt import HuntRequest, RetroHunt
from nas.domain.roles import Principal, Role
from nas.domain.timefmt import iso_utc
from nas.domain.voi import ReviewReminder, VoiChanges, VoiDraft, VoiRecord
from nas.domain.voi_lists import ListGeneration, ListSource, ListState, PackedRow, parse_voi_id
from nas.domain.voi_packing import find_row, vrm_hash
from nas.domain.vrm import normalise_vrm
from nas.observability import logger

WRITE_ATTEMPTS = 3
MAX_REVIEW_HORIZON = policy.VOI_REVIEW_AFTER
"""`due_before` reaches at most 28 days ahead: every live entry is due by then."""
REMINDER_IDS = 100
"""An owner's reminder names at most this many overdue entries; the count covers them all."""


class VoiNotFound(NotFound):
    """No such entry, an expired one, or one the caller may not see (never told apart)."""


class EntryStore(Protocol):
    def record(self, voi_id: str) -> VoiRecord | None: ...

    def records_of(self, vrm: str) -> list[VoiRecord]: ...

    def create(self, record: VoiRecord, *, now: datetime) -> None: ...

    def replace(self, record: VoiRecord, *, expected_version: int, now: datetime) -> None: ...

    def delete(self, record: VoiRecord, *, now: datetime) -> None: ...

    def settle(self, vrm: str, *, now: datetime) -> None: ...

    def due(
        self, owner_lea: str, *, after: datetime, before: datetime, limit: int, start: ReviewPosition | None
    ) -> tuple[list[VoiRecord], ReviewPosition | None]: ...

    def expired(self, owner_lea: str, *, now: datetime) -> list[VoiRecord]: ...


class ListReader(Protocol):
    def state(self) -> ListState: ...

    def buckets(self, import_id: str, buckets: Sequence[int]) -> dict[int, bytes]: ...

    def deactivate(self, generation: ListGeneration) -> bool: ...

    def delete_generation(self, generation: ListGeneration) -> int: ...


class ReminderPublisher(Protocol):
    def publish(self, reminders: Sequence[ReviewReminder]) -> None: ...


class RetroHunts(Protocol):
    """Retro-hunts of new or revised entries (issue 10, item 5: `services.retro_hunts`): `check`
    refuses a bad request before the entry is written; `start` queues the hunt (the API never waits
    on a search); `latest` is what GET /voi/{voi_id} shows. Wired without one, `VoiService` refuses
    `retro_hunt_days` above 0."""

    def check(self, request: HuntRequest) -> None: ...

    def start(self, entry: VoiEntry, request: HuntRequest, *, requested_by: Principal) -> RetroHunt: ...

    def latest(self, voi_id: str) -> RetroHunt | None: ...

    def forget(self, voi_id: str) -> int: ...


@dataclass(frozen=True, slots=True)
class VrmView:
    """GET /voi?vrm=: the entries the caller may see and, for managers, the white-list flag."""

    entries: list[VoiRecord]
    white_listed: bool | None


@dataclass(frozen=True, slots=True)
class ReviewPage:
    entries: list[VoiRecord]
    lists: list[ListGeneration]
    next_position: ReviewPosition | None
    as_of: datetime
    """The service's time of the listing: entries due by then are overdue."""


@dataclass(slots=True)
class SweepResult:
    entries_removed: int = 0
    lists_removed: list[str] = field(default_factory=list)


def _new_voi_id() -> str:
    return f"v-{uuid.uuid4().hex}"


def owners() -> list[str]:
    """Every LEA that may own entries: the approved organisations and NATIONAL."""
    return [*sorted(lea_codes()), NATIONAL]


class VoiService:
    def __init__(
        self,
        entries: EntryStore,
        lists: ListReader,
        *,
        clock: Callable[[], datetime],
        reminders: ReminderPublisher | None = None,
        retro_hunts: RetroHunts | None = None,
        new_id: Callable[[], str] = _new_voi_id,
    ) -> None:
        self._entries = entries
        self._lists = lists
        self._clock = clock
        self._reminders = reminders
        self._retro_hunts = retro_hunts
        self._new_id = new_id

    def create(
        self, principal: Principal, draft: VoiDraft, *, retro_hunt: HuntRequest | None = None
    ) -> VoiRecord:
        """POST /voi: a new single entry owned by the manager's LEA (NATIONAL managers may name
        the owner); matching sees it within the match path's state refresh. With a retro-hunt, the
        hunt is queued once the entry is written and returned with it."""
        self._check_retro_hunt(retro_hunt)
        now = self._clock()
        record = VoiRecord(entry=rules.new_entry(draft, voi_id=self._new_id(), principal=principal, now=now))
        self._entries.create(record, now=now)
        return self._after_change(record, principal, retro_hunt)

    def get(self, principal: Principal, voi_id: str) -> VoiRecord:
        """GET /voi/{voi_id}: a live entry the caller may see (R-CIRC), with its revisions."""
        listed = parse_voi_id(voi_id)
        if listed is not None:
            source, vrm = listed
            for entry in self._list_entries(vrm, sources=(source,)):
                if entry.voi_id == voi_id and rules.entry_visible_to(principal.lea, entry):
                    return VoiRecord(entry=entry)
            raise VoiNotFound(voi_id)
        record = self._entries.record(voi_id)
        if record is None or not self._shown(principal, record.entry):
            raise VoiNotFound(voi_id)
        if self._retro_hunts is not None:
            record = record.model_copy(update={"retro_hunt": self._retro_hunts.latest(voi_id)})
        return record

    def by_vrm(self, principal: Principal, vrm: str) -> VrmView:
        """GET /voi?vrm=: the VRM's live single and list entries the caller may see, and (to
        managers) whether the white list holds it."""
        try:
            normalised = normalise_vrm(vrm)
        except ValueError as exc:
            raise InvalidInput("vrm", str(exc)) from None
        singles = [r for r in self._entries.records_of(normalised) if self._shown(principal, r.entry)]
        state = self._lists.state()
        listed = [
            VoiRecord(entry=e)
            for e in self._list_entries(normalised, sources=tuple(ListSource), state=state)
            if rules.entry_visible_to(principal.lea, e)
        ]
        white: bool | None = None
        if principal.has_any({Role.VOI_MANAGER}):
            white = self._list_row(normalised, ListSource.WHITELIST, state) is not None
        records = sorted([*singles, *listed], key=lambda r: (r.entry.source.value, r.entry.voi_id))
        return VrmView(entries=records, white_listed=white)

    def revise(
        self, principal: Principal, voi_id: str, changes: VoiChanges, *, retro_hunt: HuntRequest | None = None
    ) -> VoiRecord:
        """PUT /voi/{voi_id}: replaces the changeable fields and restarts the 28/56-day clocks; the
        history keeps who changed what and when. A revision with no change is a review. With a
        retro-hunt, the hunt is queued once the revision is written and returned with it."""
        self._check_retro_hunt(retro_hunt)
        for _ in range(WRITE_ATTEMPTS):
            record = self._changeable(principal, voi_id)
            now = self._clock()
            if not record.entry.is_live(now):
                raise VoiNotFound(voi_id)
            updated = rules.revised(record, changes, user=principal.user, now=now)
            try:
                self._entries.replace(updated, expected_version=record.version, now=now)
            except EntryChanged:
                continue
            return self._after_change(updated, principal, retro_hunt)
        raise Conflict("the entry was being changed by someone else at the same time; try again")

    def delete(self, principal: Principal, voi_id: str) -> VoiRecord:
        """DELETE /voi/{voi_id} (R-VOI-DEL): the entry and its copy in the match item go in one
        transaction, so the next read of the VRM no longer matches it."""
        for _ in range(WRITE_ATTEMPTS):
            record = self._changeable(principal, voi_id)
            try:
                self._entries.delete(record, now=self._clock())
            except EntryChanged:
                continue
            if self._retro_hunts is not None:
                self._retro_hunts.forget(voi_id)  # after the entry: a failure leaves no entry hunted
            return record
        raise Conflict("the entry was being changed by someone else at the same time; try again")

    def _changeable(self, principal: Principal, voi_id: str) -> VoiRecord:
        if parse_voi_id(voi_id) is not None:
            self.get(principal, voi_id)  # 404 first, for what the caller may not see
            raise Conflict("entries of a bulk list change only by importing the list again")
        record = self.get(principal, voi_id)
        rules.require_may_change(principal, record.entry)
        return record

    def _shown(self, principal: Principal, entry: VoiEntry) -> bool:
        """Expired entries are never shown (R-VOI-56: TTL deletes lazily)."""
        return entry.is_live(self._clock()) and rules.entry_visible_to(principal.lea, entry)

    def _check_retro_hunt(self, request: HuntRequest | None) -> None:
        if request is None or not request.days:
            return
        if self._retro_hunts is None:
            raise InvalidInput("retro_hunt_days", "retro-hunts are not available here")
        self._retro_hunts.check(request)

    def _after_change(
        self, record: VoiRecord, principal: Principal, request: HuntRequest | None
    ) -> VoiRecord:
        if request is None or not request.days or self._retro_hunts is None:
            return record
        hunt = self._retro_hunts.start(record.entry, request, requested_by=principal)
        return record.model_copy(update={"retro_hunt": hunt})

    def _list_row(self, vrm: str, source: ListSource, state: ListState | None = None) -> PackedRow | None:
        generation = (state or self._lists.state()).live(self._clock()).get(source)
        if generation is None:
            return None
        bucket = generation.bucket_of(vrm_hash(vrm))
        raw = self._lists.buckets(generation.import_id, [bucket]).get(bucket)
        return find_row(raw, vrm) if raw else None

    def _list_entries(
        self, vrm: str, *, sources: Iterable[ListSource], state: ListState | None = None
    ) -> list[VoiEntry]:
        state = state or self._lists.state()
        live = state.live(self._clock())
        entries = []
        for source in sources:
            if source is ListSource.WHITELIST or source not in live:
                continue
            row = self._list_row(vrm, source, state)
            if row is None:
                continue
            try:
                entries.append(live[source].entry(row))
            except ValueError as exc:  # a stored row that no longer validates is left out, loudly
                logger.error("invalid list row", extra={"source": source, "error": str(exc)})
        return entries

    def reviews(
        self, principal: Principal, *, due_before: datetime | None, limit: int, start: ReviewPosition | None
    ) -> ReviewPage:
        """GET /voi/reviews: the caller's LEA's live entries whose review is due before `due_before`
        (default now), overdue first; on the first page, its lists due too."""
        now = self._clock()
        before = due_before or now
        if before > now + MAX_REVIEW_HORIZON:
            raise InvalidInput("due_before", "may reach at most 28 days ahead")
        # Live entries only: an entry expires 28 days after its review fell due.
        after = now - policy.VOI_EXPIRE_AFTER + policy.VOI_REVIEW_AFTER + timedelta(microseconds=1)
        if start is not None and not iso_utc(after) <= start.review_due_at <= iso_utc(before):
            raise InvalidInput("page_token", "does not belong to this listing")
        records, position = self._entries.due(
            principal.lea, after=after, before=before, limit=limit, start=start
        )
        lists = []
        if start is None:
            lists = [
                g
                for g in self._lists.state().live(now).values()
                if g.owner_lea == principal.lea and g.review_due_at < before
            ]
        return ReviewPage(
            entries=records,
            lists=sorted(lists, key=lambda g: g.review_due_at),
            next_position=position,
            as_of=now,
        )

    def remind(self) -> list[ReviewReminder]:
        """The daily job: each owner LEA with overdue reviews gets one `nas.voi.review-due.v1` event
        (count, the first REMINDER_IDS ids, overdue lists)."""
        now = self._clock()
        after = now - policy.VOI_EXPIRE_AFTER + policy.VOI_REVIEW_AFTER + timedelta(microseconds=1)
        live = self._lists.state().live(now).values()
        reminders = []
        for owner in owners():
            ids: list[str] = []
            position: ReviewPosition | None = None
            overdue = 0
            while True:
                records, position = self._entries.due(
                    owner, after=after, before=now, limit=100, start=position
                )
                overdue += len(records)
                ids += [r.entry.voi_id for r in records][: REMINDER_IDS - len(ids)]
                if position is None:
                    break
            lists = tuple(g for g in live if g.owner_lea == owner and g.review_due_at <= now)
            if overdue or lists:
                reminders.append(ReviewReminder(owner, overdue, tuple(ids), lists, now))
        if reminders and self._reminders is not None:
            self._reminders.publish(reminders)
        return reminders

    def settle_expired(self, vrms: Iterable[str]) -> int:
        """After DynamoDB TTL removed entries of these VRMs (the voi table's stream, filtered to TTL
        removals): each match item is rebuilt from the entries still there, so no copy of an expired
        entry remains to be matched or read."""
        now = self._clock()
        settled = 0
        for vrm in sorted(set(vrms)):
            self._entries.settle(vrm, now=now)
            settled += 1
        return settled

    def sweep(self) -> SweepResult:
        """Deletes what has expired and TTL has not removed yet (local mode, where nothing expires by
        itself, on a timer; in AWS daily, behind TTL): expired single entries, each with its match
        item in one transaction, and lists past 56 days, pointer first, then their items."""
        now = self._clock()
        result = SweepResult()
        for owner in owners():
            for record in self._entries.expired(owner, now=now):
                try:
                    self._entries.delete(record, now=now)
                    result.entries_removed += 1
                except EntryChanged:
                    pass  # revised meanwhile: live again
        for generation in self._lists.state().active.values():
            if not generation.is_live(now) and self._lists.deactivate(generation):
                self._lists.delete_generation(generation)
                result.lists_removed.append(generation.source.value)
        if result.entries_removed or result.lists_removed:
            logger.info(
                "expired VOI removed",
                extra={"entries": result.entries_removed, "lists": result.lists_removed},
            )
        return result
