"""`.nas-local.json` names everything a command needs, and `nas login` prints a token the gateway
accepts (and answers an MFA challenge)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from nas import catalogue
from nas.cli.login import sign_in
from nas.cli.main import main
from nas.cli.target import AwsTarget
from nas.domain.roles import Role
from tests.local.conftest import Local

DOCUMENTED_KEYS = {
    "aws_endpoint",
    "api_url",
    "region",
    "stream",
    "user_pool_id",
    "app_client_id",
    "buckets",
    "tables",
    "demo",
}


def test_config_file_names_every_store(local: Local) -> None:
    config = json.loads(local.config_path.read_text())
    assert set(config) >= DOCUMENTED_KEYS
    assert set(config["buckets"]) == {b.value for b in catalogue.Bucket}
    assert set(config["tables"]) == {t.logical_name for t in catalogue.TABLES}
    assert config["region"] == "eu-west-2"
    demo = config["demo"]
    assert set(demo["users"]) == {r.value for r in Role}
    assert {c["lea"] for c in demo["cameras"]} >= {"KENT", "ESSEX", "GMP"}
    assert {
        u["lea"] for u in [*demo["users"].values(), *demo["other_users"]] if "operator" in u["username"]
    } == {
        "KENT",
        "ESSEX",
    }
    circulations = {tuple(v["circulation"]) for v in demo["voi"]}
    assert ("NATIONAL",) in circulations
    assert ("KENT",) in circulations
    assert any(v["white_listed"] and v["source"] == "dvla" for v in demo["voi"])


def test_every_store_in_the_config_exists(local: Local) -> None:
    config = local.config
    tables = set(local.client("dynamodb").list_tables()["TableNames"])
    assert set(config["tables"].values()) <= tables
    buckets = {b["Name"] for b in local.client("s3").list_buckets()["Buckets"]}
    assert set(config["buckets"].values()) <= buckets
    lock = local.client("s3").get_object_lock_configuration(Bucket=config["buckets"]["evidence"])
    assert lock["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    groups = local.client("cognito-idp").list_groups(UserPoolId=config["user_pool_id"])["Groups"]
    assert {g["GroupName"] for g in groups} == {r.value for r in Role}
    shards = local.client("kinesis").list_shards(StreamName=config["stream"])["Shards"]
    assert len(shards) == 4


def test_aws_target_reads_the_config(local: Local) -> None:
    target = AwsTarget.from_args(argparse.Namespace(config=str(local.config_path)))
    assert target.aws_endpoint == local.config["aws_endpoint"]
    assert target.read_stream() == local.config["stream"]
    assert target.table("cameras") == local.config["tables"]["cameras"]
    assert target.client("kinesis").describe_stream_summary(StreamName=target.read_stream())


def test_nas_login_prints_a_token_the_gateway_accepts(
    local: Local, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = local.config["demo"]["users"]["investigator"]
    token_file = tmp_path / "token"
    status = main(
        [
            "login",
            "--config",
            str(local.config_path),
            "--username",
            user["username"],
            "--password",
            user["password"],
            "--token-file",
            str(token_file),
        ]
    )
    assert status == 0
    token = capsys.readouterr().out.strip()
    assert token_file.read_text().strip() == token
    assert token_file.stat().st_mode & 0o077 == 0
    assert local.request("GET", "/no-such-route", token=token)[0] == 404


def test_nas_login_wrong_password_fails(local: Local, tmp_path: Path) -> None:
    user = local.config["demo"]["users"]["investigator"]
    argv = ["login", "--config", str(local.config_path), "--username", user["username"]]
    assert main([*argv, "--password", "wrong-password-x", "--token-file", str(tmp_path / "t")]) == 1
    assert not (tmp_path / "t").exists()


class MfaCognito:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def initiate_auth(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("initiate_auth", kwargs))
        return {"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": "s-1", "ChallengeParameters": {}}

    def respond_to_auth_challenge(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("respond", kwargs))
        return {"AuthenticationResult": {"IdToken": "id-token", "AccessToken": "a", "ExpiresIn": 3600}}


def test_mfa_challenge_is_answered_with_the_code() -> None:
    cognito = MfaCognito()
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return " 123456\n"

    result = sign_in(cognito, "client-1", "ivy", "pw", ask)
    assert result["IdToken"] == "id-token"
    assert len(prompts) == 1
    name, call = cognito.calls[1]
    assert name == "respond"
    assert call["Session"] == "s-1"
    assert call["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert call["ChallengeResponses"] == {"USERNAME": "ivy", "SOFTWARE_TOKEN_MFA_CODE": "123456"}


def test_login_command_with_mfa_prints_and_keeps_the_token(tmp_path: Path) -> None:
    from nas.cli import login

    args = argparse.Namespace(
        username="ivy",
        password="pw",
        config=None,
        endpoint=None,
        region=None,
        user_pool_id="p",
        app_client_id="client-1",
        token_file=tmp_path / "tok",
    )
    out, err = io.StringIO(), io.StringIO()
    assert login.command(args, out, err, ask_code=lambda _: "654321", cognito=MfaCognito()) == 0
    assert out.getvalue() == "id-token\n"
    assert (tmp_path / "tok").read_text() == "id-token\n"
