"""`nas admin accounts|reviews|decide|disable|reinstate` (R-ACCOUNT): account administration through
the API, with the admin's own token, so every action is authorised and audited like any other."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO
from urllib.parse import quote

from nas.cli.api_client import ApiCallFailed, ApiClient, add_api_arguments
from nas.domain.accounts import AccountState, Decision, ReviewState
from nas.domain.roles import Role


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="admin_action", metavar="ACTION", required=True)
    accounts = actions.add_parser("accounts", help="list accounts: groups, LEA, status, last use")
    accounts.add_argument("--status", choices=[s.value for s in AccountState], help="only this status")
    accounts.add_argument("--lea", help="only users of this LEA code")
    accounts.add_argument("--group", choices=[r.value for r in Role], help="only members of this group")
    accounts.add_argument("--limit", type=int, default=25, help="page size, 1..50")
    accounts.add_argument("--page-token", help="next_page_token of the previous page")
    add_api_arguments(accounts)

    reviews = actions.add_parser(
        "reviews", help="account reviews: suspensions and role changes, overdue first"
    )
    reviews.add_argument("--state", choices=[s.value for s in ReviewState], default=ReviewState.OPEN.value)
    reviews.add_argument("--limit", type=int, default=50, help="page size, 1..100")
    reviews.add_argument("--page-token", help="next_page_token of the previous page")
    add_api_arguments(reviews)

    decide = actions.add_parser("decide", help="record a reviewer's decision on an account review")
    decide.add_argument("review_id", help="the review's id (from `nas admin reviews`)")
    decide.add_argument("--decision", required=True, choices=[d.value for d in Decision])
    decide.add_argument("--reason", required=True, help="why, 10-500 characters")
    add_api_arguments(decide)

    disable = actions.add_parser("disable", help="disable an account now (a leaver): R-ACCOUNT")
    disable.add_argument("user", help="the Cognito user name")
    disable.add_argument("--reason", required=True, help="why (e.g. the HR reference), 10-500 characters")
    add_api_arguments(disable)

    reinstate = actions.add_parser("reinstate", help="let a suspended or disabled account back in")
    reinstate.add_argument("user", help="the Cognito user name")
    reinstate.add_argument("--reason", required=True, help="why, 10-500 characters")
    add_api_arguments(reinstate)


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, str | None] | None, Any]:
    action = args.admin_action
    if action == "accounts":
        query = {
            "status": args.status,
            "lea": args.lea,
            "group": args.group,
            "limit": str(args.limit),
            "page_token": args.page_token,
        }
        return "GET", "/admin/accounts", query, None
    if action == "reviews":
        query = {"state": args.state, "limit": str(args.limit), "page_token": args.page_token}
        return "GET", "/admin/reviews", query, None
    if action == "decide":
        body = {"decision": args.decision, "reason": args.reason}
        return "POST", f"/admin/reviews/{quote(args.review_id, safe='')}", None, body
    return "POST", f"/admin/accounts/{quote(args.user, safe='')}/{action}", None, {"reason": args.reason}


def command(args: argparse.Namespace, out: TextIO, err: TextIO, *, client: ApiClient | None = None) -> int:
    api = client or ApiClient.from_args(args)
    method, path, query, body = _request(args)
    try:
        answer = api.call(method, path, query=query, body=body)
    except ApiCallFailed as exc:
        err.write(f"nas admin {args.admin_action}: {exc}\n")
        return 1
    out.write(json.dumps(answer, indent=2) + "\n")
    return 0
