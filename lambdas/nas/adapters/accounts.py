"""User accounts beyond their tokens (R-ACCOUNT): the accounts table, which the API reads on every
request to refuse disabled users at once and the daily job keeps its role snapshots in, and the
Cognito user pool: listing users, their groups and sign-ins, and the admin actions on one user."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from nas.adapters import StoreError, store_call
from nas.adapters.dynamo import batch_get, from_item, to_item
from nas.catalogue import LEA_CLAIM
from nas.domain.accounts import AccountStatus, DirectoryUser
from nas.domain.errors import Conflict, NotFound
from nas.domain.roles import Role
from nas.domain.timefmt import iso_utc
from nas.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "AccountStatus",
    "AccountStore",
    "CognitoDirectory",
    "Directory",
    "DynamoAccountStore",
    "InMemoryAccountStore",
    "InMemoryDirectory",
    "UnknownUser",
]

USERNAME_ATTRIBUTE = "username"
COGNITO_PAGE = 60
"""ListUsers and ListUsersInGroup return at most 60 users a call."""
SIGN_IN_EVENT_PAGES = 2
"""AdminListUserAuthEvents pages (60 events each, newest first) read looking for the last successful
sign-in; a user with more failed or non-sign-in events than that shows none."""


class UnknownUser(NotFound):
    """The user pool has no such user."""


class AccountRemoved(Conflict):
    """The account was removed after review: it stays disabled for good."""


class AccountStore(Protocol):
    def status(self, username: str) -> AccountStatus | None: ...

    def statuses(self, usernames: Iterable[str]) -> dict[str, AccountStatus]: ...

    def all_statuses(self) -> Iterator[AccountStatus]: ...

    def mark_disabled(self, username: str, *, by: str, reason: str, at: datetime) -> AccountStatus: ...

    def mark_removed(self, username: str, *, by: str, reason: str, at: datetime) -> AccountStatus: ...

    def mark_reinstated(self, username: str, *, by: str, at: datetime) -> AccountStatus:
        """Clears the disabled record; AccountRemoved when the account was removed."""
        ...

    def record_seen(
        self, username: str, *, groups: tuple[str, ...], lea: str | None, at: datetime
    ) -> None: ...


class Directory(Protocol):
    """The identity provider: its users, and the admin actions on one of them."""

    @property
    def sign_in_history(self) -> bool:
        """Whether `last_sign_in` can say anything (Cognito's auth events need threat protection,
        which the CDK pool has; moto does not emulate them)."""
        ...

    def list_users(
        self, *, group: str | None, token: str | None, limit: int = COGNITO_PAGE
    ) -> tuple[list[DirectoryUser], str | None]:
        """One page of users (of `group`, if given) from `token`, and the token of the next page."""
        ...

    def all_users(self) -> Iterator[DirectoryUser]:
        """Every user, each with the R-ROLE groups it is in."""
        ...

    def groups_of(self, username: str) -> tuple[str, ...]: ...

    def last_sign_in(self, username: str) -> datetime | None: ...

    def disable(self, username: str) -> None:
        """Refuses the user's sign-ins from now on; raises UnknownUser."""
        ...

    def enable(self, username: str) -> None:
        """Lets the user sign in again; raises UnknownUser."""
        ...

    def sign_out(self, username: str) -> None:
        """Revokes the user's refresh tokens (ID tokens already issued live until they expire)."""
        ...


def _status(username: str, fields: dict[str, Any]) -> AccountStatus:
    return AccountStatus.model_validate({"username": username, **fields})


class InMemoryAccountStore:
    def __init__(self) -> None:
        self.items: dict[str, AccountStatus] = {}
        self.reads = 0

    def status(self, username: str) -> AccountStatus | None:
        self.reads += 1
        return self.items.get(username)

    def statuses(self, usernames: Iterable[str]) -> dict[str, AccountStatus]:
        return {u: self.items[u] for u in usernames if u in self.items}

    def all_statuses(self) -> Iterator[AccountStatus]:
        yield from list(self.items.values())

    def _update(self, username: str, **fields: Any) -> AccountStatus:
        current = self.items.get(username, AccountStatus(username=username)).model_dump()
        status = AccountStatus.model_validate(current | fields)
        self.items[username] = status
        return status

    def mark_disabled(self, username: str, *, by: str, reason: str, at: datetime) -> AccountStatus:
        return self._update(
            username, disabled=True, disabled_at=iso_utc(at), disabled_by=by, disabled_reason=reason
        )

    def mark_removed(self, username: str, *, by: str, reason: str, at: datetime) -> AccountStatus:
        return self._update(
            username,
            disabled=True,
            removed=True,
            disabled_at=iso_utc(at),
            disabled_by=by,
            disabled_reason=reason,
        )

    def mark_reinstated(self, username: str, *, by: str, at: datetime) -> AccountStatus:
        current = self.items.get(username)
        if current is not None and current.removed:
            raise AccountRemoved(f"{username} was removed after review")
        return self._update(
            username,
            disabled=False,
            disabled_at=None,
            disabled_by=None,
            disabled_reason=None,
            reinstated_at=iso_utc(at),
            reinstated_by=by,
        )

    def record_seen(self, username: str, *, groups: tuple[str, ...], lea: str | None, at: datetime) -> None:
        self._update(username, seen_groups=groups, seen_lea=lea, seen_at=iso_utc(at))


class DynamoAccountStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def _validate(self, item: dict[str, Any]) -> AccountStatus:
        try:
            return AccountStatus.model_validate(item)
        except ValidationError:
            # Fail closed: an account record nobody can read is not proof the account is active.
            logger.error("account item does not validate", extra={"username": item.get(USERNAME_ATTRIBUTE)})
            raise StoreError("an account record does not validate") from None

    def status(self, username: str) -> AccountStatus | None:
        with store_call("accounts GetItem"):
            item = self._client.get_item(
                TableName=self._table, Key=to_item({USERNAME_ATTRIBUTE: username}), ConsistentRead=True
            ).get("Item")
        if not item:
            return None
        return self._validate(from_item(item))

    def statuses(self, usernames: Iterable[str]) -> dict[str, AccountStatus]:
        keys = [{USERNAME_ATTRIBUTE: u} for u in dict.fromkeys(usernames)]
        if not keys:
            return {}
        with store_call("accounts BatchGetItem"):
            items = batch_get(self._client, self._table, keys, consistent=True)
        return {str(i[USERNAME_ATTRIBUTE]): self._validate(i) for i in items}

    def all_statuses(self) -> Iterator[AccountStatus]:
        """Every record, page by page (the daily job: one item per user who has a record)."""
        with store_call("accounts Scan"):
            for page in self._client.get_paginator("scan").paginate(
                TableName=self._table, ConsistentRead=True
            ):
                for item in page.get("Items", []):
                    yield self._validate(from_item(item))

    def _set(
        self,
        username: str,
        what: str,
        values: dict[str, Any],
        *,
        remove: tuple[str, ...] = (),
        condition: str | None = None,
    ) -> None:
        expression = "SET " + ", ".join(f"#{name} = :{name}" for name in values)
        if remove:
            expression += " REMOVE " + ", ".join(f"#{name}" for name in remove)
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({USERNAME_ATTRIBUTE: username}),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {f"#{name}": name for name in (*values, *remove)},
            "ExpressionAttributeValues": {f":{k}": v for k, v in to_item(values).items()},
        }
        if condition:
            request["ConditionExpression"] = condition
            request["ExpressionAttributeNames"]["#removed"] = "removed"
            request["ExpressionAttributeValues"][":true"] = {"BOOL": True}
        with store_call(f"accounts UpdateItem {what}"):
            try:
                self._client.update_item(**request)
            except self._client.exceptions.ConditionalCheckFailedException:
                # The one conditional update: reinstating, refused for a removed account.
                raise AccountRemoved(f"{username} was removed after review") from None

    def mark_disabled(self, username: str, *, by: str, reason: str, at: datetime) -> AccountStatus:
        values = {"disabled": True, "disabled_at": iso_utc(at), "disabled_by": by, "disabled_reason": reason}
        self._set(username, "disable", values)
        return _status(username, values)

    def mark_removed(self, username: str, *, by: str, reason: str, at: datetime) -> AccountStatus:
        values = {
            "disabled": True,
            "removed": True,
            "disabled_at": iso_utc(at),
            "disabled_by": by,
            "disabled_reason": reason,
        }
        self._set(username, "remove", values)
        return _status(username, values)

    def mark_reinstated(self, username: str, *, by: str, at: datetime) -> AccountStatus:
        values = {"disabled": False, "reinstated_at": iso_utc(at), "reinstated_by": by}
        self._set(
            username,
            "reinstate",
            values,
            remove=("disabled_at", "disabled_by", "disabled_reason"),
            condition="attribute_not_exists(#removed) OR #removed <> :true",
        )
        return _status(username, values)

    def record_seen(self, username: str, *, groups: tuple[str, ...], lea: str | None, at: datetime) -> None:
        values: dict[str, Any] = {"seen_groups": list(groups), "seen_at": iso_utc(at)}
        if lea is not None:
            values["seen_lea"] = lea
        self._set(username, "snapshot", values, remove=() if lea is not None else ("seen_lea",))


def _directory_user(user: dict[str, Any], groups: tuple[str, ...] | None = None) -> DirectoryUser:
    attributes = {a["Name"]: a.get("Value") for a in user.get("Attributes", [])}
    return DirectoryUser(
        username=str(user["Username"]),
        enabled=bool(user.get("Enabled", True)),
        lea=attributes.get(LEA_CLAIM),
        created_at=user["UserCreateDate"],
        groups=groups,
    )


