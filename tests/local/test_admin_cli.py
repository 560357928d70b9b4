"""`nas admin disable` through local mode's gateway with the admin's own token (R-ACCOUNT)."""

from __future__ import annotations

import json

import pytest

from nas.cli.main import main as nas
from nas.domain.roles import Role
from nas.local.demo import create_user
from tests.local.conftest import Local


def test_admin_disables_a_leaver_whose_token_is_then_refused(
    local: Local, tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    leaver = create_user(
        local.client("cognito-idp"), local.config["user_pool_id"], "leaver-kent", Role.OPERATOR, "KENT"
    )
    leaver_token = str(local.sign_in(leaver["username"], leaver["password"])["IdToken"])
    assert local.request("GET", "/alerts", token=leaver_token)[0] == 200

    token_file = tmp_path / "admin-token"  # type: ignore[operator]
    token_file.write_text(local.id_token("admin"))
    args = [
        "admin",
        "disable",
        "leaver-kent",
        "--config",
        str(local.config_path),
        "--token-file",
        str(token_file),
    ]
    assert nas([*args, "--reason", "Left the force, HR ref 2026/201"]) == 0
    assert '"disabled": true' in capsys.readouterr().out

    status, _, body = local.request("GET", "/alerts", token=leaver_token)
    assert (status, body["error"]["code"]) == (401, "account-disabled")
    assert nas([*args, "--reason", "short"]) == 1
    assert "400 invalid-request" in capsys.readouterr().err

    token_file.write_text(local.id_token("operator"))
    assert nas([*args, "--reason", "Left the force, HR ref 2026/201"]) == 1
    assert "403 role-not-permitted" in capsys.readouterr().err


def test_an_admin_sees_demo_accounts_suspended_after_the_job_runs_91_days_on(
    local: Local, tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "admin-token"  # type: ignore[operator]
    token_file.write_text(local.id_token("admin"))
    api = ["--config", str(local.config_path), "--token-file", str(token_file)]
    assert local.request("GET", "/alerts", token=local.id_token("operator"))[0] == 200

    assert (
        nas(["jobs", "run", "account-hygiene", "--config", str(local.config_path), "--days-ahead", "91"]) == 0
    )
    run = json.loads(capsys.readouterr().out)
    assert "operator-kent" in run["suspended"]
    assert run["kept"] == ["admin-national"]  # the last enabled administrator stays, listed for review
    suspended: list[str] = run["suspended"]
    try:
        # No new token for a suspended user (the API refuses a live one within 30 s: tests/api).
        with pytest.raises(local.client("cognito-idp").exceptions.NotAuthorizedException):
            local.id_token("operator")

        assert nas(["admin", "accounts", "--status", "suspended", *api]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert set(suspended) <= {a["username"] for a in listed["accounts"]}
        assert "operator-kent" in suspended
        assert listed["sign_in_history"] is False  # moto keeps no Cognito auth events

        assert nas(["admin", "reviews", *api]) == 0
        reviews = json.loads(capsys.readouterr().out)["reviews"]
        [review] = [r for r in reviews if r["username"] == "operator-kent" and r["kind"] == "idle"]
        reason = "Back from long-term leave, line manager ref 2026/31"
        assert (
            nas(["admin", "decide", review["review_id"], "--decision", "reinstate", "--reason", reason, *api])
            == 0
        )
        assert json.loads(capsys.readouterr().out)["decision"] == "reinstate"
        assert local.request("GET", "/alerts", token=local.id_token("operator"))[0] == 200
    finally:
        for username in suspended:
            if username != "operator-kent":
                nas(["admin", "reinstate", username, "--reason", "Demo accounts back after the test", *api])
        capsys.readouterr()


def test_an_auditor_reads_the_signed_retention_statement(
    local: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    assert nas(["jobs", "run", "retention", "--config", str(local.config_path)]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["within_retention"] is True
    status, _, body = local.request("GET", "/reports/retention", token=local.id_token("auditor"))
    assert status == 200
    assert (body["statement_key"], body["signature_valid"]) == (run["statement"], True)
    assert {p["prefix"] for p in body["prefixes"]} >= {"reads/", "images/", "quarantine/"}
