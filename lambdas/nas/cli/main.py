"""`nas` console script. Each subcommand is a thin shell over the same logic the Lambdas run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from nas import __version__
from nas.cli import admin, cameras, jobs, login, reads, replay, sar, search, simulate, voi
from nas.cli import local as local_mode
from nas.cli.audit import add_verify_arguments, verify_command
from nas.cli.target import TargetError
from nas.domain.errors import ReadRejected
from nas.domain.reads import parse_read


def _validate_reads(path: Path, out: TextIO) -> int:
    """Checks a file of read records (one JSON object per line) exactly as the pipeline will, so a
    force gateway team can test its feed before sending it. Exit status 1 if any line is rejected."""
    now = datetime.now(UTC)
    accepted = rejected = 0
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                result = parse_read(line.rstrip(b"\r\n"), now=now)
            except ReadRejected as exc:
                rejected += 1
                out.write(json.dumps({"line": number, **exc.as_dict()}) + "\n")
            else:
                accepted += 1
                if not result.raises_live_alerts:
                    out.write(
                        json.dumps({"line": number, "note": "late: stored but raises no live alert"}) + "\n"
                    )
    out.write(f"accepted={accepted} rejected={rejected}\n")
    return 1 if rejected else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nas", description="NAS: the National ANPR Service")
    parser.add_argument("--version", action="version", version=f"nas {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    validate = commands.add_parser(
        "validate-reads", help="check a JSON-lines file of nas.read.v1 records as the pipeline would"
    )
    validate.add_argument("file", type=Path, help="one read record per line")
    camera_actions = commands.add_parser("cameras", help="the camera registry (R-CAMERA)").add_subparsers(
        dest="cameras_action", metavar="ACTION", required=True
    )
    cameras.add_load_arguments(
        camera_actions.add_parser("load", help="validate a cameras CSV and load its valid rows")
    )
    simulate.add_arguments(
        commands.add_parser("simulate", help="post realistic reads to the read stream at a steady rate")
    )
    local_mode.add_arguments(
        commands.add_parser("local", help="run the whole service on this machine (moto)")
    )
    login.add_arguments(commands.add_parser("login", help="sign in to Cognito; print and keep an ID token"))
    audit_actions = commands.add_parser("audit", help="the audit trail (R-AUDIT)").add_subparsers(
        dest="audit_action", metavar="ACTION", required=True
    )
    add_verify_arguments(audit_actions.add_parser("verify", help="verify the audit hash chain"))
    admin.add_arguments(commands.add_parser("admin", help="account administration (admin token)"))
    replay.add_arguments(
        commands.add_parser(
            "replay", help="bring back set-aside ranges, quarantined records, Firehose errors"
        )
    )
    jobs.add_arguments(commands.add_parser("jobs", help="the daily jobs, on demand (local mode)"))
    search.add_arguments(
        commands.add_parser("search", help="search stored reads through the API (investigator token)")
    )
    voi.add_arguments(
        commands.add_parser("voi", help="VOI entries and bulk list imports (voi-manager token)")
    )
    reads.add_read_arguments(
        commands.add_parser("read", help="a read of your search: view, image, correct (investigator token)")
    )
    reads.add_preserve_arguments(
        commands.add_parser("preserve", help="preserve reads of your search for a case (senior investigator)")
    )
    sar.add_arguments(commands.add_parser("sar", help="data-subject requests (DPO token)"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "validate-reads":
        if not args.file.is_file():
            parser.error(f"no such file: {args.file}")
        return _validate_reads(args.file, sys.stdout)
    try:
        if args.command == "cameras":
            return cameras.load_command(args, sys.stdout, sys.stderr)
        if args.command == "simulate":
            return simulate.command(args, sys.stdout, sys.stderr)
        if args.command == "local":
            return local_mode.command(args, sys.stdout, sys.stderr)
        if args.command == "login":
            return login.command(args, sys.stdout, sys.stderr)
        if args.command == "audit":
            return verify_command(args, sys.stdout, sys.stderr)
        if args.command == "admin":
            return admin.command(args, sys.stdout, sys.stderr)
        if args.command == "replay":
            return replay.command(args, sys.stdout, sys.stderr)
        if args.command == "jobs":
            return jobs.command(args, sys.stdout, sys.stderr)
        if args.command == "search":
            return search.command(args, sys.stdout, sys.stderr)
        if args.command == "voi":
            return voi.command(args, sys.stdout, sys.stderr)
        if args.command == "read":
            return reads.read_command(args, sys.stdout, sys.stderr)
        if args.command == "preserve":
            return reads.preserve_command(args, sys.stdout, sys.stderr)
        if args.command == "sar":
            return sar.command(args, sys.stdout, sys.stderr)
    except TargetError as exc:
        print(f"nas {args.command}: {exc}", file=sys.stderr)
        return 2
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
