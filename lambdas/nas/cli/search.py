"""`nas search vrm|partial|location|convoy …`: a search through the API with the token `nas login`
keeps, so it is authorised and audited as any other request (R-ACCESS, R-REASON, R-AUDIT). Waits for
the search with a progress indicator, then prints its rows as a table, JSON or CSV; `--all-pages`
follows `next_page_token` to the end (at most 1,000 rows: R-LIMIT)."""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TextIO
from urllib.parse import quote

from nas.cli.api_client import ApiCallFailed, ApiClient, add_api_arguments

POLL_INTERVAL_S = 1.0
DEFAULT_WAIT_S = 300.0
FINISHED = frozenset({"succeeded", "failed", "expired"})
_RELATIVE = re.compile(r"^(\d+)([dhm])$")
READ_COLUMNS = ("captured_at", "vrm", "camera_id", "lea", "direction", "confidence", "read_id")
CONVOY_COLUMNS = ("vrm", "count", "supporting_reads", "cameras", "read_ids")


def instant(text: str) -> str:
    """RFC 3339 as given, or `7d` / `24h` / `30m` ago, as RFC 3339 in UTC."""
    match = _RELATIVE.match(text.strip())
    if match is None:
        return text
    amount, unit = int(match[1]), match[2]
    delta = {"d": timedelta(days=amount), "h": timedelta(hours=amount), "m": timedelta(minutes=amount)}[unit]
    return (datetime.now(UTC) - delta).isoformat(timespec="seconds").replace("+00:00", "Z")


class Api(Protocol):
    """What the command needs of `ApiClient`."""

    def call(
        self, method: str, path: str, *, query: Mapping[str, str | None] | None = None, body: Any = None
    ) -> Any: ...


def add_arguments(parser: argparse.ArgumentParser) -> None:
    types = parser.add_subparsers(dest="search_type", metavar="TYPE", required=True)
    vrm = types.add_parser("vrm", help="reads of one VRM")
    vrm.add_argument("vrm")
    vrm.add_argument("--ocr-tolerant", action="store_true", help="also VRMs differing by OCR look-alikes")
    partial = types.add_parser(
        "partial", help="reads whose VRM matches a pattern (? one character, * any run)"
    )
    partial.add_argument("pattern")
    location = types.add_parser("location", help="reads at cameras, named or near a point (24 hours at most)")
    where = location.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--camera", action="append", dest="cameras", metavar="CAMERA_ID", help="repeat up to 20"
    )
    where.add_argument(
        "--near", metavar="LAT,LON,RADIUS_M", help="registered cameras within RADIUS_M (≤ 2,000)"
    )
    convoy = types.add_parser("convoy", help="other VRMs seen with a VRM at the same cameras and times")
    convoy.add_argument("vrm")
    convoy.add_argument("--within-s", type=int, default=120, help="seconds either side (≤ 600; default 120)")
    convoy.add_argument("--min-sightings", type=int, default=3, help="distinct occasions (default 3)")
    for sub in (vrm, partial, location, convoy):
        sub.add_argument(
            "--from", dest="from_", metavar="FROM", required=True, help="RFC 3339, or 7d / 24h / 30m ago"
        )
        sub.add_argument("--to", default=None, help="RFC 3339, or 7d / 24h / 30m ago (default now)")
        sub.add_argument(
            "--level",
            default="priority-volume",
            choices=("priority-volume", "serious-complex", "major"),
            help="investigation level (R-ACCESS; default priority-volume)",
        )
        sub.add_argument(
            "--purpose", required=True, choices=("national-security", "crime", "tax-duty", "public-safety")
        )
        sub.add_argument("--reason", required=True, help="why, at least 10 characters (R-REASON)")
        sub.add_argument("--case-ref", required=True)
        sub.add_argument("--authorisation", help="authorisation id, for a lookback beyond 90 days (R-AUTHZ)")
        sub.add_argument("--format", choices=("table", "json", "csv"), default="table")
        sub.add_argument("--all-pages", action="store_true", help="every page, not only the first 100 rows")
        sub.add_argument(
            "--wait-s", type=float, default=DEFAULT_WAIT_S, help="give up waiting after this long"
        )
        add_api_arguments(sub)


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": args.search_type,
        "from": instant(args.from_),
        "to": instant(args.to)
        if args.to
        else datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "investigation_level": args.level,
        "purpose": args.purpose,
        "reason": args.reason,
        "case_ref": args.case_ref,
    }
    if args.authorisation:
        body["authorisation_id"] = args.authorisation
    if args.search_type == "vrm":
        body.update(vrm=args.vrm, ocr_tolerant=args.ocr_tolerant)
    elif args.search_type == "partial":
        body["pattern"] = args.pattern
    elif args.search_type == "location":
        if args.cameras:
            body["camera_ids"] = args.cameras
        else:
            try:
                lat, lon, radius = (float(part) for part in args.near.split(","))
            except ValueError:
                raise ValueError("--near takes LAT,LON,RADIUS_M, e.g. 51.2798,1.0789,500") from None
            body["near"] = {"lat": lat, "lon": lon, "radius_m": radius}
    else:
        body.update(vrm=args.vrm, within_s=args.within_s, min_sightings=args.min_sightings)
    return body


