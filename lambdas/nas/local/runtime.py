"""Starts and stops local mode: moto, provisioning, the process environment the Lambdas get from
CDK, the pollers feeding the match and archive handlers, the Parquet sink, the gateway and (with
--demo) the demo data and simulator."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.credentials import Credentials

from nas import catalogue
from nas.console import CONSOLE_PATH, InvalidTileUrl
from nas.local import demo, fast_botocore, jobs, voi
from nas.local.auth import Jwks, TokenVerifier, fetch_json, issuer, jwks_url
from nas.local.checkpoints import LocalState
from nas.local.console import ConsoleSite, default_dist
from nas.local.demo import DEMO_RATE
from nas.local.gateway import Gateway
from nas.local.logs import LOG_FILE, LocalLogs, service_of
from nas.local.moto_server import MotoProcess, endpoint_url, is_moto
from nas.local.names import REGION, LocalNames, lambda_environment
from nas.local.poller import Consumer, QueueDestination, ShardPoller, start_pollers
from nas.local.provision import (
    Identity,
    ensure_failure_queue,
    ensure_retro_hunt_queue,
    find_identity,
    hunt_delay_s,
    is_provisioned,
    provision,
    stream_identity,
)
from nas.local.schedules import Schedules
from nas.local.sink import FLUSH_INTERVAL_S, ParquetRowSink
from nas.local.status import PipelineTally, StatusLine
from nas.local.stream_reader import RawKinesisReader

log = logging.getLogger(__name__)

CONFIG_FILE = ".nas-local.json"
STATE_DIR = ".nas-local"
LOCAL_KEY = "local"  # access key id and secret for moto, which does not check them


ARCHIVE_BATCH_WINDOW_S = 1.0
SWEEP_INTERVAL_S = 60.0
GIL_SWITCH_INTERVAL_S = 0.002


class LocalModeError(RuntimeError):
    """Local mode cannot start as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class LocalOptions:
    aws_port: int = 4566
    api_port: int = 8080
    demo: bool = False
    simulator: bool = True
    reuse: bool = False
    rate: float = DEMO_RATE
    config_path: Path = Path(CONFIG_FILE)
    state_dir: Path | None = None
    """Positions and the rows' journal (`.nas-local/` beside the config file by default)."""
    log_path: Path | None = None
    """JSON log lines (`.nas-local.log` beside the config file by default)."""
    flush_interval_s: float = FLUSH_INTERVAL_S
    clock: Callable[[], float] = time.time
    """The gateway's clock for token expiry (tests advance it)."""
    names: LocalNames = field(default_factory=LocalNames)
    audit_digest_interval_s: float = jobs.DIGEST_INTERVAL_S
    console_dist: Path = field(default_factory=default_dist)
    """The built console (`make setup` builds it into console/dist)."""
    tile_url: str = ""
    """The console map's tile URL template (the stage setting `console_tile_url` in AWS)."""
    sweep_interval_s: float = SWEEP_INTERVAL_S
    """How often the publish sweeper runs (an EventBridge schedule of a minute in AWS)."""
    job_interval_s: float = jobs.JOB_INTERVAL_S
    """The daily jobs (account hygiene, retention check) run this often locally."""


def mute_metrics() -> Callable[[], None]:
    """There is no CloudWatch locally: metrics are dropped instead of printed as EMF (powertools
    prints every 100 values even with POWERTOOLS_METRICS_DISABLED). Returns the undo."""
    from nas.observability import metrics

    def drop(*_: Any, **__: Any) -> None:
        return None

    metrics.add_metric = drop  # type: ignore[method-assign]

    def restore() -> None:
        del metrics.add_metric

    return restore


