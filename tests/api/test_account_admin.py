"""R-ACCOUNT through the API: admins list accounts with their roles and use, read the reviews the
daily job opens (overdue first) and decide them; reinstating lets the user's next token through, a
removed account stays out; every request and every job action is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas import catalogue
from nas.api import wiring
from nas.jobs.wiring import build_hygiene_ports
from nas.services.account_hygiene import HygieneRun, run_hygiene
from nas.settings import settings
from tests.api.conftest import ApiAccount, Reply, claims

ADMIN = claims("adm.nat", "admin", "NATIONAL")
OP_KENT = claims("op.kent", "operator", "KENT")
REASON = "Reviewed with the force's line manager, ref 2026/77"
USERS = (
    ("adm.nat", "admin", "NATIONAL"),
    ("op.kent", "operator", "KENT"),
    ("inv.essex", "investigator", "ESSEX"),
)


@pytest.fixture
def pool(api: ApiAccount) -> ApiAccount:
    for group in ("admin", "operator", "investigator"):
        api.cognito.create_group(UserPoolId=api.user_pool_id, GroupName=group)
    for username, group, lea in USERS:
        api.cognito.admin_create_user(
            UserPoolId=api.user_pool_id,
            Username=username,
            UserAttributes=[{"Name": catalogue.LEA_CLAIM, "Value": lea}],
            MessageAction="SUPPRESS",
        )
        api.cognito.admin_add_user_to_group(UserPoolId=api.user_pool_id, Username=username, GroupName=group)
    return api


def accounts(api: ApiAccount, who: dict[str, str] = ADMIN, **query: str) -> Reply:
    return api.call("GET", "/admin/accounts", who, query=query)


def reviews(api: ApiAccount, **query: str) -> Reply:
    return api.call("GET", "/admin/reviews", ADMIN, query=query)


def decide(api: ApiAccount, review_id: str, decision: str, who: dict[str, str] = ADMIN) -> Reply:
    return api.call(
        "POST",
        f"/admin/reviews/{review_id}",
        who,
        body={"decision": decision, "reason": REASON},
        path_parameters={"review_id": review_id},
        resource="/admin/reviews/{review_id}",
    )


def reinstate(api: ApiAccount, user: str) -> Reply:
    return api.call(
        "POST",
        f"/admin/accounts/{user}/reinstate",
        ADMIN,
        body={"reason": REASON},
        path_parameters={"user": user},
        resource="/admin/accounts/{user}/reinstate",
    )


def job(as_of: datetime) -> HygieneRun:
    """One run of the daily job as of `as_of`, wired as its Lambda is."""
    return run_hygiene(build_hygiene_ports(settings()), now=as_of, run_id=f"run-{as_of.timestamp()}")


def by_name(reply: Reply) -> dict[str, dict[str, Any]]:
    return {a["username"]: a for a in reply.body["accounts"]}


def test_admin_lists_accounts_with_groups_lea_status_and_last_request(pool: ApiAccount) -> None:
    assert pool.call("GET", "/alerts", OP_KENT).status == 200
    reply = accounts(pool)
    assert reply.status == 200
    listed = by_name(reply)
    assert set(listed) == {"adm.nat", "op.kent", "inv.essex"}
    kent = listed["op.kent"]
    assert (kent["groups"], kent["lea"], kent["status"], kent["enabled"]) == (
        ["operator"],
        "KENT",
        "active",
        True,
    )
    assert kent["last_api_request_at"] is not None
    assert listed["inv.essex"]["last_api_request_at"] is None
    assert datetime.fromisoformat(kent["created_at"]) <= datetime.now(UTC)
    # moto keeps no Cognito auth events: last sign-in is unknown here, and the page says so.
    assert (kent["last_sign_in_at"], reply.body["sign_in_history"]) == (None, False)
    assert pool.audit_for(reply.request_id)["result_count"] == 3


def test_accounts_filter_by_status_lea_and_group(pool: ApiAccount) -> None:
    pool.call(
        "POST",
        "/admin/accounts/inv.essex/disable",
        ADMIN,
        body={"reason": "Left the force, HR ref 2026/114"},
        path_parameters={"user": "inv.essex"},
        resource="/admin/accounts/{user}/disable",
    )
    assert set(by_name(accounts(pool, status="disabled"))) == {"inv.essex"}
    assert set(by_name(accounts(pool, status="active"))) == {"adm.nat", "op.kent"}
    assert set(by_name(accounts(pool, lea="KENT"))) == {"op.kent"}
    assert set(by_name(accounts(pool, group="investigator"))) == {"inv.essex"}
    assert by_name(accounts(pool, group="dpo")) == {}


def test_accounts_come_in_pages_each_once(pool: ApiAccount) -> None:
    seen: list[str] = []
    query = {"limit": "1"}
    for _ in range(5):
        reply = accounts(pool, **query)
        assert reply.status == 200
        seen.extend(a["username"] for a in reply.body["accounts"])
        if reply.body["next_page_token"] is None:
            break
        query = {"limit": "1", "page_token": reply.body["next_page_token"]}
    assert sorted(seen) == ["adm.nat", "inv.essex", "op.kent"]
    token = accounts(pool, limit="1").body["next_page_token"]
    refused = accounts(pool, limit="1", lea="KENT", page_token=token)
    assert (refused.status, refused.body["error"]["fields"]) == (400, ["page_token"])


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "asleep"}, "status"), ({"lea": "kent!"}, "lea"), ({"limit": "51"}, "limit")],
)
def test_account_listing_refuses_bad_filters(pool: ApiAccount, query: dict[str, str], field: str) -> None:
    reply = accounts(pool, **query)
    assert (reply.status, reply.body["error"]["fields"]) == (400, [field])


def test_only_admins_list_accounts_and_reviews(pool: ApiAccount) -> None:
    for path in ("/admin/accounts", "/admin/reviews"):
        reply = pool.call("GET", path, OP_KENT)
        assert (reply.status, reply.body["error"]["code"]) == (403, "role-not-permitted")


def test_reviews_list_overdue_first_with_due_dates_seven_days_on(pool: ApiAccount) -> None:
    now = datetime.now(UTC)
    job(now - timedelta(days=10))  # three new accounts: role-change reviews due 3 days ago
    pool.call("GET", "/alerts", claims("adm.nat", "admin", "NATIONAL"))
    later = now + timedelta(days=91)
    run = job(later)
    assert sorted(run.suspended) == ["inv.essex", "op.kent"]
    assert run.kept == ["adm.nat"]  # the last enabled admin, listed but left enabled
    listed = reviews(pool).body["reviews"]
    kinds = [(r["kind"], r["overdue"]) for r in listed]
    assert kinds == [("role-change", True)] * 3 + [("idle", False)] * 3
    for review in listed:
        opened = datetime.fromisoformat(review["opened_at"])
        assert datetime.fromisoformat(review["due_at"]) - opened == timedelta(days=7)
    assert [r["due_at"] for r in listed] == sorted(r["due_at"] for r in listed)


def test_reinstating_on_review_lets_the_users_next_token_through(pool: ApiAccount) -> None:
    job(datetime.now(UTC) + timedelta(days=91))
    refused = pool.call("GET", "/alerts", OP_KENT)
    assert (refused.status, refused.body["error"]["code"]) == (401, "account-disabled")
    [review] = [
        r for r in reviews(pool).body["reviews"] if r["username"] == "op.kent" and r["kind"] == "idle"
    ]
    decided = decide(pool, review["review_id"], "reinstate")
    assert decided.status == 200
    assert (decided.body["state"], decided.body["decision"], decided.body["decided_by"]) == (
        "decided",
        "reinstate",
        "adm.nat",
    )
    assert pool.call("GET", "/alerts", OP_KENT).status == 200
    user = pool.cognito.admin_get_user(UserPoolId=pool.user_pool_id, Username="op.kent")
    assert user["Enabled"] is True
    assert by_name(accounts(pool))["op.kent"]["status"] == "active"
    again = decide(pool, review["review_id"], "keep-suspended")
    assert (again.status, again.body["error"]["code"]) == (409, "conflict")
    record = pool.audit_for(decided.request_id)
    assert record["reason"] == REASON
    assert record["parameters"]["arguments"]["review_id"] == review["review_id"]
    assert record["parameters"]["uses"] == {"user": "op.kent", "decision": "reinstate"}
    assert set(reviews(pool, state="decided").body["reviews"][0]) >= {"decision_reason", "decided_at"}


def test_a_reinstated_account_is_not_idle_again_the_next_day(pool: ApiAccount) -> None:
    as_of = datetime.now(UTC) + timedelta(days=91)
    job(as_of)
    # The API's clock where the job's is: reinstated an hour after the suspension.
    wiring.install(wiring.build_services(settings(), clock=lambda: as_of + timedelta(hours=1)))
    assert reinstate(pool, "op.kent").status == 200
    assert "op.kent" not in job(as_of + timedelta(days=1)).suspended


def test_keep_suspended_and_remove_keep_the_account_out(pool: ApiAccount) -> None:
    job(datetime.now(UTC) + timedelta(days=91))
    idle = {r["username"]: r["review_id"] for r in reviews(pool).body["reviews"] if r["kind"] == "idle"}
    assert decide(pool, idle["op.kent"], "keep-suspended").status == 200
    assert pool.call("GET", "/alerts", OP_KENT).status == 401
    assert by_name(accounts(pool))["op.kent"]["status"] == "suspended"
    assert decide(pool, idle["inv.essex"], "remove").status == 200
    assert by_name(accounts(pool))["inv.essex"]["status"] == "removed"
    refused = reinstate(pool, "inv.essex")
    assert (refused.status, refused.body["error"]["code"]) == (409, "conflict")
    user = pool.cognito.admin_get_user(UserPoolId=pool.user_pool_id, Username="inv.essex")
    assert user["Enabled"] is False  # disabled for good, never deleted: the audit trail names it


def test_review_decisions_are_checked(pool: ApiAccount) -> None:
    job(datetime.now(UTC) + timedelta(days=91))
    listed = reviews(pool).body["reviews"]
    role_change = next(r for r in listed if r["kind"] == "role-change" and r["username"] == "op.kent")
    wrong = decide(pool, role_change["review_id"], "reinstate")
    assert (wrong.status, wrong.body["error"]["fields"]) == (400, ["decision"])
    assert decide(pool, role_change["review_id"], "confirm").status == 200
    own = next(r for r in listed if r["username"] == "adm.nat")
    refused = decide(pool, own["review_id"], "confirm")
    assert (refused.status, refused.body["error"]["code"]) == (403, "self-review")
    missing = decide(pool, "00000000-0000-4000-8000-000000000000", "confirm")
    assert missing.status == 404
    malformed = decide(pool, "not-a-review", "confirm")
    assert (malformed.status, malformed.body["error"]["fields"]) == (400, ["review_id"])


def test_a_leaver_disabled_by_mistake_is_reinstated_directly(pool: ApiAccount) -> None:
    pool.call(
        "POST",
        "/admin/accounts/op.kent/disable",
        ADMIN,
        body={"reason": "Left the force, HR ref 2026/114"},
        path_parameters={"user": "op.kent"},
        resource="/admin/accounts/{user}/disable",
    )
    assert pool.call("GET", "/alerts", OP_KENT).status == 401
    reply = reinstate(pool, "op.kent")
    assert (reply.status, reply.body["disabled"], reply.body["reinstated_by"]) == (200, False, "adm.nat")
    assert pool.call("GET", "/alerts", OP_KENT).status == 200
    assert reinstate(pool, "nobody.here").status == 404


def test_a_reinstated_user_is_let_through_within_the_cache_period_on_other_instances(
    pool: ApiAccount,
) -> None:
    class Clock:
        now = 1000.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    serving = wiring.build_services(settings(), monotonic=clock)
    job(datetime.now(UTC) + timedelta(days=91))
    wiring.install(serving)
    assert pool.call("GET", "/alerts", OP_KENT).status == 401  # "disabled" now cached here
    wiring.install(wiring.build_services(settings()))
    assert reinstate(pool, "op.kent").status == 200
    wiring.install(serving)
    clock.now += 29
    assert pool.call("GET", "/alerts", OP_KENT).status == 401
    clock.now += 2
    assert pool.call("GET", "/alerts", OP_KENT).status == 200
