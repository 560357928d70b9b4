"""One text form for stored instants: UTC, microseconds, `Z`. Fixed width, so strings sort in time
order (DynamoDB sort keys such as `raised_at`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_millis(moment: datetime) -> int:
    """Whole milliseconds since the epoch, floored; integer arithmetic, so no float rounding."""
    if moment.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return (moment - _EPOCH) // _MILLISECOND


def utc_date(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()
