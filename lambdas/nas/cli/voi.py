"""`nas voi`: VOI management through the API (R-VOI, R-VOI-BULK), with the caller's own token, so
every action is authorised and audited as any other request.

`nas voi import FILE --source dvla` requests an import, uploads the file to the presigned URL the
API returns (a progress bar in bytes), waits for the load (a progress bar in rows), then prints the
counts and the first rejected rows. Exit status: 0 the list was replaced; 1 the import failed or the
API refused; 2 the command could not run (no API, no token, no file).

`nas voi add|get|list|revise|delete` manage single entries.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from urllib.parse import quote

from nas.adapters.voi_keys import STATE_TTL_S
from nas.cli.api_client import ApiCallFailed, ApiClient, add_api_arguments
from nas.cli.progress import ProgressBar
from nas.cli.target import TargetError
from nas.domain.search import Purpose
from nas.domain.voi_lists import ListSource

POLL_INTERVAL_S = 1.0
DEFAULT_WAIT_S = 3 * 3600.0
REJECTS_PRINTED = 20
UPLOAD_TIMEOUT_S = 3600.0
FINISHED = frozenset({"succeeded", "failed"})
ENTRY_FIELDS = ("category", "action", "priority", "reason", "pnc_ref", "circulation", "sensitive")

Opener = Callable[..., Any]


class UploadFailed(RuntimeError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="voi_action", metavar="ACTION", required=True)

    bulk = actions.add_parser(
        "import", help="replace a bulk list (dvla, mib, pnc, whitelist) with a CSV file"
    )
    bulk.add_argument(
        "file", type=Path, help="CSV: vrm,category,action,priority,reason,pnc_ref,circulation,sensitive"
    )
    bulk.add_argument(
        "--source", required=True, choices=[s.value for s in ListSource], help="the list it replaces"
    )
    bulk.add_argument(
        "--wait", type=float, default=DEFAULT_WAIT_S, help="seconds to wait for the load (default 3 hours)"
    )
    add_api_arguments(bulk)

    add = actions.add_parser("add", help="add a single entry (local or pnc)")
    add.add_argument("--vrm", required=True)
    add.add_argument("--source", choices=["local", "pnc"], default="local")
    add.add_argument("--owner-lea", help="NATIONAL managers only")
    _entry_arguments(add, required=True)
    add_api_arguments(add)

    get = actions.add_parser("get", help="one entry, with its revision history")
    get.add_argument("voi_id")
    add_api_arguments(get)

    listing = actions.add_parser("list", help="the entries of a VRM")
    listing.add_argument("--vrm", required=True)
    add_api_arguments(listing)

    revise = actions.add_parser("revise", help="revise an entry (restarts its 28/56-day clocks)")
    revise.add_argument("voi_id")
    _entry_arguments(revise, required=False)
    add_api_arguments(revise)

    delete = actions.add_parser("delete", help="delete an entry (R-VOI-DEL: it stops matching at once)")
    delete.add_argument("voi_id")
    add_api_arguments(delete)


def _entry_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--category", required=required, help="e.g. stolen, wanted, intelligence")
    parser.add_argument("--action", required=required, choices=["stop", "observe", "report"])
    parser.add_argument("--priority", required=required, type=int, choices=[1, 2, 3])
    parser.add_argument("--reason", required=required, help="persons only by PNC reference, never by name")
    parser.add_argument("--pnc-ref", help="e.g. 24/123456A")
    parser.add_argument("--circulation", required=required, help="KENT,ESSEX or NATIONAL")
    parser.add_argument("--sensitive", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--retro-hunt-days",
        type=int,
        choices=range(8),
        metavar="0-7",
        help="search stored reads of the last N days and raise retro alerts (needs --purpose, --case-ref)",
    )
    parser.add_argument("--purpose", choices=[p.value for p in Purpose], help="the retro-hunt's (R-REASON)")
    parser.add_argument("--case-ref", help="the case the retro-hunt is audited under (R-REASON)")


def _entry_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields = {
        "category": args.category,
        "action": args.action,
        "priority": args.priority,
        "reason": args.reason,
        "pnc_ref": args.pnc_ref,
        "circulation": [c.strip() for c in args.circulation.replace(";", ",").split(",") if c.strip()]
        if args.circulation
        else None,
        "sensitive": args.sensitive,
        "retro_hunt_days": args.retro_hunt_days,
        "purpose": args.purpose,
        "case_ref": args.case_ref,
    }
    return {k: v for k, v in fields.items() if v is not None}


def count_rows(path: Path) -> int:
    """Data rows as the load counts them: non-blank lines after the header."""
    with path.open("rb") as fh:
        next(fh, None)
        return sum(1 for line in fh if line.strip())


class _Counting:
    """A file that reports how much of it has been read (the upload's progress)."""

    def __init__(self, fh: BinaryIO, progress: ProgressBar) -> None:
        self._fh = fh
        self._progress = progress
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        block = self._fh.read(size)
        self.sent += len(block)
        self._progress.update(self.sent)
        return block


def upload(url: str, path: Path, progress: ProgressBar, *, opener: Opener = urllib.request.urlopen) -> None:
    size = path.stat().st_size
    with path.open("rb") as fh:
        body = _Counting(fh, progress)
        request = urllib.request.Request(url, data=body, method="PUT")  # noqa: S310 - the presigned URL
        request.add_header("Content-Length", str(size))
        request.add_header("Content-Type", "text/csv")
        try:
            with opener(request, timeout=UPLOAD_TIMEOUT_S) as response:
                response.read()
        except urllib.error.HTTPError as error:
            raise UploadFailed(f"the upload was refused: {error.code} {error.read()[:200]!r}") from None
        except urllib.error.URLError as error:
            raise UploadFailed(f"the upload failed: {error.reason}") from None
    progress.finish(size)


def import_command(
    args: argparse.Namespace,
    api: ApiClient,
    out: TextIO,
    err: TextIO,
    *,
    opener: Opener = urllib.request.urlopen,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    path: Path = args.file
    if not path.is_file():
        raise TargetError(f"no such file: {path}")
    rows = count_rows(path)
    created = api.call(
        "POST",
        "/voi/imports",
        body={"source": args.source, "file_name": path.name[:200], "rows_expected": rows},
    )
    import_id = created["import_id"]
    err.write(f"import {import_id}: {rows:,} rows of {path.name} replace the {args.source} list\n")
    try:
        upload(
            created["upload_url"],
            path,
            ProgressBar(err, "upload", path.stat().st_size, "B", monotonic=monotonic),
            opener=opener,
        )
    except UploadFailed as exc:
        err.write(f"nas voi import: {exc}\n")
        return 1
    loading = ProgressBar(err, "load  ", rows, "rows", monotonic=monotonic)
    deadline = monotonic() + args.wait
    status = api.call("GET", f"/voi/imports/{quote(import_id, safe='')}")
    while status["status"] not in FINISHED:
        if monotonic() > deadline:
            err.write(
                f"nas voi import: still {status['status']} after {args.wait:g} s;"
                f" see GET /voi/imports/{import_id}\n"
            )
            return 1
        loading.update(int(status.get("rows_loaded") or 0))
        sleep(POLL_INTERVAL_S)
        status = api.call("GET", f"/voi/imports/{quote(import_id, safe='')}")
    loading.finish(int(status.get("rows_loaded") or 0))
    _report(status, out)
    if status["status"] == "succeeded":
        err.write(f"the {args.source} list is replaced: matching uses it within {STATE_TTL_S:g} seconds\n")
    return 0 if status["status"] == "succeeded" else 1


def _report(status: dict[str, Any], out: TextIO) -> None:
    counts = status.get("counts") or {}
    out.write(f"status={status['status']}")
    for name in ("rows", "accepted", "rejected", "added", "changed", "unchanged", "removed"):
        if name in counts:
            out.write(f" {name}={counts[name]}")
    out.write("\n")
    failure = status.get("failure")
    if failure:
        out.write(f"failed: {failure['code']}: {failure['message']}\n")
    for reject in status.get("rejects", [])[:REJECTS_PRINTED]:
        out.write(f"rejected line {reject['line']}: {reject['field']}: {reject['message']}\n")
    total = int(status.get("rejects_total") or 0)
    if total:
        more = f" ({total - REJECTS_PRINTED} more)" if total > REJECTS_PRINTED else ""
        out.write(f"all {total} rejected rows{more}: {status.get('rejects_url')}\n")


def command(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    client: ApiClient | None = None,
    opener: Opener = urllib.request.urlopen,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    api = client or ApiClient.from_args(args)
    action = args.voi_action
    try:
        if action == "import":
            return import_command(args, api, out, err, opener=opener, sleep=sleep, monotonic=monotonic)
        answer = _single(action, args, api)
    except ApiCallFailed as exc:
        err.write(f"nas voi {action}: {exc}\n")
        return 1
    out.write(json.dumps(answer, indent=2) + "\n")
    return 0


def _single(action: str, args: argparse.Namespace, api: ApiClient) -> Any:
    if action == "add":
        body = {"vrm": args.vrm, "source": args.source, **_entry_fields(args)}
        if args.owner_lea:
            body["owner_lea"] = args.owner_lea
        return api.call("POST", "/voi", body=body)
    if action == "list":
        return api.call("GET", "/voi", query={"vrm": args.vrm})
    path = f"/voi/{quote(args.voi_id, safe='')}"
    if action == "get":
        return api.call("GET", path)
    if action == "delete":
        return api.call("DELETE", path)
    if action == "revise":
        # A revision replaces every field: what the flags do not change is kept as it is.
        current = api.call("GET", path)
        body = {name: current[name] for name in ENTRY_FIELDS} | _entry_fields(args)
        return api.call("PUT", path, body=body)
    raise ValueError(f"unknown action {action}")
