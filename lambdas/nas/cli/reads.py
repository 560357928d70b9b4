"""`nas read get|image|correct` and `nas preserve`: one read of the caller's own search, its images
and its correction (R-CORRECT), and a preservation for a case (R-PRESERVE), through the API with the
token `nas login` keeps, so each is authorised and audited as any other request (R-REASON: the search's
purpose, reason and case carry over)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import quote

from nas.cli.api_client import ApiCallFailed, ApiClient, add_api_arguments

IMAGE_MEDIA_TYPE = "image/jpeg"
READ_FIELDS = (
    "read_id",
    "vrm",
    "original_vrm",
    "corrected",
    "captured_at",
    "camera_id",
    "lea",
    "lat",
    "lon",
    "direction",
    "confidence",
    "source",
    "lane",
    "late",
    "ingested_at",
)


class Api(Protocol):
    """What the commands need of `ApiClient`."""

    def call(self, method: str, path: str, *, query: Any = None, body: Any = None) -> Any: ...

    def fetch(
        self, method: str, path: str, *, query: Any = None, body: Any = None, accept: str = ...
    ) -> bytes: ...


def add_read_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="read_action", metavar="ACTION", required=True)
    get = actions.add_parser("get", help="a read of your search: its row, images held, corrections")
    image = actions.add_parser("image", help="write a read's plate or overview image (JPEG) to a file")
    image.add_argument("--kind", choices=("plate", "overview"), default="plate")
    image.add_argument("--out", type=Path, required=True, help="the JPEG file to write")
    correct = actions.add_parser("correct", help="correct a misread VRM, with a reason (R-CORRECT)")
    correct.add_argument("--vrm", required=True, help="the VRM the plate really shows")
    correct.add_argument("--reason", required=True, help="why, at least 10 characters")
    correct.add_argument("--alert", help="the alert whose misread outcome this correction answers")
    for sub in (get, image, correct):
        sub.add_argument("read_id")
        sub.add_argument("--search", required=True, metavar="SEARCH_ID", help="your search that found it")
        sub.add_argument("--format", choices=("text", "json"), default="text")
        add_api_arguments(sub)


def add_preserve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--search", required=True, metavar="SEARCH_ID", help="your search that found them")
    parser.add_argument(
        "--read", action="append", dest="read_ids", required=True, metavar="READ_ID", help="repeat (≤ 1,000)"
    )
    parser.add_argument("--case-ref", required=True)
    parser.add_argument("--reason", required=True, help="why, at least 10 characters (R-PRESERVE)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_api_arguments(parser)


def _read_path(args: argparse.Namespace) -> str:
    return f"/reads/{quote(args.read_id, safe='')}"


def read_command(args: argparse.Namespace, out: TextIO, err: TextIO, *, client: Api | None = None) -> int:
    api: Api = client or ApiClient.from_args(args)
    query = {"search_id": args.search}
    try:
        if args.read_action == "image":
            path = f"{_read_path(args)}/images/{args.kind}"
            body = api.fetch("GET", path, query=query, accept=IMAGE_MEDIA_TYPE)
            args.out.write_bytes(body)
            out.write(f"{args.out}: {len(body)} bytes ({args.kind} image of {args.read_id})\n")
            return 0
        if args.read_action == "correct":
            body_fields = {"search_id": args.search, "vrm": args.vrm, "reason": args.reason}
            if args.alert:
                body_fields["alert_id"] = args.alert
            made = api.call("POST", f"{_read_path(args)}/corrections", body=body_fields)
            _write_correction(out, args.format, made)
            return 0
        read = api.call("GET", _read_path(args), query=query)
    except ApiCallFailed as exc:
        err.write(f"nas read {args.read_action}: {exc}\n")
        return 1
    _write_read(out, args.format, read)
    return 0


def _write_read(out: TextIO, fmt: str, read: dict[str, Any]) -> None:
    if fmt == "json":
        out.write(json.dumps(read, indent=2) + "\n")
        return
    width = max(len(f) for f in READ_FIELDS)
    for name in READ_FIELDS:
        value = read.get(name)
        out.write(f"{name.ljust(width)}  {'' if value is None else value}\n")
    held = [kind for kind, present in read.get("images", {}).items() if present]
    out.write(f"{'images'.ljust(width)}  {' '.join(held) or 'none'}\n")
    for c in read.get("corrections", []):
        out.write(
            f"corrected {c['corrected_at']} by {c['corrected_by']}: {c['previous_vrm']} -> {c['vrm']}\n"
        )


def _write_correction(out: TextIO, fmt: str, made: dict[str, Any]) -> None:
    if fmt == "json":
        out.write(json.dumps(made, indent=2) + "\n")
        return
    correction = made["correction"]
    out.write(
        f"corrected {made['read']['read_id']}: {correction['previous_vrm']} -> {correction['vrm']}"
        f" ({correction['correction_id']})\n"
    )
    for match in made.get("voi_matches", []):
        out.write(
            f"on a live VOI list (no alert raised: the read is history): {match['voi_id']}"
            f" {match['category']} action={match['action']} priority={match['priority']}\n"
        )
    if made.get("voi_matches_withheld"):
        out.write(f"{made['voi_matches_withheld']} further live entry(ies) not circulated to your force\n")


def preserve_command(args: argparse.Namespace, out: TextIO, err: TextIO, *, client: Api | None = None) -> int:
    api: Api = client or ApiClient.from_args(args)
    body = {
        "search_id": args.search,
        "read_ids": args.read_ids,
        "case_ref": args.case_ref,
        "reason": args.reason,
    }
    try:
        made = api.call("POST", "/preservations", body=body)
    except ApiCallFailed as exc:
        err.write(f"nas preserve: {exc}\n")
        return 1
    if args.format == "json":
        out.write(json.dumps(made, indent=2) + "\n")
        return 0
    out.write(
        f"preservation {made['preservation_id']} for {made['case_ref']}: {made['reads']} read(s),"
        f" {made['files']} file(s) under a legal hold; manifest sha256 {made['manifest_sha256']}\n"
    )
    return 0
