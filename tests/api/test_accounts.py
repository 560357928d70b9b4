"""R-ACCOUNT: a leaver is disabled at once by an admin (POST /admin/accounts/{user}/disable, or
`nas admin disable`), and their still-valid ID token is refused within a minute everywhere."""

from __future__ import annotations

import pytest

from nas.api import wiring
from nas.settings import settings
from tests.api.conftest import ApiAccount, Reply, claims

ADMIN = claims("adm.nat", "admin", "NATIONAL")
LEAVER = claims("leaver.kent", "operator", "KENT")
REASON = {"reason": "Left the force, HR ref 2026/114"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def disable(api: ApiAccount, user: str, who: dict[str, str] = ADMIN, body: object = REASON) -> Reply:
    return api.call(
        "POST",
        f"/admin/accounts/{user}/disable",
        who,
        body=body,
        path_parameters={"user": user},
        resource="/admin/accounts/{user}/disable",
    )


@pytest.fixture
def leaver(api: ApiAccount) -> ApiAccount:
    api.cognito.admin_create_user(UserPoolId=api.user_pool_id, Username="leaver.kent")
    return api


def test_admin_disables_a_leaver_in_cognito_and_the_api(leaver: ApiAccount) -> None:
    assert leaver.call("GET", "/alerts", LEAVER).status == 200
    reply = disable(leaver, "leaver.kent")
    assert reply.status == 200
    assert reply.body["disabled"] is True
    assert reply.body["disabled_by"] == "adm.nat"
    user = leaver.cognito.admin_get_user(UserPoolId=leaver.user_pool_id, Username="leaver.kent")
    assert user["Enabled"] is False
    refused = leaver.call("GET", "/alerts", LEAVER)
    assert (refused.status, refused.body["error"]["code"]) == (401, "account-disabled")
    assert leaver.audit_for(refused.request_id)["user"] == "leaver.kent"
    record = leaver.audit_for(reply.request_id)
    assert record["reason"] == REASON["reason"]
    assert record["parameters"]["arguments"]["user"] == "leaver.kent"


def test_a_disabled_users_token_is_refused_within_a_minute_on_every_instance(leaver: ApiAccount) -> None:
    clock = Clock()
    serving = wiring.build_services(settings(), monotonic=clock)  # the instance the leaver talks to
    other = wiring.build_services(settings())  # the instance the admin happens to reach
    wiring.install(serving)
    assert leaver.call("GET", "/alerts", LEAVER).status == 200  # "active" is now cached here
    wiring.install(other)
    assert disable(leaver, "leaver.kent").status == 200
    wiring.install(serving)
    refused_at = None
    for seconds in range(0, 61, 5):
        clock.now = 1000.0 + seconds
        if leaver.call("GET", "/alerts", LEAVER).status == 401:
            refused_at = seconds
            break
    assert refused_at is not None
    assert refused_at <= 60
    clock.now += 3600  # and it stays refused
    assert leaver.call("GET", "/alerts", LEAVER).status == 401


def test_the_gate_reads_each_user_once_per_cache_period(leaver: ApiAccount) -> None:
    from nas.adapters.accounts import AccountStatus, InMemoryAccountStore
    from nas.services.accounts import AccountDisabled, AccountGate

    clock = Clock()
    store = InMemoryAccountStore()
    gate = AccountGate(store, cache_s=30, monotonic=clock)
    for _ in range(10):
        gate.require_active("busy.user")
    assert store.reads == 1
    store.items["busy.user"] = AccountStatus(username="busy.user", disabled=True)
    clock.now += 29
    gate.require_active("busy.user")
    clock.now += 2
    with pytest.raises(AccountDisabled):
        gate.require_active("busy.user")


@pytest.mark.parametrize(
    ("user", "who", "body", "status", "code"),
    [
        ("nobody.here", ADMIN, REASON, 404, "not-found"),
        ("adm.nat", ADMIN, REASON, 403, "self-disable"),
        ("leaver.kent", claims("op", "operator", "KENT"), REASON, 403, "role-not-permitted"),
        ("leaver.kent", ADMIN, {"reason": "short"}, 400, "invalid-request"),
        ("leaver.kent", ADMIN, {}, 400, "invalid-request"),
        ("bad name!", ADMIN, REASON, 400, "invalid-request"),
    ],
)
def test_disable_refusals(
    leaver: ApiAccount, user: str, who: dict[str, str], body: object, status: int, code: str
) -> None:
    reply = disable(leaver, user, who, body)
    assert (reply.status, reply.body["error"]["code"]) == (status, code)
    assert leaver.call("GET", "/alerts", LEAVER).status == 200