class LocalMode:
    def __init__(self, options: LocalOptions) -> None:
        self.options = options
        self.names = options.names
        self.endpoint = endpoint_url(options.aws_port)
        self.region = REGION
        self._moto: MotoProcess | None = None
        self._stop = threading.Event()
        self._pollers: list[ShardPoller] = []
        self._saved_environ: dict[str, str | None] = {}
        self._restore_handlers: list[Callable[[], None]] = []
        self.identity: Identity | None = None
        self.sink: ParquetRowSink | None = None
        self.gateway: Gateway | None = None
        self.simulator: demo.Simulator | None = None
        self.consumers: dict[str, Consumer] = {}
        self.schedules = Schedules()
        self._voi_restore: Callable[[], None] | None = None
        self.config: dict[str, Any] = {}
        self.attached = False
        self.resumed = False
        self.state = LocalState(options.state_dir or options.config_path.parent / STATE_DIR)
        self.logs: LocalLogs | None = None
        self.failure_queue = ""
        self.retro_hunt_queue = ""
        self.tally = PipelineTally()

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self.config

    def _start(self) -> None:
        options = self.options
        fast_botocore.install()
        # Pollers, sink and gateway are threads of this process, mostly waiting on moto: a thread back
        # from I/O waits for the GIL up to the switch interval, so the match poller's many short calls
        # queued behind the archive's CPU work. 2 ms instead of 5 cut bench-local's p95 put->alert at
        # 1,000 reads/s from 1.3-2.2 s to 0.74 s; 1 ms slowed a million-row VOI import from 45 s to 84
        # s (bench-voi), 2 ms to 34 s.
        previous_interval = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self._restore_handlers.append(lambda: sys.setswitchinterval(previous_interval))
        self.logs = LocalLogs(options.log_path or options.config_path.parent / LOG_FILE)
        self.logs.open()
        if options.reuse and is_moto(options.aws_port):
            self.attached = True
            # Our own server, left running by a run that crashed: this run stops it when it stops.
            self._moto = MotoProcess.adopt(options.aws_port, self.state.moto_pid_file)
        else:
            self._moto = MotoProcess(options.aws_port)
            self._moto.start()
        self._set_environment()
        if self.attached and is_provisioned(self.client, self.names):
            self.identity = find_identity(self.client("cognito-idp"), self.names)
            if self.identity is None:
                raise LocalModeError(
                    f"the moto server at {self.endpoint} has the stream but no NAS user pool"
                )
        else:
            self.attached = False
            self.identity = provision(self.client, self.names)
        self.failure_queue = ensure_failure_queue(self.client("sqs"), self.names)
        self.retro_hunt_queue = ensure_retro_hunt_queue(
            self.client("sqs"), self.names, hunt_delay_s(self.options.flush_interval_s)
        )
        # CDK gives the api function the queue's URL; here the queue exists only once provisioned.
        self._set_variable(catalogue.RETRO_HUNT_QUEUE_ENV, self.retro_hunt_queue)
        # A run resumes only the state of this very stream (a fresh server's has the same name).
        stream = stream_identity(self.client("kinesis"), self.names.stream)
        self.resumed = self.attached and self.state.belongs_to(stream)
        if not self.resumed:
            self.state.reset(stream)
        if self._moto is not None:
            self._moto.record_pid(self.state.moto_pid_file)
        # The api function gets its user pool from CDK; here it exists only once provisioned.
        self._set_variable(catalogue.USER_POOL_ENV, self.identity.user_pool_id)
        demo_section = (
            demo.seed(self.client, self.names, self.identity.user_pool_id, now=datetime.now(UTC))
            if options.demo
            else None
        )
        self._install_handlers()
        self._voi_restore = voi.install(self)
        assert self.sink is not None
        recovered = self.sink.recover()
        if recovered:
            log.warning("stored %d row(s) a crashed run had journaled but not written", recovered)
        # Each poller resumes after its committed position; a shard it never read starts at the
        # trim horizon on a stream this state has followed from its creation, else at the tip
        # (a server someone else filled: what is already there was handled elsewhere).
        start_at = "TRIM_HORIZON" if not self.attached or self.resumed else "LATEST"
        self._pollers = start_pollers(
            RawKinesisReader(
                self.client("kinesis"),
                endpoint=self.endpoint,
                region=self.region,
                credentials=Credentials(LOCAL_KEY, LOCAL_KEY),
            ),
            stream=self.names.stream,
            consumers=list(self.consumers.values()),
            region=self.region,
            stop=self._stop,
            start_at=start_at,
            failures=QueueDestination(self.client("sqs"), self.failure_queue),
        )
        self.gateway = self._gateway()
        self.gateway.serve()
        self._schedule_jobs()
        self.config = self._config(demo_section)
        options.config_path.write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
        if options.demo and options.simulator:
            self.simulator = demo.Simulator(
                self.client("kinesis"),
                self.names.stream,
                hit_vrms=[s.vrm for s in demo.VOI],
                rate=options.rate,
            )
            self.simulator.start()

    def stop(self) -> None:
        """Simulator, pollers, sink (flushed), gateway, moto; then the environment as it was."""
        if self.simulator is not None:
            self.simulator.stop()
        self._stop.set()
        for poller in self._pollers:
            poller.join(timeout=30)
        if self.sink is not None:
            self.sink.close()
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        self.schedules.stop()  # after the gateway: a final run (audit digests) sees every request
        if self._voi_restore is not None:  # the import runner's last clean-ups need moto
            self._voi_restore()
            self._voi_restore = None
        if self._moto is not None:
            self._moto.stop()
            self.state.moto_pid_file.unlink(missing_ok=True)
        for restore in reversed(self._restore_handlers):
            restore()
        self._restore_handlers.clear()
        self._restore_environment()
        if self.logs is not None:
            self.logs.close()

    @contextmanager
    def running(self) -> Iterator[LocalMode]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    # --- pieces ----------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id=LOCAL_KEY,
            aws_secret_access_key=LOCAL_KEY,
        )

    def _set_environment(self) -> None:
        for name, value in lambda_environment(self.names, self.endpoint, self.region).items():
            self._set_variable(name, value)
        for name, value in {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_SERVICE_NAME": "nas"}.items():
            if name not in os.environ:
                self._saved_environ.setdefault(name, None)
                os.environ[name] = value

    def _set_variable(self, name: str, value: str) -> None:
        self._saved_environ.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _restore_environment(self) -> None:
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()
        from nas.api import wiring
        from nas.settings import settings

        settings.cache_clear()
        wiring.reset()

    def _install_handlers(self) -> None:
        """The same handlers as in AWS, their services built from this environment; archive's row
        sink is the local Parquet writer in place of Firehose."""
        from handlers import archive, match
        from nas.api import wiring
        from nas.pipeline.wiring import build_archive_service
        from nas.settings import settings

        settings.cache_clear()
        wiring.reset()
        match.service.cache_clear()
        self._restore_handlers.append(match.service.cache_clear)
        self._restore_handlers.append(mute_metrics())
        match.RESULT_OBSERVERS.append(self.tally.matched)
        archive.RESULT_OBSERVERS.append(self.tally.archived)
        self._restore_handlers.append(lambda: match.RESULT_OBSERVERS.remove(self.tally.matched))
        self._restore_handlers.append(lambda: archive.RESULT_OBSERVERS.remove(self.tally.archived))
        self.sink = ParquetRowSink(
            self.client("s3"),
            self.names.bucket(catalogue.Bucket.READS),
            journal_dir=self.state.journal_dir,
            flush_interval_s=self.options.flush_interval_s,
        )
        self.sink.start()
        sink = self.sink
        original = archive.service
        archive.service = functools.cache(lambda: build_archive_service(settings(), rows=sink))

        def restore() -> None:
            archive.service = original
            original.cache_clear()

        self._restore_handlers.append(restore)
        self.consumers = {
            # Match alerts within seconds: no window. Archive packs images per batch, so a window
            # (30 s in AWS, 1 s here) turns many small S3 PUTs and Parquet rows into a few large ones.
            # Archive's positions are its rows' journal: a batch's rows and its position in one write.
            "match": Consumer(
                "match",
                match.lambda_handler,
                positions=self.state.positions("match"),
                service=service_of("Match"),
            ),
            "archive": Consumer(
                "archive",
                archive.lambda_handler,
                batch_window_s=ARCHIVE_BATCH_WINDOW_S,
                positions=sink,
                service=service_of("Archive"),
            ),
        }

    def _schedule_jobs(self) -> None:
        """The scheduled functions of the stack, on timers: the audit digests (R-AUDIT), the daily
        account hygiene (R-ACCOUNT), retention check (R-RET-367) and statistics (R-STATS), and the
        publish sweeper (R-ALERT)."""
        self.schedules.add(jobs.audit_digests(self.options.audit_digest_interval_s))
        self.schedules.add(jobs.account_hygiene(self.options.job_interval_s))
        self.schedules.add(jobs.retention_check(self.options.job_interval_s))
        self.schedules.add(jobs.daily_statistics(self.options.job_interval_s))
        self.schedules.add(jobs.publish_sweeper(self.options.sweep_interval_s))

    def _gateway(self) -> Gateway:
        from handlers import api

        assert self.identity is not None
        pool_id = self.identity.user_pool_id
        jwks = Jwks(lambda: fetch_json(jwks_url(self.endpoint, pool_id)))
        verifier = TokenVerifier(
            jwks,
            issuer=issuer(self.region, pool_id),
            audience=self.identity.app_client_id,
            clock=self.options.clock,
        )
        try:
            site = ConsoleSite(
                dist=self.options.console_dist,
                aws_endpoint=self.endpoint,
                app_client_id=self.identity.app_client_id,
                tile_url=self.options.tile_url,
            )
        except InvalidTileUrl as exc:
            raise LocalModeError(str(exc)) from None
        return Gateway(api.lambda_handler, verifier, port=self.options.api_port, console=site)

    def _config(self, demo_section: dict[str, Any] | None) -> dict[str, Any]:
        assert self.identity is not None
        assert self.gateway is not None
        config: dict[str, Any] = {
            "aws_endpoint": self.endpoint,
            "api_url": self.gateway.url,
            "console_url": f"{self.gateway.url}/{CONSOLE_PATH}/",
            "region": self.region,
            "stage": "local",
            "stream": self.names.stream,
            "alert_bus": self.names.alert_bus,
            "user_pool_id": self.identity.user_pool_id,
            "app_client_id": self.identity.app_client_id,
            "buckets": self.names.buckets,
            "tables": self.names.tables,
            "audit_signing_key": self.names.audit_signing_key,
            "queues": {"consumer-failures": self.failure_queue, "retro-hunts": self.retro_hunt_queue},
            "state_dir": str(self.state.directory.resolve()),
            "retention_signing_key": self.names.retention_signing_key,
        }
        if demo_section is not None:
            config["demo"] = demo_section
        return config

    # --- observation -----------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: consumer.stats.snapshot() for name, consumer in self.consumers.items()}

    def status_line(self) -> StatusLine:
        return StatusLine(self.tally, self.consumers, lambda: self.sink.rows_written if self.sink else 0)
