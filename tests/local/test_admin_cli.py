"""`nas admin disable` through local mode's gateway with the admin's own token (R-ACCOUNT)."""

from __future__ import annotations

import pytest

from nas.cli.main import main as nas
from nas.domain.roles import Role
from nas.local.demo import create_user
from tests.local.conftest import Local

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


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
