"""Where a simulator run takes its cameras and hit VRMs from when aimed at a stage or local mode: the
cameras table and a sample of the voi table."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import ValidationError

from nas.adapters.dynamo import from_item
from nas.domain.models import Camera

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

VOI_SCAN_LIMIT = 1000
_VRM = re.compile(r"[A-Z0-9]{1,10}")


def scan_cameras(client: DynamoDBClient, table: str) -> tuple[list[Camera], int]:
    """Every camera in the registry table, and how many items could not be read as a camera."""
    cameras: list[Camera] = []
    unreadable = 0
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            try:
                cameras.append(Camera.model_validate(from_item(item), strict=False))
            except ValidationError:
                unreadable += 1
    return cameras, unreadable


def scan_hit_vrms(client: DynamoDBClient, table: str, *, limit: int = VOI_SCAN_LIMIT) -> list[str]:
    """Up to `limit` VOI items' VRMs (one Scan page: a sample is enough to make hits)."""
    response = client.scan(
        TableName=table,
        Limit=limit,
        ProjectionExpression="#vrm",
        ExpressionAttributeNames={"#vrm": "vrm"},
    )
    vrms = {from_item(item).get("vrm") for item in response.get("Items", [])}
    # The table also holds list, directory and state items keyed `#…`: only VRMs are VRMs.
    return sorted(v for v in vrms if isinstance(v, str) and _VRM.fullmatch(v))
