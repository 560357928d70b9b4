"""`nas replay failures | quarantine | firehose-errors`: brings back what was set aside, after a fix
(R-QUARANTINE), idempotently (R-DUP). The workflow is `nas.services.replay`; this is the shell:
arguments, where things are, the report. In AWS pass the stack outputs (`--stream`, `--queue`,
`--quarantine-bucket`, `--reads-bucket`, `--delivery-stream`); locally `--config .nas-local.json`."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from typing import TextIO

from nas.adapters import StoreError
from nas.adapters.firehose import FirehoseRowSink, RowSink
from nas.adapters.objects import S3ObjectStore
from nas.adapters.queues import SqsFailureQueue
from nas.adapters.stream import KinesisStream
from nas.cli.target import AwsTarget, TargetError, add_target_arguments
from nas.domain.reads import (
    BEYOND_RETENTION,
    CAMERA_INACTIVE,
    CAMERA_LEA_MISMATCH,
    CLOCK_FAULT,
    INVALID_FIELDS,
    NOT_AN_OBJECT,
    NOT_JSON,
    UNKNOWN_CAMERA,
)
from nas.domain.replay import QuarantineSelection
from nas.services.replay import ReplayReport, ReplayService

REASONS = (
    NOT_JSON,
    NOT_AN_OBJECT,
    INVALID_FIELDS,
    CLOCK_FAULT,
    BEYOND_RETENTION,
    UNKNOWN_CAMERA,
    CAMERA_INACTIVE,
    CAMERA_LEA_MISMATCH,
)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _days(parser: argparse.ArgumentParser) -> None:
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--date", type=_day, help="only what was set aside on this UTC day")
    when.add_argument("--from", dest="first_day", type=_day, help="from this UTC day (with --to)")
    parser.add_argument("--to", dest="last_day", type=_day, help="to this UTC day, inclusive")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sources = parser.add_subparsers(dest="replay_source", metavar="SOURCE", required=True)
    failures = sources.add_parser(
        "failures", help="re-send the stream ranges in the consumers' on-failure queue"
    )
    failures.add_argument(
        "--queue", help="URL of the on-failure queue (stack output ConsumerFailureQueueUrl)"
    )
    failures.add_argument("--max", type=int, default=1000, help="messages to handle at most (default 1000)")
    add_target_arguments(failures, stream=True)

    quarantine = sources.add_parser("quarantine", help="re-send quarantined records after a fix")
    quarantine.add_argument(
        "--reason", action="append", choices=REASONS, help="only records refused for this reason (repeatable)"
    )
    quarantine.add_argument("--all", action="store_true", help="every reason, every day (the default)")
    _days(quarantine)
    quarantine.add_argument("--quarantine-bucket", help="name of the quarantine bucket")
    add_target_arguments(quarantine, stream=True)

    errors = sources.add_parser("firehose-errors", help="re-deliver rows Firehose could not convert")
    _days(errors)
    errors.add_argument("--reads-bucket", help="name of the reads bucket")
    errors.add_argument("--delivery-stream", help="name of the read-rows Firehose stream")
    add_target_arguments(errors)


def _rows(target: AwsTarget) -> RowSink:
    if target.read_rows_delivery:
        return FirehoseRowSink(target.client("firehose"), target.read_rows_delivery)
    if target.is_local:
        from nas.local.sink import DirectParquetRows  # local mode has no Firehose: Parquet at once

        return DirectParquetRows(target.client("s3"), target.bucket("reads"))
    raise TargetError("no read-rows delivery stream: pass --delivery-stream")


def _now() -> datetime:
    return datetime.now(UTC)


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    target = AwsTarget.from_args(args)
    objects = S3ObjectStore(target.client("s3"))
    source = args.replay_source
    try:
        if source == "failures":
            queue = target.queues.get("consumer-failures")
            if not queue:
                raise TargetError("no on-failure queue: pass --config or --queue")
            service = ReplayService(
                stream=KinesisStream(target.client("kinesis"), target.read_stream()),
                objects=objects,
                clock=_now,
                queue=SqsFailureQueue(target.client("sqs"), queue),
            )
            report = service.failures(max_messages=args.max)
        elif source == "quarantine":
            first, last = (args.date, args.date) if args.date else (args.first_day, args.last_day)
            service = ReplayService(
                stream=KinesisStream(target.client("kinesis"), target.read_stream()),
                objects=objects,
                clock=_now,
                quarantine_bucket=target.bucket("quarantine"),
            )
            selection = QuarantineSelection(frozenset(args.reason or ()), first, last)
            report = service.quarantine(selection)
        else:
            first, last = (args.date, args.date) if args.date else (args.first_day, args.last_day)
            service = ReplayService(
                objects=objects,
                clock=_now,
                rows=_rows(target),
                reads_bucket=target.bucket("reads"),
            )
            report = service.firehose_errors(first_day=first, last_day=last)
    except StoreError as exc:
        err.write(f"nas replay {source}: {exc}\n")
        return 2
    return _report(source, report, out, err)


def _report(source: str, report: ReplayReport, out: TextIO, err: TextIO) -> int:
    for problem in report.problems:
        err.write(f"nas replay {source}: {problem}\n")
    out.write(report.summary() + "\n")
    return 1 if report.failed else 0
