"""Splitting work into calls of the size a service takes, and waiting between retries: shared by the
adapters (DynamoDB, EventBridge, Firehose, Kinesis) and the tools (simulator, replay), so no layer
borrows them from another."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


def chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def backoff_delays(base_s: float = 0.05, cap_s: float = 2.0) -> Iterator[float]:
    """Exponential waits from `base_s`, doubling up to `cap_s`."""
    delay = base_s
    while True:
        yield delay
        delay = min(cap_s, delay * 2)
