"""R-CAMERA registry: the cameras table, read in batches and cached in the execution environment."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from nas.adapters import store_call
from nas.adapters.dynamo import batch_get, batch_put, from_item
from nas.domain.models import Camera
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A camera switched off or moved between forces takes effect within this long on warm Lambdas.
CACHE_TTL_S = 60.0
# "Not registered" is remembered only briefly: a newly registered camera's reads must alert within
# seconds, and a burst of reads from an unknown camera still costs one lookup per batch at most.
NEGATIVE_CACHE_TTL_S = 5.0


class CameraRegistry(Protocol):
    def get_many(self, camera_ids: Collection[str]) -> dict[str, Camera]:
        """The registered cameras among `camera_ids`; unknown ids are absent from the result."""
        ...


class InMemoryCameraRegistry:
    def __init__(self, cameras: Iterable[Camera] = ()) -> None:
        self.cameras = {c.camera_id: c for c in cameras}

    def get_many(self, camera_ids: Collection[str]) -> dict[str, Camera]:
        return {cid: self.cameras[cid] for cid in camera_ids if cid in self.cameras}

    def put_many(self, cameras: Iterable[Camera]) -> int:
        added = 0
        for camera in cameras:
            self.cameras[camera.camera_id] = camera
            added += 1
        return added


class DynamoCameraRegistry:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        cache_ttl_s: float = CACHE_TTL_S,
        negative_cache_ttl_s: float = NEGATIVE_CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table
        self._ttl = cache_ttl_s
        self._negative_ttl = negative_cache_ttl_s
        self._clock = clock
        # camera_id -> (camera or None for "not registered", fetched at)
        self._cache: dict[str, tuple[Camera | None, float]] = {}

    def get_many(self, camera_ids: Collection[str]) -> dict[str, Camera]:
        now = self._clock()
        stale = [cid for cid in set(camera_ids) if self._stale(cid, now)]
        if stale:
            fetched: dict[str, Camera] = {}
            for item in batch_get(self._client, self._table, [{"camera_id": cid} for cid in stale]):
                try:
                    fetched[item["camera_id"]] = Camera.model_validate(item, strict=False)
                except ValidationError as exc:
                    # A registry row that no longer validates (say, its force left the LEA list)
                    # must not block the stream: its reads are refused as from an unknown camera.
                    logger.error(
                        "invalid camera registry item",
                        extra={"camera_id": item.get("camera_id"), "error": str(exc)},
                    )
            for cid in stale:
                self._cache[cid] = (fetched.get(cid), now)
        result = {}
        for cid in camera_ids:
            camera = self._cache[cid][0]
            if camera is not None:
                result[cid] = camera
        return result

    def _stale(self, camera_id: str, now: float) -> bool:
        cached = self._cache.get(camera_id)
        if cached is None:
            return True
        camera, fetched_at = cached
        return now - fetched_at > (self._ttl if camera is not None else self._negative_ttl)

    def put_many(self, cameras: Iterable[Camera]) -> int:
        return batch_put(self._client, self._table, (c.model_dump(mode="json") for c in cameras))


class CameraDirectory(Protocol):
    def all(self) -> list[Camera]:
        """Every registered camera (active or not: a camera switched off may hold reads still)."""
        ...


DIRECTORY_TTL_S = 600.0
"""How long an execution environment keeps the national camera list for location searches."""


class DynamoCameraDirectory:
    """The whole registry for `near` searches: about 18,000 cameras, some 150 bytes each, is a few
    Scan pages (under 3 MB); kept 10 minutes per execution environment, so a location search costs
    no read most of the time and a camera registered since is found within 10 minutes."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        ttl_s: float = DIRECTORY_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table
        self._ttl = ttl_s
        self._clock = clock
        self._cached: tuple[list[Camera], float] | None = None

    def all(self) -> list[Camera]:
        now = self._clock()
        if self._cached is not None and now - self._cached[1] <= self._ttl:
            return self._cached[0]
        cameras: list[Camera] = []
        request: dict[str, object] = {
            "TableName": self._table,
            "ProjectionExpression": "camera_id, lea, lat, lon, #source, active",
            "ExpressionAttributeNames": {"#source": "source"},
        }
        with store_call("scan cameras"):
            while True:
                response = self._client.scan(**request)  # type: ignore[arg-type]
                for item in response.get("Items", []):
                    try:
                        cameras.append(Camera.model_validate(from_item(item), strict=False))
                    except ValidationError as exc:
                        logger.error(
                            "invalid camera registry item",
                            extra={"camera_id": from_item(item).get("camera_id"), "error": str(exc)},
                        )
                last = response.get("LastEvaluatedKey")
                if last is None:
                    break
                request["ExclusiveStartKey"] = last
        self._cached = (cameras, now)
        return cameras


class InMemoryCameraDirectory:
    def __init__(self, cameras: Iterable[Camera] = ()) -> None:
        self.cameras = list(cameras)

    def all(self) -> list[Camera]:
        return list(self.cameras)
