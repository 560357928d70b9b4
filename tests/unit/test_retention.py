"""R-RET-367 rules: the 367-day straggler boundary, the days a key path can hold, and the retention
statement's body (no floats, so it can be signed) and keys."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from nas.domain import retention
from nas.domain.retention import StoredVersion

NOW = datetime(2024, 5, 30, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("age", "straggler"),
    [
        (366 * DAY, False),
        (367 * DAY, False),
        (367 * DAY + timedelta(seconds=1), True),
        (368 * DAY, True),
    ],
)
def test_a_version_stored_more_than_367_days_ago_is_a_straggler(age: timedelta, straggler: bool) -> None:
    assert retention.is_straggler(NOW - age, NOW) is straggler


@pytest.mark.parametrize(
    ("path", "day"),
    [
        ("2024-05-01/shardId-000/", date(2024, 5, 1)),
        ("capture_date=2023-05-29/", date(2023, 5, 29)),
        ("arrival=live/day=2023-05-29/vrm_bucket=12/", date(2023, 5, 29)),
        ("arrival=live/", None),
        ("format-conversion-failed/2023/", date(2023, 1, 1)),
        ("format-conversion-failed/2023/05/", date(2023, 5, 1)),
        ("format-conversion-failed/2023/05/29/", date(2023, 5, 29)),
        ("shardId-000000000000/", None),
        ("2023-02-30/", None),
    ],
)
def test_the_earliest_day_a_key_path_names(path: str, day: date | None) -> None:
    assert retention.earliest_day(path) == day


def test_only_partitions_up_to_a_day_after_the_bound_may_hold_older_objects() -> None:
    bound = date(2023, 5, 29)
    assert retention.may_hold_before("2023-05-29/", bound)
    assert retention.may_hold_before("2023-05-30/", bound)  # a capture clock a few minutes fast
    assert not retention.may_hold_before("2023-05-31/", bound)
    assert retention.may_hold_before("shardId-000/", bound)  # no day: must be listed


def version(key: str, age: timedelta, size: int = 10, version_id: str = "v1") -> StoredVersion:
    return StoredVersion(key, version_id, NOW - age, size, latest=True)


def test_the_statement_reports_the_oldest_held_and_what_was_deleted() -> None:
    old = version("images/2023-05-28/s/1.jpgpack", 368 * DAY, size=500)
    kept = version("images/2023-05-30/s/2.jpgpack", 366 * DAY)
    report = retention.prefix_report(
        bucket="reads", prefix="images/", holds="images", listed=[old, kept], deleted=[old], failed=[]
    )
    statement = retention.RetentionStatement(
        as_of=NOW, written_at=NOW, written_by="arn:aws:lambda:test", prefixes=(report,)
    )
    body = statement.body()
    assert body["within_retention"] is True
    assert body["oldest_age_days"] == "366.00"
    [prefix] = body["prefixes"]
    assert prefix["oldest"]["key"] == kept.key
    assert prefix["oldest"]["key_day"] == "2023-05-30"
    assert prefix["deleted"] == {
        "versions": 1,
        "bytes": 500,
        "keys": [old.key],
        "keys_omitted": 0,
        "failures": 0,
    }
    assert statement.signed_message().startswith(retention.SIGNED_MESSAGE_PREFIX)


def test_a_straggler_whose_deletion_failed_is_still_held_and_breaks_retention() -> None:
    old = version("quarantine/2023-05-28/s/1.json", 368 * DAY)
    report = retention.prefix_report(
        bucket="quarantine", prefix="quarantine/", holds="refused", listed=[old], deleted=[], failed=[old]
    )
    statement = retention.RetentionStatement(as_of=NOW, written_at=NOW, written_by="w", prefixes=(report,))
    assert statement.within_retention is False
    assert statement.oldest_age_days == 368.0
    assert statement.body()["prefixes"][0]["deleted"]["failures"] == 1


def test_statement_keys_sort_in_time_within_a_day() -> None:
    first = retention.statement_key("retention-statements/", NOW)
    later = retention.statement_key("retention-statements/", NOW + timedelta(seconds=1, microseconds=5))
    assert first == "retention-statements/2024-05-30/030000000000.json"
    assert first < later