class CognitoDirectory:
    def __init__(self, client: Any, user_pool_id: str, *, sign_in_events: bool = True) -> None:
        self._client = client
        self._pool = user_pool_id
        self._sign_in_events = sign_in_events

    @property
    def sign_in_history(self) -> bool:
        return self._sign_in_events

    def list_users(
        self, *, group: str | None, token: str | None, limit: int = COGNITO_PAGE
    ) -> tuple[list[DirectoryUser], str | None]:
        request: dict[str, Any] = {"UserPoolId": self._pool, "Limit": min(limit, COGNITO_PAGE)}
        with store_call("cognito list users"):
            if group is not None:
                if token:
                    request["NextToken"] = token
                try:
                    response = self._client.list_users_in_group(GroupName=group, **request)
                except self._client.exceptions.ResourceNotFoundException:
                    return [], None
                next_token = response.get("NextToken")
            else:
                if token:
                    request["PaginationToken"] = token
                response = self._client.list_users(**request)
                next_token = response.get("PaginationToken")
        return [_directory_user(u) for u in response.get("Users", [])], next_token or None

    def all_users(self) -> Iterator[DirectoryUser]:
        members: dict[str, set[str]] = {}
        for role in Role:
            token: str | None = None
            while True:
                page, token = self.list_users(group=role.value, token=token)
                for user in page:
                    members.setdefault(user.username, set()).add(role.value)
                if token is None:
                    break
        token = None
        while True:
            page, token = self.list_users(group=None, token=token)
            for user in page:
                yield replace(user, groups=tuple(sorted(members.get(user.username, ()))))
            if token is None:
                return

    def groups_of(self, username: str) -> tuple[str, ...]:
        names: list[str] = []
        with store_call("cognito list groups for user"):
            try:
                for page in self._client.get_paginator("admin_list_groups_for_user").paginate(
                    UserPoolId=self._pool, Username=username
                ):
                    names.extend(g["GroupName"] for g in page.get("Groups", []))
            except self._client.exceptions.UserNotFoundException:
                raise UnknownUser(username) from None
        return tuple(sorted(names))

    def last_sign_in(self, username: str) -> datetime | None:
        """The newest successful sign-in in Cognito's auth events (newest first), if any."""
        if not self._sign_in_events:
            return None
        request: dict[str, Any] = {"UserPoolId": self._pool, "Username": username, "MaxResults": 60}
        with store_call("cognito auth events"):
            for _ in range(SIGN_IN_EVENT_PAGES):
                try:
                    response = self._client.admin_list_user_auth_events(**request)
                except self._client.exceptions.UserNotFoundException:
                    raise UnknownUser(username) from None
                for event in response.get("AuthEvents", []):
                    if event.get("EventType") == "SignIn" and event.get("EventResponse") == "Pass":
                        created: datetime = event["CreationDate"]
                        return created
                if not response.get("NextToken"):
                    return None
                request["NextToken"] = response["NextToken"]
        return None

    def disable(self, username: str) -> None:
        with store_call("cognito disable user"):
            try:
                self._client.admin_disable_user(UserPoolId=self._pool, Username=username)
            except self._client.exceptions.UserNotFoundException:
                raise UnknownUser(username) from None

    def enable(self, username: str) -> None:
        with store_call("cognito enable user"):
            try:
                self._client.admin_enable_user(UserPoolId=self._pool, Username=username)
            except self._client.exceptions.UserNotFoundException:
                raise UnknownUser(username) from None

    def sign_out(self, username: str) -> None:
        with store_call("cognito global sign-out"):
            self._client.admin_user_global_sign_out(UserPoolId=self._pool, Username=username)


@dataclass
class InMemoryDirectory:
    """Users by name, for service tests; `sign_ins` holds each user's last successful sign-in."""

    users: dict[str, DirectoryUser] = field(default_factory=dict)
    sign_ins: dict[str, datetime] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)
    signed_out: list[str] = field(default_factory=list)

    @property
    def sign_in_history(self) -> bool:
        return True

    def add(self, user: DirectoryUser) -> None:
        self.users[user.username] = user

    def _user(self, username: str) -> DirectoryUser:
        try:
            return self.users[username]
        except KeyError:
            raise UnknownUser(username) from None

    def list_users(
        self, *, group: str | None, token: str | None, limit: int = COGNITO_PAGE
    ) -> tuple[list[DirectoryUser], str | None]:
        chosen = [u for u in self.users.values() if group is None or group in (u.groups or ())]
        start = int(token or 0)
        page = chosen[start : start + limit]
        more = start + limit < len(chosen)
        return [replace(u, groups=None) for u in page], str(start + limit) if more else None

    def all_users(self) -> Iterator[DirectoryUser]:
        yield from (replace(u, groups=tuple(sorted(u.groups or ()))) for u in list(self.users.values()))

    def groups_of(self, username: str) -> tuple[str, ...]:
        return tuple(sorted(self._user(username).groups or ()))

    def last_sign_in(self, username: str) -> datetime | None:
        self._user(username)
        return self.sign_ins.get(username)

    def disable(self, username: str) -> None:
        self.users[username] = replace(self._user(username), enabled=False)
        self.disabled.append(username)

    def enable(self, username: str) -> None:
        self.users[username] = replace(self._user(username), enabled=True)
        self.enabled.append(username)

    def sign_out(self, username: str) -> None:
        self.signed_out.append(username)
