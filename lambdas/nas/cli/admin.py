"""`nas admin disable USER`: disables a leaver's account at once (R-ACCOUNT) through the API, with
the admin's own token, so the action is authorised and audited like any other."""

from __future__ import annotations

import argparse
import json
from typing import TextIO
from urllib.parse import quote

from nas.cli.api_client import ApiCallFailed, ApiClient, add_api_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="admin_action", metavar="ACTION", required=True)
    disable = actions.add_parser("disable", help="disable an account now (a leaver): R-ACCOUNT")
    disable.add_argument("user", help="the Cognito user name")
    disable.add_argument("--reason", required=True, help="why (e.g. the HR reference), 10-500 characters")
    add_api_arguments(disable)


def command(args: argparse.Namespace, out: TextIO, err: TextIO, *, client: ApiClient | None = None) -> int:
    api = client or ApiClient.from_args(args)
    try:
        answer = api.call(
            "POST", f"/admin/accounts/{quote(args.user, safe='')}/disable", body={"reason": args.reason}
        )
    except ApiCallFailed as exc:
        err.write(f"nas admin {args.admin_action}: {exc}\n")
        return 1
    out.write(json.dumps(answer, indent=2) + "\n")
    return 0
