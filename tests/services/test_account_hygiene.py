"""R-ACCOUNT daily job on moto (Cognito, the accounts, reviews and audit tables): the 90-day idle
boundary measured from each kind of use, suspension in Cognito and in the record the API checks,
reviews due 7 days on, role changes since the last run, the last administrator kept, a second run
the same day opening nothing twice, and every action in the audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nas import catalogue
from nas.adapters import StoreError
from nas.adapters.accounts import CognitoDirectory, DynamoAccountStore, InMemoryDirectory
from nas.adapters.audit import DynamoAuditTrail
from nas.adapters.dynamo import create_table, from_item
from nas.adapters.reviews import DynamoReviewStore
from nas.domain.accounts import JOB_USER, ReviewKind, ReviewState
from nas.domain.roles import Role
from nas.domain.timefmt import iso_utc
from nas.services.account_hygiene import HygienePorts, HygieneRun, run_hygiene
from nas.services.activity import ApiActivity, JobAudit

REGION = "eu-west-2"
DAY = timedelta(days=1)


@dataclass
class Pool:
    cognito: Any
    dynamodb: Any
    pool_id: str

    def user(self, username: str, group: Role = Role.OPERATOR, lea: str = "KENT") -> datetime:
        """Creates a user in `group`; returns its creation time as Cognito recorded it."""
        self.cognito.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            UserAttributes=[{"Name": catalogue.LEA_CLAIM, "Value": lea}],
            MessageAction="SUPPRESS",
        )
        self.cognito.admin_add_user_to_group(
            UserPoolId=self.pool_id, Username=username, GroupName=group.value
        )
        created: datetime = self.cognito.admin_get_user(UserPoolId=self.pool_id, Username=username)[
            "UserCreateDate"
        ]
        return created.astimezone(UTC)

    def requested(self, username: str, at: datetime) -> None:
        """An API request by `username` at `at`, audited as the API audits it."""
        DynamoAuditTrail(self.dynamodb, "audit").append(
            {
                "at": iso_utc(at),
                "user": username,
                "groups": ["operator"],
                "lea": "KENT",
                "method": "GET",
                "route": "/alerts",
                "parameters": "{}",
                "status": 200,
                "request_id": f"req-{username}-{at.timestamp()}",
            },
            at,
        )

    def directory(self) -> CognitoDirectory:
        return CognitoDirectory(self.cognito, self.pool_id, sign_in_events=False)

    def ports(self, directory: Any = None) -> HygienePorts:
        trail = DynamoAuditTrail(self.dynamodb, "audit")
        return HygienePorts(
            directory=directory or self.directory(),
            store=DynamoAccountStore(self.dynamodb, "accounts"),
            reviews=DynamoReviewStore(self.dynamodb, "reviews"),
            activity=ApiActivity(trail),
            audit=lambda run_id: JobAudit(trail, "account-hygiene", run_id, lambda: datetime.now(UTC)),
        )

    def run(self, now: datetime, directory: Any = None) -> HygieneRun:
        return run_hygiene(self.ports(directory), now=now, run_id=f"run-{now.timestamp()}")

    def enabled(self, username: str) -> bool:
        return bool(self.cognito.admin_get_user(UserPoolId=self.pool_id, Username=username)["Enabled"])

    def record(self, username: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(TableName="accounts", Key={"username": {"S": username}}).get("Item")
        return from_item(item) if item else {}

    def reviews(self) -> list[dict[str, Any]]:
        return [from_item(i) for i in self.dynamodb.scan(TableName="reviews")["Items"]]

    def job_events(self) -> list[dict[str, Any]]:
        items = [from_item(i) for i in self.dynamodb.scan(TableName="audit")["Items"]]
        return [i | {"parameters": json.loads(i["parameters"])} for i in items if i["user"] == JOB_USER]


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pool]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec, name in (
            (catalogue.ACCOUNTS, "accounts"),
            (catalogue.ACCOUNT_REVIEWS, "reviews"),
            (catalogue.AUDIT, "audit"),
        ):
            create_table(dynamodb, spec, name)
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(
            PoolName="nas-test",
            Schema=[{"Name": catalogue.LEA_ATTRIBUTE, "AttributeDataType": "String", "Mutable": True}],
        )["UserPool"]["Id"]
        for role in Role:
            cognito.create_group(UserPoolId=pool_id, GroupName=role.value)
        yield Pool(cognito, dynamodb, pool_id)


def test_idle_for_89_days_is_kept_and_for_90_days_suspended_and_listed(pool: Pool) -> None:
    pool.user("adm.nat", Role.ADMIN, "NATIONAL")
    created = pool.user("op.kent")
    pool.user("op.used")
    pool.requested("op.used", created + 10 * DAY)
    pool.requested("adm.nat", created + 80 * DAY)

    kept = pool.run(created + 90 * DAY - timedelta(seconds=1))
    assert kept.suspended == []
    assert pool.enabled("op.kent")

    at_90 = created + 90 * DAY
    run = pool.run(at_90)
    assert run.suspended == ["op.kent"]  # op.used last requested 80 days before; the admin 10
    assert not pool.enabled("op.kent")
    assert pool.enabled("op.used")
    assert pool.enabled("adm.nat")
    record = pool.record("op.kent")
    assert (record["disabled"], record["disabled_reason"], record["disabled_by"]) == (True, "idle", JOB_USER)
    [review] = [r for r in pool.reviews() if r["kind"] == "idle"]
    assert review["username"] == "op.kent"
    assert review["state"] == ReviewState.OPEN.value
    assert review["due_at"] == iso_utc(at_90 + 7 * DAY)
    assert review["last_used_at"] == iso_utc(created)


def test_the_idle_clock_counts_api_requests_sign_ins_and_reinstatement(pool: Pool) -> None:
    pool.user("adm.nat", Role.ADMIN, "NATIONAL")
    created = pool.user("op.request")
    pool.user("op.sign-in")
    pool.user("op.back")
    now = created + 200 * DAY
    pool.requested("adm.nat", now - DAY)
    pool.requested("op.request", now - 89 * DAY)
    DynamoAccountStore(pool.dynamodb, "accounts").mark_reinstated("op.back", by="adm.nat", at=now - 89 * DAY)
    users = {u.username: u for u in pool.directory().all_users()}
    directory = InMemoryDirectory(users=users, sign_ins={"op.sign-in": now - 89 * DAY})
    assert pool.run(now, directory).suspended == []
    later = now + 2 * DAY
    pool.requested("adm.nat", later - DAY)
    assert sorted(pool.run(later, directory).suspended) == ["op.back", "op.request", "op.sign-in"]


def test_role_changes_since_the_last_run_are_listed_once(pool: Pool) -> None:
    created = pool.user("op.kent")
    first = pool.run(created + DAY)
    assert len(first.role_change_reviews) == 1  # a new account: from nothing to operator at KENT
    assert pool.run(created + DAY + timedelta(hours=1)).role_change_reviews == []
    assert pool.run(created + 2 * DAY).role_change_reviews == []

    pool.cognito.admin_add_user_to_group(
        UserPoolId=pool.pool_id, Username="op.kent", GroupName="investigator"
    )
    pool.cognito.admin_update_user_attributes(
        UserPoolId=pool.pool_id,
        Username="op.kent",
        UserAttributes=[{"Name": catalogue.LEA_CLAIM, "Value": "ESSEX"}],
    )
    changed = pool.run(created + 3 * DAY)
    assert len(changed.role_change_reviews) == 1
    [review] = [r for r in pool.reviews() if r["review_id"] == changed.role_change_reviews[0]]
    assert (review["groups_before"], review["groups_after"]) == (["operator"], ["investigator", "operator"])
    assert (review["lea_before"], review["lea_after"]) == ("KENT", "ESSEX")
    assert review["due_at"] == iso_utc(created + 10 * DAY)
    assert pool.run(created + 4 * DAY).role_change_reviews == []


def test_a_second_run_the_same_day_opens_no_second_review(pool: Pool) -> None:
    created = pool.user("op.kent")
    pool.user("adm.nat", Role.ADMIN, "NATIONAL")
    pool.requested("adm.nat", created + 100 * DAY)
    now = created + 100 * DAY + timedelta(hours=1)
    first = pool.run(now)
    second = pool.run(now + timedelta(hours=2))
    assert first.suspended == ["op.kent"]
    assert (second.suspended, second.idle_reviews) == ([], [])  # already disabled
    assert len([r for r in pool.reviews() if r["kind"] == "idle"]) == 1


def test_the_last_enabled_admin_is_kept_and_listed_when_every_admin_is_idle(pool: Pool) -> None:
    created = pool.user("adm.one", Role.ADMIN, "NATIONAL")
    pool.user("adm.two", Role.ADMIN, "NATIONAL")
    pool.requested("adm.two", created + DAY)
    run = pool.run(created + 120 * DAY)
    assert (run.suspended, run.kept) == (["adm.one"], ["adm.two"])
    assert pool.enabled("adm.two")
    kept = [r for r in pool.reviews() if r["kind"] == ReviewKind.IDLE.value and r["username"] == "adm.two"]
    assert kept[0]["kept"] == "last-enabled-admin"
    # Still idle the next days: still kept, and listed once for this idle spell, not once a day.
    for days in (121, 122):
        again = pool.run(created + days * DAY)
        assert (again.kept, again.idle_reviews) == (["adm.two"], [])


def test_every_action_of_the_job_is_audited(pool: Pool) -> None:
    created = pool.user("op.kent")
    pool.user("adm.nat", Role.ADMIN, "NATIONAL")
    pool.requested("adm.nat", created + 95 * DAY)
    pool.run(created + 95 * DAY + timedelta(hours=1))
    events = pool.job_events()
    routes = sorted(e["route"] for e in events)
    assert routes == [
        "/jobs/account-hygiene/review-opened",  # op.kent's role review (new account)
        "/jobs/account-hygiene/review-opened",  # adm.nat's
        "/jobs/account-hygiene/review-opened",  # op.kent's idle review
        "/jobs/account-hygiene/run",
        "/jobs/account-hygiene/suspend",
    ]
    [suspend] = [e for e in events if e["route"].endswith("/suspend")]
    assert suspend["parameters"]["arguments"]["user"] == "op.kent"
    assert (suspend["method"], suspend["reason"], suspend["status"]) == ("JOB", "idle", 200)
    assert len({e["request_id"] for e in events}) == 1  # one run


def test_a_failed_suspension_is_reported_and_the_others_go_on(pool: Pool) -> None:
    created = pool.user("op.throttled")
    pool.user("op.kent")
    pool.user("adm.nat", Role.ADMIN, "NATIONAL")
    pool.requested("adm.nat", created + 99 * DAY)

    class Throttled(InMemoryDirectory):
        def disable(self, username: str) -> None:
            if username == "op.throttled":
                raise StoreError("cognito disable user: TooManyRequestsException")
            super().disable(username)

    directory = Throttled(users={u.username: u for u in pool.directory().all_users()})
    run = pool.run(created + 100 * DAY, directory)
    assert (run.failed, run.suspended) == (["op.throttled"], ["op.kent"])
    assert [r["username"] for r in pool.reviews() if r["kind"] == "idle"] == ["op.kent"]
    [failed] = [e for e in pool.job_events() if e["route"].endswith("/suspend-failed")]
    assert failed["parameters"]["arguments"]["user"] == "op.throttled"