class Progress:
    """A one-line indicator on stderr: updated in place on a terminal, a start and an end line otherwise."""

    FRAMES = "|/-\\"

    def __init__(self, err: TextIO, search_id: str) -> None:
        self._err = err
        self._tty = bool(getattr(err, "isatty", lambda: False)())
        self._search_id = search_id
        self._ticks = 0
        if not self._tty:
            err.write(f"search {search_id}: waiting for results\n")

    def tick(self, status: str, elapsed_s: float) -> None:
        self._ticks += 1
        if self._tty:
            frame = self.FRAMES[self._ticks % len(self.FRAMES)]
            self._err.write(f"\r{frame} search {self._search_id}: {status}, {elapsed_s:.0f} s ")
            self._err.flush()

    def done(self, status: str, elapsed_s: float) -> None:
        prefix = "\r" if self._tty else ""
        self._err.write(f"{prefix}search {self._search_id}: {status} after {elapsed_s:.1f} s\n")


def command(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    client: Api | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    api: Api = client or ApiClient.from_args(args)
    try:
        body = request_body(args)
    except ValueError as exc:
        err.write(f"nas search: {exc}\n")
        return 2
    try:
        started = api.call("POST", "/searches", body=body)
        search_id = str(started["search_id"])
        path = f"/searches/{quote(search_id, safe='')}"
        progress = Progress(err, search_id)
        began = monotonic()
        page = api.call("GET", path)
        while page["status"] not in FINISHED:
            if monotonic() - began > args.wait_s:
                progress.done(f"still {page['status']}; see GET {path}", monotonic() - began)
                return 1
            progress.tick(page["status"], monotonic() - began)
            sleep(POLL_INTERVAL_S)
            page = api.call("GET", path)
        progress.done(page["status"], monotonic() - began)
        if page["status"] != "succeeded":
            err.write(f"nas search: the search {page['status']}: {page.get('failure') or 'no rows kept'}\n")
            return 1
        rows = list(page["rows"])
        while args.all_pages and page.get("next_page_token"):
            page = api.call("GET", path, query={"page_token": page["next_page_token"]})
            rows += page["rows"]
    except ApiCallFailed as exc:
        err.write(f"nas search: {exc}\n")
        return 1
    write(out, args.format, page | {"rows": rows}, convoy=args.search_type == "convoy")
    if page.get("next_page_token") and not args.all_pages:
        err.write("more rows: add --all-pages\n")
    if page.get("truncated"):
        err.write("truncated: more than 1,000 rows matched (R-LIMIT); narrow the search\n")
    return 0


def _flat(row: dict[str, Any], convoy: bool) -> dict[str, Any]:
    if not convoy:
        return {name: row.get(name) for name in READ_COLUMNS}
    return {
        "vrm": row["vrm"],
        "count": row["count"],
        "supporting_reads": row["supporting_reads"],
        "cameras": " ".join(row["cameras"]),
        "read_ids": " ".join(r["read_id"] for r in row["reads"]),
    }


def write(out: TextIO, fmt: str, page: dict[str, Any], *, convoy: bool) -> None:
    if fmt == "json":
        keep = ("search_id", "type", "status", "row_count", "truncated", "rows")
        out.write(json.dumps({k: page.get(k) for k in keep}, indent=2) + "\n")
        return
    columns = CONVOY_COLUMNS if convoy else READ_COLUMNS
    flat = [_flat(row, convoy) for row in page["rows"]]
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        return
    cells = [[str(row[c]) if row[c] is not None else "" for c in columns] for row in flat]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for row_cells in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row_cells, widths, strict=True)).rstrip() + "\n")
    out.write(f"{len(cells)} row(s)\n")
