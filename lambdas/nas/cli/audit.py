"""`nas audit verify`: checks the audit chains (R-AUDIT) of one day or a range of days against their
hash links and their signed digests, with the same service as `GET /audit/verify`, in one pass.

Signatures are checked locally with the signing key's public half (one `GetPublicKey`), not with a
KMS `Verify` per digest: a year is about 840,000 digests, and an auditor holding the public key can
check them without trusting anything but the key.

Exit status: 0 intact (records newer than their chain's last digest are listed as not yet anchored,
which is not a break); 1 broken (the first break's chain and seq are printed); 2 bad arguments or
the target could not be reached.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime
from typing import TextIO

from nas.adapters import StoreError
from nas.adapters.audit import DynamoAuditTrail
from nas.adapters.digests import S3DigestStore
from nas.adapters.signing import PublicKeyVerifier
from nas.cli.target import AwsTarget, TargetError, add_target_arguments
from nas.domain import audit
from nas.services.audit_verification import VerifyPorts, verify_trail

MAX_DAYS = 366


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--audit-table", help="name of the audit DynamoDB table")
    parser.add_argument("--evidence-bucket", help="name of the evidence bucket holding the audit digests")
    parser.add_argument("--signing-key", help="id, ARN or alias of the audit signing key (KMS)")
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


def _ports(args: argparse.Namespace) -> VerifyPorts:
    target = AwsTarget.from_args(args)
    table = args.audit_table or target.table("audit")
    bucket = args.evidence_bucket or target.buckets.get("evidence")
    if not bucket:
        raise TargetError("no evidence bucket: pass --config or --evidence-bucket")
    key = args.signing_key or target.audit_signing_key
    if not key:
        raise TargetError("no audit signing key: pass --config or --signing-key")
    return VerifyPorts(
        trail=DynamoAuditTrail(target.client("dynamodb"), table),
        digests=S3DigestStore(target.client("s3"), bucket),
        verifier=PublicKeyVerifier(target.client("kms"), key),
    )


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
    ports = _ports(args)
    try:
        report = verify_trail(ports, first, last)
    except StoreError as exc:
        raise TargetError(f"audit trail: {exc}") from None
    out.write(json.dumps(report.as_dict(), indent=2) + "\n")
    days = len(audit.days_between(first, last))
    if report.intact:
        waiting = sum(u.last_seq - u.first_seq + 1 for u in report.unanchored)
        out.write(
            f"audit chains intact: {report.records} record(s) over {days} day(s), "
            f"{report.digests} signed digest(s); {waiting} record(s) not yet anchored by a digest\n"
        )
        return 0
    first_break = report.breaks[0]
    out.write(
        f"audit chain BROKEN at {first_break.chain_id} seq {first_break.seq}: "
        f"{first_break.reason} ({first_break.detail})\n"
    )
    return 1
