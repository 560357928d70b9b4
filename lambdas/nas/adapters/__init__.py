"""Adapters: the only modules that talk to AWS (or its local stand-ins). Each sits behind a small
Protocol so the same logic runs in Lambda, in local mode and in tests with in-memory versions.

One error contract: whatever botocore raises inside an adapter leaves it as a `StoreError` (or one
of its two refinements), so callers never see botocore types and the API maps each to one status.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError


class StoreError(RuntimeError):
    """A store refused or failed an operation after its own retries (throttling, an outage, a
    timeout). Transient: the API answers 503 `store-unavailable`; a stream consumer reports the
    record failed so it is redelivered."""


class StoreConflict(StoreError):
    """The stored state kept changing under a conditional write: the caller may try again (409)."""


class StoreRejected(StoreError):
    """The store refused the request itself (an item over 400 KB, an invalid key value): retrying
    the same request cannot succeed (the API answers 400 or 409, never 500)."""


# DynamoDB and S3 codes that describe the request, not the store's health.
_REJECTION_CODES = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})


@contextmanager
def store_call(what: str) -> Iterator[None]:
    """Translates botocore failures inside the block into the store errors above; `what` names
    the operation for logs (never user data)."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _REJECTION_CODES:
            raise StoreRejected(f"{what}: {code}") from exc
        raise StoreError(f"{what}: {code or 'client error'}") from exc
    except BotoCoreError as exc:
        raise StoreError(f"{what}: {type(exc).__name__}") from exc


__all__ = ["StoreConflict", "StoreError", "StoreRejected", "store_call"]
