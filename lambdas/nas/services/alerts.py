"""Alerts for operators (R-ALERT, R-CIRC, R-HIT): which indexes a listing reads and how their pages
merge, and how an outcome is recorded against concurrent changes. Every alert shown carries its read's
current correction (R-CORRECT): one BatchGetItem of the corrections table per page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from nas.adapters.alerts import AlertIndex, AlertReader, OutcomeConflict, day_shard_keys
from nas.adapters.corrections import CorrectionStore
from nas.domain import alerts as rules
from nas.domain.alerts import AlertPage, AlertRecord, CorrectedAlert, Cursor, alert_read_key
from nas.domain.errors import Conflict, InvalidInput, NotFound
from nas.domain.leas import NATIONAL
from nas.domain.models import Outcome
from nas.domain.roles import Principal
from nas.domain.timefmt import iso_utc, utc_date

DEFAULT_SINCE = timedelta(hours=24)
MAX_SINCE = timedelta(days=31)
LISTING_HORIZON = timedelta(days=1)
"""How far past `now` a listing (and a page cursor) may reach: alerts are raised at the service's
clock, so nothing newer than this exists; it also bounds the day keys a NATIONAL listing reads."""
OUTCOME_ATTEMPTS = 5


class AlertNotFound(NotFound):
    """No such alert, or not one the caller may see (the two are not told apart)."""


@dataclass(frozen=True, slots=True)
class AlertListing:
    """A validated GET /alerts request: the window and where the previous page stopped."""

    since: datetime
    until: datetime
    limit: int
    cursor: Cursor | None


def days_between(first: datetime, last: datetime) -> list[str]:
    """UTC day keys from `last` back to `first` (newest first)."""
    day, days = last, []
    while utc_date(day) >= utc_date(first):
        days.append(utc_date(day))
        day -= timedelta(days=1)
    return days


class AlertService:
    def __init__(
        self, reader: AlertReader, *, corrections: CorrectionStore, clock: Callable[[], datetime]
    ) -> None:
        self._reader = reader
        self._corrections = corrections
        self._clock = clock

    def _with_corrections(self, page: AlertPage) -> AlertPage:
        found = self._corrections.current({alert_read_key(r) for r in page.records})
        return replace(page, corrections=found)

    def list_visible(
        self, principal: Principal, *, since: datetime | None, limit: int, cursor: Cursor | None
    ) -> AlertPage:
        """Newest first, the alerts `principal` may see (R-CIRC), from `since` (default 24 hours
        ago) to `cursor` (the previous page's last alert) or now."""
        return self._with_corrections(
            self._list(principal, self.listing(since=since, limit=limit, cursor=cursor))
        )

    def listing(self, *, since: datetime | None, limit: int, cursor: Cursor | None) -> AlertListing:
        """Checks the bounds of a listing at the current time: `since` at most 31 days back and not
        in the future; a cursor inside the window it continues (a forged cursor cannot make the
        listing read more day keys than a 31-day window holds)."""
        now = self._clock()
        since_at = since or now - DEFAULT_SINCE
        if since_at < now - MAX_SINCE:
            raise InvalidInput("since", "may reach back at most 31 days")
        if since_at > now:
            raise InvalidInput("since", "must not be in the future")
        until = now + LISTING_HORIZON
        if cursor is not None and not iso_utc(since_at - LISTING_HORIZON) <= cursor[0] <= iso_utc(until):
            raise InvalidInput("page_token", "does not belong to this listing's window")
        return AlertListing(since=since_at, until=until, limit=limit, cursor=cursor)

    def _list(self, principal: Principal, listing: AlertListing) -> AlertPage:
        """NATIONAL users read the by-day index day by day, each day's shards together and merged
        (no one key takes every alert of a day); LEA users merge the read-LEA and owner-LEA indexes
        of their LEA."""
        lower = iso_utc(listing.since)
        upper = listing.cursor[0] if listing.cursor else iso_utc(listing.until)
        if lower > upper:  # a cursor from before `since`: nothing between (DynamoDB refuses the range)
            return AlertPage([], None)
        streams: list[Iterator[AlertRecord]]
        if principal.lea == NATIONAL:
            days = days_between(listing.since, datetime.fromisoformat(upper))
            streams = [self._days(days, lower, upper)]
        else:
            streams = [
                self._reader.newest(AlertIndex.BY_READ_LEA, principal.lea, lower, upper),
                self._reader.newest(AlertIndex.BY_OWNER_LEA, principal.lea, lower, upper),
            ]
        merged = rules.merge_newest_first(streams, before=listing.cursor)
        return rules.visible_page(merged, principal.lea, listing.limit)

    def _days(self, days: list[str], lower: str, upper: str) -> Iterator[AlertRecord]:
        for day in days:
            shards = [
                self._reader.newest(AlertIndex.BY_RAISED_DAY_SHARD, key, lower, upper)
                for key in day_shard_keys(day)
            ]
            yield from rules.merge_newest_first(shards, before=None)

    def record_outcome(
        self, principal: Principal, alert_id: str, outcome: Outcome, note: str
    ) -> CorrectedAlert:
        """R-HIT: sets the outcome of an alert the caller may see, keeping the replaced one in its
        history; a repeated post changes nothing. Concurrent changes are retried on fresh reads."""
        for _ in range(OUTCOME_ATTEMPTS):
            record = self._reader.get(alert_id)
            if record is None or not rules.visible_to(principal.lea, record.alert):
                raise AlertNotFound(alert_id)
            change = rules.outcome_change(record, outcome, note, user=principal.user, now=self._clock())
            if change is None:
                return self._corrected(record)
            try:
                self._reader.replace_outcome(change)
            except OutcomeConflict:
                continue
            return self._corrected(change.updated)
        raise Conflict("the outcome was being changed by someone else at the same time; try again")

    def _corrected(self, record: AlertRecord) -> CorrectedAlert:
        key = alert_read_key(record)
        return CorrectedAlert(record, self._corrections.current([key]).get(key))
