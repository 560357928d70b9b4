"""`nas simulate`: post realistic `nas.read.v1` reads to the Kinesis read stream at a steady rate, the
way force gateways do, with chosen fractions of VOI hits, malformed records, late reads and
redeliveries, so the pipeline can be exercised end to end (locally or in a stage). The simulator
itself is `nas.simulator`; this is the shell: arguments, where the cameras come from, the report."""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from nas.adapters import StoreError
from nas.cli.cameras import CameraFileError, read_camera_file
from nas.cli.target import AwsTarget, TargetError, add_target_arguments
from nas.domain.errors import InvalidVrm
from nas.domain.models import Camera
from nas.domain.vrm import normalise_vrm
from nas.simulator import (
    KinesisSender,
    NoActiveCameras,
    ReadGenerator,
    ReadMix,
    run_paced,
    scan_cameras,
    scan_hit_vrms,
)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=_positive, required=True, help="records per second")
    parser.add_argument("--duration", type=_positive, required=True, help="seconds to run for")
    parser.add_argument(
        "--hit-rate", type=_fraction, required=True, help="fraction of new reads whose VRM is on the VOI list"
    )
    parser.add_argument(
        "--hit-vrm",
        action="append",
        default=[],
        metavar="VRM",
        help="a VRM the hits use (repeatable; default: VRMs sampled from the voi table)",
    )
    parser.add_argument(
        "--bad-rate", type=_fraction, required=True, help="fraction of records the pipeline must quarantine"
    )
    parser.add_argument(
        "--late-rate", type=_fraction, default=0.0, help="fraction of new reads captured 25-48 hours ago"
    )
    parser.add_argument(
        "--duplicate-rate",
        type=_fraction,
        default=0.0,
        help="fraction of records that re-send an earlier read byte for byte (R-DUP)",
    )
    parser.add_argument("--seed", type=int, help="random seed, to repeat a run's records")
    parser.add_argument(
        "--cameras-csv",
        type=Path,
        help="take cameras from this CSV (as `nas cameras load` reads), not a table",
    )
    add_target_arguments(parser, stream=True, tables=("cameras", "voi"))


def _load_cameras(args: argparse.Namespace, target: AwsTarget, err: TextIO) -> list[Camera]:
    if args.cameras_csv is not None:
        camera_file = read_camera_file(args.cameras_csv)
        if camera_file.rejected:
            err.write(
                f"nas simulate: ignoring {len(camera_file.rejected)} invalid row(s) of {args.cameras_csv} "
                "(`nas cameras load` lists them)\n"
            )
        return list(camera_file.cameras)
    if "cameras" not in target.tables:
        raise TargetError("no cameras: pass --cameras-csv, --cameras-table or --config")
    cameras, unreadable = scan_cameras(target.client("dynamodb"), target.table("cameras"))
    if unreadable:
        err.write(f"nas simulate: ignoring {unreadable} unreadable item(s) of the cameras table\n")
    return cameras


def _load_hit_vrms(target: AwsTarget, mix: ReadMix, err: TextIO, chosen: list[str]) -> list[str]:
    if mix.hit_rate == 0:
        return []
    if chosen:
        return [normalise_vrm(v) for v in chosen]
    vrms = scan_hit_vrms(target.client("dynamodb"), target.table("voi")) if "voi" in target.tables else []
    if not vrms:
        err.write("nas simulate: no VOI entries (pass --voi-table or --config): no read will be a hit\n")
    return vrms


def command(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    try:
        mix = ReadMix(
            hit_rate=args.hit_rate,
            bad_rate=args.bad_rate,
            late_rate=args.late_rate,
            duplicate_rate=args.duplicate_rate,
        )
    except ValueError as exc:
        err.write(f"nas simulate: {exc}\n")
        return 2
    target = AwsTarget.from_args(args)
    stream = target.read_stream()
    try:
        cameras = _load_cameras(args, target, err)
        hit_vrms = _load_hit_vrms(target, mix, err, list(getattr(args, "hit_vrm", None) or []))
        generator = ReadGenerator(cameras, hit_vrms, random.Random(args.seed), clock, mix=mix)  # noqa: S311 - test data, not secrets
    except (CameraFileError, NoActiveCameras, InvalidVrm) as exc:
        err.write(f"nas simulate: {exc}\n")
        return 2
    except (BotoCoreError, ClientError) as exc:
        err.write(f"nas simulate: cannot read cameras or VOI entries: {exc}\n")
        return 2
    active = sum(c.active for c in cameras)
    err.write(
        f"nas simulate: {args.rate:g} records/s for {args.duration:g} s from {active} active camera(s) "
        f"to stream {stream}\n"
    )
    sender = KinesisSender(target.client("kinesis"), stream, sleep=sleep)
    try:
        result = run_paced(
            generator, sender, rate=args.rate, duration_s=args.duration, monotonic=monotonic, sleep=sleep
        )
    except (BotoCoreError, ClientError, StoreError) as exc:
        err.write(f"nas simulate: PutRecords to {stream} failed: {exc}\n")
        return 2
    tally = generator.tally
    out.write(
        f"sent={result.sent} failed={result.failed} bad={tally.bad} duplicates={tally.duplicates} "
        f"late={tally.late} hits={tally.hits} elapsed_s={result.elapsed_s:.2f} "
        f"achieved_rate={result.achieved_rate:.1f}\n"
    )
    if result.interrupted:
        err.write("nas simulate: interrupted\n")
        return 130
    return 1 if result.failed else 0
