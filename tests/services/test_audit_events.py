"""R-AUDIT `GET /audit` listing: a day's chains merged newest first, pages that add up to every event
once whatever the page size, index queries for a user, and page tokens checked on the way in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from nas.adapters.audit import AuditQuery
from nas.domain import audit
from nas.domain.timefmt import iso_utc
from nas.services.audit import InvalidCursor, list_events
from tests.services.conftest import NOON, TODAY, AuditAccount, event

WINDOW = AuditQuery(start=iso_utc(NOON - timedelta(days=2)), end=iso_utc(NOON + timedelta(hours=1)))


def fill(account: AuditAccount) -> list[str]:
    """Events on two days across several chains, a second apart; their ids, newest first."""
    appended = []
    for n in range(13):
        moment = NOON - timedelta(days=1 if n < 5 else 0) + timedelta(seconds=n)
        trail = account.trail(chain=(n * 3) % 8)
        appended.append(trail.append(event(moment, user=f"user-{n % 3}"), moment))
    return [r.event_id for r in sorted(appended, key=lambda r: r.at, reverse=True)]


def every_page(account: AuditAccount, query: AuditQuery, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: dict[str, Any] | None = None
    while True:
        page = list_events(account.trail(), query, limit, cursor)
        pages.append([r.event_id for r in page.records])
        cursor = page.cursor
        if cursor is None:
            return pages
        assert len(pages) < 50


@pytest.mark.parametrize("limit", [1, 3, 5, 13, 100])
def test_pages_over_days_and_chains_return_every_event_once_newest_first(
    account: AuditAccount, limit: int
) -> None:
    expected = fill(account)
    pages = every_page(account, WINDOW, limit)
    assert [e for page in pages for e in page] == expected
    assert all(len(page) == limit for page in pages[:-1])


def test_filters_apply_to_every_chain(account: AuditAccount) -> None:
    fill(account)
    moment = NOON + timedelta(minutes=1)
    account.trail(chain=6).append(event(moment, method="POST", route="/alerts/{alert_id}/outcome"), moment)
    query = AuditQuery(start=WINDOW.start, end=WINDOW.end, method="POST")
    assert [len(p) for p in every_page(account, query, 2)] == [1]


def test_index_pages_return_one_users_events_once(account: AuditAccount) -> None:
    expected = fill(account)
    query = AuditQuery(start=WINDOW.start, end=WINDOW.end, user="user-1")
    found = [e for page in every_page(account, query, 2) for e in page]
    assert sorted(found) == sorted(e for n, e in enumerate(reversed(expected)) if n % 3 == 1)
    assert len(found) == len(set(found)) == 4


@pytest.mark.parametrize(
    "cursor",
    [
        {"day": "2001-01-01", "below": [None] * 8},
        {"day": TODAY, "below": [None] * 7},
        {"day": TODAY, "below": [10**40] + [None] * 7},
        {"day": TODAY, "below": [0] + [None] * 7},
        {"day": TODAY, "below": [True] + [None] * 7},
        {"day": TODAY, "below": "all"},
        {"day": TODAY},
        {"by": "user", "key": "user-1", "at": WINDOW.start, "chain": f"{TODAY}/0", "seq": 1},
    ],
)
def test_a_chain_page_token_not_of_this_query_is_refused(
    account: AuditAccount, cursor: dict[str, Any]
) -> None:
    with pytest.raises(InvalidCursor):
        list_events(account.trail(), WINDOW, 5, cursor)


@pytest.mark.parametrize(
    "cursor",
    [
        {"by": "user", "key": "user-2", "at": WINDOW.start, "chain": f"{TODAY}/0", "seq": 1},
        {"by": "lea", "key": "user-1", "at": WINDOW.start, "chain": f"{TODAY}/0", "seq": 1},
        {"by": "user", "key": "user-1", "at": "1999-01-01T00:00:00.000000Z", "chain": f"{TODAY}/0", "seq": 1},
        {"by": "user", "key": "user-1", "at": WINDOW.start, "chain": f"{TODAY}/8", "seq": 1},
        {"by": "user", "key": "user-1", "at": WINDOW.start, "chain": "elsewhere", "seq": 1},
        {"by": "user", "key": "user-1", "at": WINDOW.start, "chain": f"{TODAY}/0", "seq": audit.MAX_SEQ},
        {"day": TODAY, "below": [None] * 8},
    ],
)
def test_an_index_page_token_not_of_this_query_is_refused(
    account: AuditAccount, cursor: dict[str, Any]
) -> None:
    query = AuditQuery(start=WINDOW.start, end=WINDOW.end, user="user-1")
    with pytest.raises(InvalidCursor):
        list_events(account.trail(), query, 5, cursor)
