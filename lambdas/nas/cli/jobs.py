"""`nas jobs run JOB`: one run of a daily job now, against local mode (`--config .nas-local.json`),
with the same services its Lambda runs. `--days-ahead N` judges as of N days from now, to show what
the job will do then (an account idle for 90 days, a straggler past 367 days); the audit events it
writes still carry the real time. The deployed functions never take such a clock: in AWS, run a job
on demand with `aws lambda invoke` on its function."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from nas import catalogue
from nas.cli.target import AwsTarget, TargetError, add_target_arguments
from nas.jobs.wiring import build_hygiene_ports, build_retention_ports, build_statistics_ports
from nas.services.account_hygiene import run_hygiene
from nas.services.retention import run_retention_check
from nas.services.statistics import run_daily_statistics
from nas.settings import RuntimeSettings

MAX_DAYS_AHEAD = 800


class _Session:
    """What the jobs' wiring asks of boto3: clients, here aimed at the command's target."""

    def __init__(self, target: AwsTarget) -> None:
        self._target = target

    def client(self, service: str) -> Any:
        return self._target.client(service)


def _settings(target: AwsTarget) -> RuntimeSettings:
    return RuntimeSettings(
        stage="local",
        service="nas-cli",
        tables=target.tables,
        buckets=target.buckets,
        user_pool_id=target.user_pool_id,
        sign_in_events=target.aws_endpoint is None,  # moto keeps no Cognito auth events
        audit_signing_key=target.audit_signing_key,
        retention_signing_key=target.retention_signing_key,
        audit_digest_retention_days=1,
        retention_statement_lock_days=1,
        aws_endpoint=target.aws_endpoint,
        region=target.region,
    )


def _account_hygiene(settings: RuntimeSettings, session: _Session, now: datetime) -> dict[str, object]:
    ports = build_hygiene_ports(settings, session)
    return run_hygiene(ports, now=now, run_id=f"cli-{uuid.uuid4()}").as_dict()


def _retention(settings: RuntimeSettings, session: _Session, now: datetime) -> dict[str, object]:
    ports = build_retention_ports(settings, session)
    run = run_retention_check(
        ports, now=now, written_at=datetime.now(UTC), writer="nas jobs run", run_id=f"cli-{uuid.uuid4()}"
    )
    return run.as_dict()


def _statistics(
    settings: RuntimeSettings, session: _Session, now: datetime, day: date | None = None
) -> dict[str, object]:
    """`day` (today so far when None) as of `now`, as the deployed job counts yesterday; reads counted
    by DuckDB over local mode's reads bucket."""
    from nas.adapters.duckdb_search import DuckDbSearchEngine
    from nas.adapters.duckdb_statistics import DuckDbReadCounts
    from nas.adapters.parquet_erasure import s3_filesystem

    moto = ("local", "local")  # moto takes any credentials (see AwsTarget.client)
    filesystem = s3_filesystem(settings.aws_endpoint, settings.region, moto)
    engine = DuckDbSearchEngine(filesystem, settings.bucket(catalogue.Bucket.READS))
    ports = build_statistics_ports(settings, session, reads=DuckDbReadCounts(engine))
    return run_daily_statistics(ports, day=day or now.date(), now=now, run_id=f"cli-{uuid.uuid4()}").as_dict()


JOBS: dict[str, Callable[[RuntimeSettings, _Session, datetime], dict[str, object]]] = {
    "account-hygiene": _account_hygiene,
    "retention": _retention,
    "statistics": _statistics,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="jobs_action", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="run a daily job once now (local mode)")
    run.add_argument("job", choices=sorted(JOBS), help="which job")
    run.add_argument(
        "--days-ahead",
        type=int,
        default=0,
        help=f"judge as of this many days from now (0..{MAX_DAYS_AHEAD}); local mode only",
    )
    run.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="statistics only: count this UTC day (YYYY-MM-DD, today or earlier) instead of today",
    )
    add_target_arguments(run)


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not 0 <= args.days_ahead <= MAX_DAYS_AHEAD:
        err.write(f"nas jobs run: --days-ahead must be 0..{MAX_DAYS_AHEAD}\n")
        return 2
    now = datetime.now(UTC) + timedelta(days=args.days_ahead)
    if args.date is not None and (args.job != "statistics" or args.date > now.date()):
        err.write("nas jobs run: --date is for statistics only, and names today or an earlier day\n")
        return 2
    target = AwsTarget.from_args(args)
    if target.aws_endpoint is None:
        raise TargetError(
            "nas jobs run works on local mode: pass --config .nas-local.json (in AWS, invoke the function)"
        )
    if args.date is not None:
        report = _statistics(_settings(target), _Session(target), now, day=args.date)
    else:
        report = JOBS[args.job](_settings(target), _Session(target), now)
    out.write(json.dumps(report, indent=2) + "\n")
    return 0


__all__ = ["JOBS", "add_arguments", "command"]
