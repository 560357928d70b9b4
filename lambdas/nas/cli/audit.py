"""`nas audit verify`: checks the audit hash chain (R-AUDIT) of one day or a range of days.

Exit status: 0 intact; 1 broken (the first break's seq and reason are printed); 2 bad arguments or
the target could not be reached.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from nas.adapters.audit import DynamoAuditTrail, verify_days
from nas.cli.target import AwsTarget, TargetError, add_target_arguments
from nas.domain import audit

MAX_DAYS = 366


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--audit-table", help="name of the audit DynamoDB table")
    parser.add_argument("--day", type=_date, help="one UTC day, YYYY-MM-DD (default today)")
    parser.add_argument("--from", dest="first", type=_date, help="first UTC day of a range")
    parser.add_argument("--to", dest="last", type=_date, help="last UTC day of a range")


def _date(text: str) -> str:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None
    if not audit.in_range(day):
        raise argparse.ArgumentTypeError(
            f"not a day in the years {audit.MIN_YEAR} to {audit.MAX_YEAR}: {text!r}"
        )
    return day.isoformat()


def verify_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.day and (args.first or args.last):
        err.write("nas audit verify: give --day or --from/--to, not both\n")
        return 2
    first = args.day or args.first or args.last or datetime.now(UTC).date().isoformat()
    last = args.day or args.last or first
    if last < first:
        err.write("nas audit verify: --to is before --from\n")
        return 2
    if (date.fromisoformat(last) - date.fromisoformat(first)).days >= MAX_DAYS:
        err.write(f"nas audit verify: at most {MAX_DAYS} days at a time\n")
        return 2
    days = audit.days_between(first, last)
    target = AwsTarget.from_args(args)
    table = args.audit_table or target.table("audit")
    trail = DynamoAuditTrail(target.client("dynamodb"), table)
    try:
        report = verify_days(trail, days)
    except (BotoCoreError, ClientError) as exc:
        raise TargetError(f"audit table {table}: {exc}") from None
    out.write(json.dumps(report.as_dict(), indent=2) + "\n")
    if report.intact:
        out.write(f"audit chain intact: {report.records} record(s) over {len(days)} day(s)\n")
        return 0
    first_break = report.breaks[0]
    out.write(
        f"audit chain BROKEN at {first_break.chain_day} seq {first_break.seq}: "
        f"{first_break.reason} ({first_break.detail})\n"
    )
    return 1
