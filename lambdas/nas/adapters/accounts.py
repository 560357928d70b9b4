"""User accounts beyond their tokens (R-ACCOUNT): the accounts table, which the API reads on every
request to refuse disabled users at once, and the Cognito user pool's admin actions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from nas.adapters import StoreError, store_call
from nas.adapters.dynamo import from_item, to_item
from nas.domain.errors import NotFound
from nas.domain.timefmt import iso_utc
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

USERNAME_ATTRIBUTE = "username"


class AccountStatus(BaseModel):
    """What the accounts table says of one user (absent: nothing recorded, the account is active)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    username: str
    disabled: bool = False
    disabled_at: str | None = None
    disabled_by: str | None = None
    disabled_reason: str | None = None


class UnknownUser(NotFound):
    """The user pool has no such user."""


class AccountStore(Protocol):
    def status(self, username: str) -> AccountStatus | None: ...

    def mark_disabled(self, username: str, *, by: str, reason: str, at: datetime) -> AccountStatus: ...


class Directory(Protocol):
    """The identity provider's admin actions on one user."""

    def disable(self, username: str) -> None:
        """Refuses the user's sign-ins from now on; raises UnknownUser."""
        ...

    def sign_out(self, username: str) -> None:
        """Revokes the user's refresh tokens (ID tokens already issued live until they expire)."""
        ...


class InMemoryAccountStore:
    def __init__(self) -> None:
        self.items: dict[str, AccountStatus] = {}
        self.reads = 0

    def status(self, username: str) -> AccountStatus | None:
        self.reads += 1
        return self.items.get(username)

    def mark_disabled(self, username: str, *, by: str, reason: str, at: datetime) -> AccountStatus:
        status = AccountStatus(
            username=username, disabled=True, disabled_at=iso_utc(at), disabled_by=by, disabled_reason=reason
        )
        self.items[username] = status
        return status


class DynamoAccountStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def status(self, username: str) -> AccountStatus | None:
        with store_call("accounts GetItem"):
            item = self._client.get_item(
                TableName=self._table, Key=to_item({USERNAME_ATTRIBUTE: username}), ConsistentRead=True
            ).get("Item")
        if not item:
            return None
        try:
            return AccountStatus.model_validate(from_item(item))
        except ValidationError:
            # Fail closed: an account record nobody can read is not proof the account is active.
            logger.error("account item does not validate", extra={"username": username})
            raise StoreError("an account record does not validate") from None

    def mark_disabled(self, username: str, *, by: str, reason: str, at: datetime) -> AccountStatus:
        status = AccountStatus(
            username=username, disabled=True, disabled_at=iso_utc(at), disabled_by=by, disabled_reason=reason
        )
        values: dict[str, Any] = {
            ":yes": True,
            ":at": status.disabled_at,
            ":by": by,
            ":reason": reason,
        }
        with store_call("accounts UpdateItem disable"):
            self._client.update_item(
                TableName=self._table,
                Key=to_item({USERNAME_ATTRIBUTE: username}),
                UpdateExpression=(
                    "SET disabled = :yes, disabled_at = :at, disabled_by = :by, disabled_reason = :reason"
                ),
                ExpressionAttributeValues=to_item(values),
            )
        return status


class CognitoDirectory:
    def __init__(self, client: Any, user_pool_id: str) -> None:
        self._client = client
        self._pool = user_pool_id

    def disable(self, username: str) -> None:
        with store_call("cognito disable user"):
            try:
                self._client.admin_disable_user(UserPoolId=self._pool, Username=username)
            except self._client.exceptions.UserNotFoundException:
                raise UnknownUser(username) from None

    def sign_out(self, username: str) -> None:
        with store_call("cognito global sign-out"):
            self._client.admin_user_global_sign_out(UserPoolId=self._pool, Username=username)


class InMemoryDirectory:
    def __init__(self, users: set[str] | None = None) -> None:
        self.users = set(users or ())
        self.disabled: list[str] = []
        self.signed_out: list[str] = []

    def disable(self, username: str) -> None:
        if username not in self.users:
            raise UnknownUser(username)
        self.disabled.append(username)

    def sign_out(self, username: str) -> None:
        self.signed_out.append(username)
