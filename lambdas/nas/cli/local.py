"""`nas local`: the whole service on this machine (SPEC §5) until Ctrl-C. The logic lives in
nas.local; this is the shell: arguments, the banner, signals and the exit status."""

from __future__ import annotations

import argparse
import json
import signal
import threading
import warnings
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from nas.local.demo import DEMO_RATE
from nas.local.moto_server import MotoStartError
from nas.local.runtime import CONFIG_FILE, LocalMode, LocalModeError, LocalOptions
from nas.local.sink import FLUSH_INTERVAL_S
from nas.local.status import LiveStatus

DESCRIPTION = """\
Run NAS locally: moto on --aws-port holding the stream, tables, buckets, alerts bus and user pool
of the CDK app; pollers driving the match and archive handlers; reads written as Parquet to the
reads bucket; the API behind a gateway that verifies Cognito ID tokens on --api-port. Writes
.nas-local.json (for `nas simulate --config`, `nas login --config`) and runs until Ctrl-C.

State lives in the moto server's memory, and the pollers' positions and the rows not yet written
as Parquet in .nas-local/ (beside the settings file). By default (--reset) every start is a fresh,
empty server: if --aws-port is taken, local mode refuses to start. With --reuse, a moto server
already listening on --aws-port is attached to instead: provisioning is skipped when the NAS stores
are already there, rows a crashed run had taken are written, and the pollers resume from their
last positions, so reads put while nothing was polling are processed. The moto server a crashed
run left behind is stopped with this one; a server you started yourself (`python -m moto.server`)
is left running, and its stream is read from its tip. If nothing listens there, --reuse starts a
fresh server as --reset does. Logs go to .nas-local.log as JSON lines.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--aws-port", type=int, default=4566, help="moto server port (default 4566)")
    parser.add_argument("--api-port", type=int, default=8080, help="API gateway port (default 8080)")
    parser.add_argument(
        "--demo", action="store_true", help="load demo cameras, VOI entries and users, and run the simulator"
    )
    parser.add_argument(
        "--no-simulator", dest="simulator", action="store_false", help="with --demo: load data, send no reads"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=DEMO_RATE,
        help=f"demo simulator reads per second (default {DEMO_RATE:g})",
    )
    state = parser.add_mutually_exclusive_group()
    state.add_argument(
        "--reset",
        dest="reuse",
        action="store_false",
        help="start a fresh, empty moto server (the default); fail if --aws-port is taken",
    )
    state.add_argument(
        "--reuse", dest="reuse", action="store_true", help="attach to a moto server already on --aws-port"
    )
    parser.add_argument(
        "--tile-url",
        default="",
        help="map tiles for the console, as https://host/{z}/{x}/{y}.png (default: none, a plain projection)",
    )
    parser.add_argument(
        "--flush-interval-s",
        type=float,
        default=FLUSH_INTERVAL_S,
        help=f"how often the Parquet sink writes buffered rows: reads are searchable after it"
        f" (default {FLUSH_INTERVAL_S:g}; Firehose in AWS: up to 300)",
    )
    parser.add_argument("--config-file", type=Path, default=Path(CONFIG_FILE), help=argparse.SUPPRESS)
    parser.set_defaults(reuse=False)


def banner(config: dict[str, Any], attached: bool) -> str:
    lines = [
        "NAS local mode " + ("(attached to a running moto server)" if attached else "(fresh state)"),
        f"  AWS endpoint  {config['aws_endpoint']}  (region {config['region']})",
        f"  API           {config['api_url']}  (GET /health needs no token)",
        f"  console       {config['console_url']}  (sign in as a demo user below)",
        f"  read stream   {config['stream']}",
        f"  user pool     {config['user_pool_id']}  app client {config['app_client_id']}",
        f"  buckets       {', '.join(config['buckets'].values())}",
        f"  tables        {', '.join(config['tables'].values())}",
    ]
    demo = config.get("demo")
    if demo:
        lines.append("  demo users    (nas login --config .nas-local.json --username U --password P)")
        lines += [f"    {group:20} {u['username']:28} {u['password']}" for group, u in demo["users"].items()]
    lines.append("Ctrl-C stops everything cleanly.")
    return "\n".join(lines) + "\n"


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    options = LocalOptions(
        aws_port=args.aws_port,
        api_port=args.api_port,
        demo=args.demo,
        simulator=args.simulator,
        reuse=args.reuse,
        rate=args.rate,
        config_path=args.config_file,
        tile_url=args.tile_url,
        flush_interval_s=args.flush_interval_s,
    )
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    local = LocalMode(options)
    try:
        try:
            config = local.start()
        except (MotoStartError, LocalModeError, OSError) as exc:
            err.write(f"nas local: {exc}\n")
            return 2
        out.write(banner(config, local.attached))
        out.write(f"Settings written to {options.config_path.resolve()}\n")
        if local.logs is not None:
            out.write(f"Logs (JSON lines) in {local.logs.path.resolve()}\n")
        if local.resumed:
            out.write("Resumed the run that stopped here: pollers continue from their last positions\n")
        out.flush()
        # One line redrawn in place on a terminal; nothing more when the output is a file or a pipe.
        status = LiveStatus(local.status_line(), out) if out.isatty() else None
        if status is not None:
            status.start()
        try:
            while not stop.wait(1.0):
                pass
        finally:
            if status is not None:
                status.stop()
        err.write("nas local: stopping\n")
        local.stop()
        out.write(json.dumps({"stopped": True, **local.stats()}) + "\n")
        return 0
    finally:
        local.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
