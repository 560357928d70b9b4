"""R-ACCOUNT reviews in the account-reviews table: opened once by the daily job (a conditional put on
a deterministic id), listed by state soonest due first (GSI `by-state`), decided once (a conditional
update on the state still being open)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from nas.adapters import StoreError, store_call
from nas.adapters.dynamo import from_item, to_attribute, to_item
from nas.domain.accounts import Decision, Review, ReviewState
from nas.domain.errors import Conflict
from nas.domain.timefmt import iso_utc
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DECIDED_KEPT_FOR = timedelta(days=731)
"""A decided review expires (DynamoDB TTL) two years after its decision; the audit trail keeps it."""
STATE_INDEX = "by-state"
_INSTANTS = ("opened_at", "due_at", "last_used_at", "decided_at")


class ReviewDecided(Conflict):
    """The review has already been decided."""


@dataclass(frozen=True, slots=True)
class ReviewPosition:
    """Where a listing stopped: the last review's due time and id."""

    due_at: str
    review_id: str


class ReviewStore(Protocol):
    def open(self, review: Review) -> bool:
        """Stores a new review; False when one with its id exists (opened by an earlier run)."""
        ...

    def get(self, review_id: str) -> Review | None: ...

    def listing(
        self, state: ReviewState, after: ReviewPosition | None, limit: int
    ) -> tuple[list[Review], ReviewPosition | None]:
        """Reviews in `state`, soonest due first (overdue first), after `after`."""
        ...

    def decide(self, review_id: str, *, decision: Decision, by: str, at: datetime, reason: str) -> Review:
        """Records the decision if the review is still open; ReviewDecided otherwise."""
        ...


def _stored(review: Review) -> dict[str, Any]:
    values = review.model_dump(mode="json")
    for name in _INSTANTS:
        moment = getattr(review, name)
        values[name] = iso_utc(moment) if moment is not None else None
    for name in ("groups_before", "groups_after"):
        if values[name] is not None:
            values[name] = list(values[name])
    return values


def _review(item: Mapping[str, Any]) -> Review:
    try:
        return Review.model_validate(dict(item))
    except ValidationError:
        logger.error("review item does not validate", extra={"review_id": item.get("review_id")})
        raise StoreError("a review record does not validate") from None


@dataclass
class InMemoryReviewStore:
    items: dict[str, Review] = field(default_factory=dict)

    def open(self, review: Review) -> bool:
        if review.review_id in self.items:
            return False
        self.items[review.review_id] = review
        return True

    def get(self, review_id: str) -> Review | None:
        return self.items.get(review_id)

    def listing(
        self, state: ReviewState, after: ReviewPosition | None, limit: int
    ) -> tuple[list[Review], ReviewPosition | None]:
        chosen = sorted(
            (r for r in self.items.values() if r.state is state),
            key=lambda r: (iso_utc(r.due_at), r.review_id),
        )
        if after is not None:
            chosen = [r for r in chosen if (iso_utc(r.due_at), r.review_id) > (after.due_at, after.review_id)]
        page = chosen[:limit]
        more = len(chosen) > limit
        return page, ReviewPosition(iso_utc(page[-1].due_at), page[-1].review_id) if more else None

    def decide(self, review_id: str, *, decision: Decision, by: str, at: datetime, reason: str) -> Review:
        review = self.items[review_id]
        if review.state is not ReviewState.OPEN:
            raise ReviewDecided(f"review {review_id} was decided already")
        decided = review.model_copy(
            update={
                "state": ReviewState.DECIDED,
                "decision": decision,
                "decided_by": by,
                "decided_at": at,
                "decision_reason": reason,
            }
        )
        self.items[review_id] = decided
        return decided


class DynamoReviewStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def open(self, review: Review) -> bool:
        with store_call("reviews PutItem"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=to_item(_stored(review)),
                    ConditionExpression="attribute_not_exists(review_id)",
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def get(self, review_id: str) -> Review | None:
        with store_call("reviews GetItem"):
            item = self._client.get_item(
                TableName=self._table, Key=to_item({"review_id": review_id}), ConsistentRead=True
            ).get("Item")
        return _review(from_item(item)) if item else None

    def listing(
        self, state: ReviewState, after: ReviewPosition | None, limit: int
    ) -> tuple[list[Review], ReviewPosition | None]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": STATE_INDEX,
            "KeyConditionExpression": "#state = :state",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":state": to_attribute(state.value)},
            "ScanIndexForward": True,
            "Limit": limit + 1,
        }
        if after is not None:
            request["ExclusiveStartKey"] = to_item(
                {"state": state.value, "due_at": after.due_at, "review_id": after.review_id}
            )
        found: list[Review] = []
        with store_call("reviews Query by-state"):
            while len(found) <= limit:
                response = self._client.query(**request)
                found.extend(_review(from_item(i)) for i in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        page = found[:limit]
        more = len(found) > limit
        return page, ReviewPosition(iso_utc(page[-1].due_at), page[-1].review_id) if more else None

    def decide(self, review_id: str, *, decision: Decision, by: str, at: datetime, reason: str) -> Review:
        values = {
            ":decided": ReviewState.DECIDED.value,
            ":open": ReviewState.OPEN.value,
            ":decision": decision.value,
            ":by": by,
            ":at": iso_utc(at),
            ":reason": reason,
            ":expires": int((at + DECIDED_KEPT_FOR).timestamp()),
        }
        with store_call("reviews UpdateItem decide"):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=to_item({"review_id": review_id}),
                    UpdateExpression=(
                        "SET #state = :decided, decision = :decision, decided_by = :by, decided_at = :at,"
                        " decision_reason = :reason, expires_at = :expires"
                    ),
                    ConditionExpression="#state = :open",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues=to_item(values),
                    ReturnValues="ALL_NEW",
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                raise ReviewDecided(f"review {review_id} was decided already") from None
        return _review(from_item(response["Attributes"]))
