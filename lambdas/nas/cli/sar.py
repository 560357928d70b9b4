"""`nas sar new|list|export`: the DPO's data-subject requests (R-SAR) through the API with the token
`nas login` keeps: record one (its due date comes back), list them (soonest due first, `--overdue`),
and write an access export (CSV or JSON: time, LEA and a 10 km grid square only) to a file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from nas.cli.api_client import ApiCallFailed, ApiClient, add_api_arguments
from nas.cli.reads import Api

LIST_COLUMNS = ("due_date", "overdue", "kind", "status", "vrm", "requester_ref", "request_id")
MEDIA_TYPES = {"csv": "text/csv", "json": "application/json"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="sar_action", metavar="ACTION", required=True)
    new = actions.add_parser("new", help="record a request; prints its id and due date")
    new.add_argument("--kind", required=True, choices=("access", "rectification", "erasure", "restriction"))
    new.add_argument("--vrm", required=True)
    new.add_argument("--received-at", required=True, help="RFC 3339 with offset, when it was received")
    new.add_argument("--requester-ref", required=True, help="your reference for the requester (no name)")
    new.add_argument("--notes", default="")
    listing = actions.add_parser("list", help="requests by status, soonest due first")
    listing.add_argument("--status", choices=("open", "decided"))
    listing.add_argument("--overdue", action="store_true", help="only open requests past their due date")
    export = actions.add_parser("export", help="write an access request's export to a file")
    export.add_argument("request_id")
    export.add_argument("--format", choices=tuple(MEDIA_TYPES), default="csv")
    export.add_argument("--out", type=Path, required=True)
    for sub in (new, listing, export):
        add_api_arguments(sub)


def command(args: argparse.Namespace, out: TextIO, err: TextIO, *, client: Api | None = None) -> int:
    api: Api = client or ApiClient.from_args(args)
    try:
        if args.sar_action == "new":
            body = {
                "kind": args.kind,
                "vrm": args.vrm,
                "received_at": args.received_at,
                "requester_ref": args.requester_ref,
                "notes": args.notes,
            }
            made = api.call("POST", "/subject-requests", body=body)
            out.write(
                f"request {made['request_id']} ({made['kind']} for {made['vrm']}) due {made['due_date']}\n"
            )
            return 0
        if args.sar_action == "list":
            query = {"status": args.status, "overdue": "true" if args.overdue else None}
            requests: list[dict[str, Any]] = []
            page = api.call("GET", "/subject-requests", query=query)
            requests += page["requests"]
            while page.get("next_page_token"):
                page = api.call(
                    "GET", "/subject-requests", query=query | {"page_token": page["next_page_token"]}
                )
                requests += page["requests"]
            _write_list(out, requests)
            return 0
        path = f"/subject-requests/{quote(args.request_id, safe='')}/export"
        body_bytes = api.fetch("GET", path, query={"format": args.format}, accept=MEDIA_TYPES[args.format])
    except ApiCallFailed as exc:
        err.write(f"nas sar {args.sar_action}: {exc}\n")
        return 1
    args.out.write_bytes(body_bytes)
    if args.format == "json":
        document = json.loads(body_bytes)
        out.write(f"{args.out}: {len(document['reads'])} read(s), {len(document['alerts'])} alert(s)\n")
    else:
        out.write(f"{args.out}: {max(body_bytes.count(b'\n') - 1, 0)} record(s)\n")
    return 0


def _write_list(out: TextIO, requests: list[dict[str, Any]]) -> None:
    cells = [[str(r.get(c, "")) for c in LIST_COLUMNS] for r in requests]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(LIST_COLUMNS)]
    out.write("  ".join(c.ljust(w) for c, w in zip(LIST_COLUMNS, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write(f"{len(cells)} request(s)\n")
