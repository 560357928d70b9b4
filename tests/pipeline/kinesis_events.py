"""Kinesis Data Streams events as Lambda receives them from an event source mapping."""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from typing import Any

STREAM_ARN = "arn:aws:kinesis:eu-west-2:123456789012:stream/nas-dev-reads"
SHARD = "shardId-000000000003"


def sequence_number(n: int) -> str:
    return f"4963{n:052d}"


def kinesis_event(
    payloads: Sequence[tuple[str, bytes]], *, first_sequence: int = 1, arrived_at: float | None = None
) -> dict[str, Any]:
    """One event of `payloads` (partition key, data), consecutive sequence numbers from `first_sequence`."""
    arrival = time.time() if arrived_at is None else arrived_at
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": partition_key,
                    "sequenceNumber": sequence_number(first_sequence + i),
                    "data": base64.b64encode(data).decode("ascii"),
                    "approximateArrivalTimestamp": arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{SHARD}:{sequence_number(first_sequence + i)}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/nas-dev-match",
                "awsRegion": "eu-west-2",
                "eventSourceARN": STREAM_ARN,
            }
            for i, (partition_key, data) in enumerate(payloads)
        ]
    }
