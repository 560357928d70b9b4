"""`nas login`: signs in to the Cognito user pool (local or AWS) with USER_PASSWORD_AUTH, answers
an authenticator-app MFA challenge, prints the ID token and keeps it for later commands."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from nas.cli.target import AwsTarget, TargetError

DEFAULT_TOKEN_FILE = Path.home() / ".nas" / "token"
MFA_CHALLENGE = "SOFTWARE_TOKEN_MFA"


class LoginFailed(RuntimeError):
    """Cognito refused the sign-in or asked for something this command cannot answer."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True, help="(local demo passwords are in .nas-local.json)")
    parser.add_argument("--config", help="settings file written by `nas local` (.nas-local.json)")
    parser.add_argument("--endpoint", help="Cognito endpoint URL (local mode's AWS endpoint)")
    parser.add_argument("--region", help="AWS region of the user pool (default eu-west-2)")
    parser.add_argument("--user-pool-id", help="user pool id (informational; the app client identifies it)")
    parser.add_argument("--app-client-id", help="the API's app client id")
    parser.add_argument(
        "--token-file",
        type=Path,
        default=DEFAULT_TOKEN_FILE,
        help=f"where to keep the token ({DEFAULT_TOKEN_FILE})",
    )


def app_client_id(args: argparse.Namespace) -> str:
    if args.app_client_id:
        return str(args.app_client_id)
    if args.config:
        try:
            value = json.loads(Path(args.config).read_text(encoding="utf-8")).get("app_client_id")
        except (OSError, ValueError, AttributeError) as exc:
            raise TargetError(f"--config {args.config}: {exc}") from None
        if isinstance(value, str) and value:
            return value
    raise TargetError("no app client: pass --config or --app-client-id")


def sign_in(
    cognito: Any, client_id: str, username: str, password: str, ask_code: Callable[[str], str]
) -> dict[str, Any]:
    """The AuthenticationResult (IdToken, AccessToken, …) after any MFA challenge."""
    response = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    while "AuthenticationResult" not in response:
        challenge = response.get("ChallengeName")
        if challenge != MFA_CHALLENGE:
            raise LoginFailed(f"Cognito asks for {challenge}, which `nas login` cannot answer")
        code = ask_code("MFA code from your authenticator app: ").strip()
        response = cognito.respond_to_auth_challenge(
            ClientId=client_id,
            ChallengeName=MFA_CHALLENGE,
            Session=response["Session"],
            ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": code},
        )
    result: dict[str, Any] = response["AuthenticationResult"]
    return result


def keep_token(path: Path, token: str) -> None:
    """Writes the token readable by the user alone."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")


def command(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    ask_code: Callable[[str], str] = input,
    cognito: Any | None = None,
) -> int:
    client_id = app_client_id(args)
    client = cognito if cognito is not None else AwsTarget.from_args(args).client("cognito-idp")
    try:
        result = sign_in(client, client_id, args.username, args.password, ask_code)
    except (LoginFailed, ClientError, BotoCoreError) as exc:
        err.write(f"nas login: {exc}\n")
        return 1
    token = str(result["IdToken"])
    keep_token(args.token_file, token)
    out.write(token + "\n")
    err.write(f"nas login: ID token kept in {args.token_file} (valid {result.get('ExpiresIn', '?')} s)\n")
    return 0
