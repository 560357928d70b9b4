"""The authorisations table (R-AUTHZ): one item per authorisation, never deleted (it records what was
allowed); revoking sets `revoked_at` and `revoked_by` once. Listed from the by-granted-by index (an
authoriser's grants, newest first) and the by-grantee index (a grantee's, latest expiry first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError
from pydantic import ValidationError

from nas import catalogue
from nas.adapters import store_call
from nas.adapters.dynamo import from_item, to_attribute, to_item
from nas.domain.models import Authorisation
from nas.domain.timefmt import iso_utc
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Cursor = tuple[str, str]
"""(sort key value, authorisation_id) of the last item of a page."""


class AuthorisationIndex(StrEnum):
    BY_GRANTED_BY = "by-granted-by"
    BY_GRANTEE = "by-grantee"

    @property
    def attributes(self) -> tuple[str, str]:
        """(partition key, sort key) of the index."""
        return (
            ("granted_by", "granted_at")
            if self is AuthorisationIndex.BY_GRANTED_BY
            else ("grantee", "expires_at")
        )


@dataclass(frozen=True, slots=True)
class AuthorisationListing:
    authorisations: list[Authorisation]
    next_cursor: Cursor | None


class AuthorisationStore(Protocol):
    def put(self, authorisation: Authorisation) -> None: ...

    def get(self, authorisation_id: str) -> Authorisation | None: ...

    def revoke(self, authorisation_id: str, *, by: str, at: datetime) -> Authorisation | None:
        """Sets the revocation once; an already revoked one is returned as it is; None if unknown."""
        ...

    def list(
        self, index: AuthorisationIndex, user: str, *, limit: int, cursor: Cursor | None
    ) -> AuthorisationListing: ...


def _item(authorisation: Authorisation) -> dict[str, Any]:
    values = authorisation.model_dump(mode="json")
    for name in ("granted_at", "expires_at", "revoked_at"):
        moment = getattr(authorisation, name)
        values[name] = iso_utc(moment) if moment is not None else None
    return values


def _authorisation(item: dict[str, Any]) -> Authorisation | None:
    try:
        return Authorisation.model_validate(item, strict=False)
    except ValidationError as exc:
        logger.error(
            "invalid authorisation item",
            extra={"authorisation_id": item.get("authorisation_id"), "error": str(exc)},
        )
        return None


def sort_value(authorisation: Authorisation, index: AuthorisationIndex) -> str:
    return iso_utc(
        authorisation.granted_at if index is AuthorisationIndex.BY_GRANTED_BY else authorisation.expires_at
    )


class InMemoryAuthorisationStore:
    def __init__(self) -> None:
        self.items: dict[str, Authorisation] = {}

    def put(self, authorisation: Authorisation) -> None:
        self.items[authorisation.authorisation_id] = authorisation

    def get(self, authorisation_id: str) -> Authorisation | None:
        return self.items.get(authorisation_id)

    def revoke(self, authorisation_id: str, *, by: str, at: datetime) -> Authorisation | None:
        current = self.items.get(authorisation_id)
        if current is None or current.revoked_at is not None:
            return current
        revoked = current.model_copy(update={"revoked_at": at, "revoked_by": by})
        self.items[authorisation_id] = revoked
        return revoked

    def list(
        self, index: AuthorisationIndex, user: str, *, limit: int, cursor: Cursor | None
    ) -> AuthorisationListing:
        key = index.attributes[0]
        mine = sorted(
            (a for a in self.items.values() if getattr(a, key) == user),
            key=lambda a: (sort_value(a, index), a.authorisation_id),
            reverse=True,
        )
        if cursor is not None:
            mine = [a for a in mine if (sort_value(a, index), a.authorisation_id) < cursor]
        page = mine[:limit]
        more = len(mine) > limit
        return AuthorisationListing(
            page, (sort_value(page[-1], index), page[-1].authorisation_id) if more and page else None
        )


class DynamoAuthorisationStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, authorisation: Authorisation) -> None:
        with store_call("put authorisation"):
            self._client.put_item(
                TableName=self._table,
                Item=to_item(_item(authorisation)),
                ConditionExpression="attribute_not_exists(authorisation_id)",
            )

    def get(self, authorisation_id: str) -> Authorisation | None:
        with store_call("get authorisation"):
            item = self._client.get_item(
                TableName=self._table,
                Key=to_item({"authorisation_id": authorisation_id}),
                ConsistentRead=True,
            ).get("Item")
        return _authorisation(from_item(item)) if item else None

    def revoke(self, authorisation_id: str, *, by: str, at: datetime) -> Authorisation | None:
        """One conditional update of exactly the revocation attributes; R-AUTHZ takes it at once,
        since searches read authorisations consistently."""
        names = {f"#{n}": n for n in catalogue.AUTHORISATION_REVOCATION_ATTRIBUTES}
        with store_call("revoke authorisation"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({"authorisation_id": authorisation_id}),
                    UpdateExpression="SET #revoked_at = :at, #revoked_by = :by",
                    ConditionExpression=(
                        "attribute_exists(authorisation_id) AND attribute_not_exists(#revoked_at)"
                    ),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={":at": to_attribute(iso_utc(at)), ":by": to_attribute(by)},
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        return self.get(authorisation_id)

    def list(
        self, index: AuthorisationIndex, user: str, *, limit: int, cursor: Cursor | None
    ) -> AuthorisationListing:
        key, sort = index.attributes
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index.value,
            "KeyConditionExpression": "#key = :key",
            "ExpressionAttributeNames": {"#key": key},
            "ExpressionAttributeValues": {":key": to_attribute(user)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor is not None:
            request["ExclusiveStartKey"] = to_item(
                {key: user, sort: cursor[0], "authorisation_id": cursor[1]}
            )
        found: list[Authorisation] = []
        with store_call("list authorisations"):
            while len(found) < limit:
                response = self._client.query(**request)
                for item in response.get("Items", []):
                    authorisation = _authorisation(from_item(item))
                    if authorisation is not None:
                        found.append(authorisation)
                last = response.get("LastEvaluatedKey")
                if last is None:
                    break
                request["ExclusiveStartKey"] = last
        found = found[:limit]
        more = len(found) == limit
        next_cursor = (sort_value(found[-1], index), found[-1].authorisation_id) if more and found else None
        return AuthorisationListing(found, next_cursor)
