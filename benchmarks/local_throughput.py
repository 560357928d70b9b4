"""Local mode under load: the camera simulator (with images) at rising rates against `nas local`
(no demo simulator), measuring whether the match poller keeps up (records put vs processed) and
the put->alert latency of probe reads with known hit VRMs.

Prints per-rate lines, then `sustained_reads_per_s=N` (the highest rate held: the simulator achieved
it and the backlog at the end of the run was under 2 s of reads) and `p95_put_to_alert_s=S` there.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nas.adapters.dynamo import to_item
from nas.domain.models import alert_id_for
from nas.local import demo
from nas.local.moto_server import free_port
from nas.local.runtime import LocalMode, LocalOptions

# Realistic reads carry a ~3 KB plate and a ~25 KB overview image (about 30 KB a record); the
# metadata-only series shows what the pollers and handlers sustain when payload bytes are not the limit.
SERIES = {"images": (True, (100, 250, 500, 1000)), "no_images": (False, (250, 500, 1000, 1500, 2000))}
DURATION_S = float(os.environ.get("BENCH_DURATION_S", "20"))
PROBE_INTERVAL_S = 0.25
GATEWAYS = 2
MAX_LAG_S = 2.0
DRAIN_TIMEOUT_S = 60.0
PROBE_CAMERA = demo.CAMERAS[0]
PROBE_VOI = demo.VOI[0]


def simulate(config: dict[str, Any], rate: float, duration_s: float, images: bool, results: Any) -> None:
    """In a child process (its own GIL): nas simulate's generator, sender and pacing."""
    from nas.cli.target import AwsTarget
    from nas.local import fast_botocore
    from nas.simulator import KinesisSender, ReadGenerator, ReadMix, run_paced

    fast_botocore.install()

    target = AwsTarget.model_validate(config)
    generator = ReadGenerator(
        demo.CAMERAS,
        [],  # misses only: the probes are the hits, so every alert is one we timed
        random.Random(f"{rate}-{os.getpid()}"),  # each gateway process its own stream of reads
        lambda: datetime.now(UTC),
        mix=ReadMix(bad_rate=0.01),
        images=images,
    )
    result = run_paced(
        generator,
        KinesisSender(target.client("kinesis"), target.read_stream()),
        rate=rate,
        duration_s=duration_s,
    )
    results.put({"sent": result.sent, "failed": result.failed, "elapsed_s": result.elapsed_s})


def probe_read(read_id: str) -> bytes:
    return json.dumps(
        {
            "schema": "nas.read.v1",
            "read_id": read_id,
            "vrm": PROBE_VOI.vrm,
            "captured_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "camera_id": PROBE_CAMERA.camera_id,
            "lea": PROBE_CAMERA.lea,
            "source": PROBE_CAMERA.source.value,
        }
    ).encode()


class Prober(threading.Thread):
    """Puts a hit read every PROBE_INTERVAL_S and times each until its alert is stored."""

    def __init__(self, local: LocalMode, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self._kinesis = local.client("kinesis")
        self._dynamodb = local.client("dynamodb")
        self._stream = local.names.stream
        self._alerts = local.names.tables["alerts"]
        self._stop_event = stop
        self.pending: dict[str, float] = {}
        self.latencies: list[float] = []
        self.sent = 0
        self._lock = threading.Lock()
        self._sending_done = threading.Event()

    def run(self) -> None:
        checker = threading.Thread(target=self._check, daemon=True)
        checker.start()
        while not self._stop_event.wait(PROBE_INTERVAL_S):
            read_id = f"probe-{uuid.uuid4().hex[:12]}"
            put_at = time.monotonic()
            self._kinesis.put_record(StreamName=self._stream, PartitionKey=read_id, Data=probe_read(read_id))
            with self._lock:
                self.pending[alert_id_for(PROBE_CAMERA.camera_id, read_id, PROBE_VOI.voi_id)] = put_at
                self.sent += 1
        self._sending_done.set()
        checker.join()

    def _check(self) -> None:
        deadline: float | None = None
        while True:
            # Only once the last probe is counted: one put while the stop was set is still pending.
            if self._sending_done.is_set():
                deadline = deadline or time.monotonic() + 30
                if not self.pending or time.monotonic() > deadline:
                    return
            with self._lock:
                ids = list(self.pending)
            for start in range(0, len(ids), 100):
                chunk = ids[start : start + 100]
                found = self._dynamodb.batch_get_item(
                    RequestItems={
                        self._alerts: {
                            "Keys": [to_item({"alert_id": a}) for a in chunk],
                            "ProjectionExpression": "alert_id",
                        }
                    }
                )["Responses"].get(self._alerts, [])
                now = time.monotonic()
                with self._lock:
                    for item in found:
                        put_at = self.pending.pop(item["alert_id"]["S"], None)
                        if put_at is not None:
                            self.latencies.append(now - put_at)
            time.sleep(0.05)


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20)[18]


def run_rate(local: LocalMode, config: dict[str, Any], rate: float, images: bool) -> dict[str, Any]:
    before = local.stats()["match"]["processed"]
    stop = threading.Event()
    prober = Prober(local, stop)
    spawn = multiprocessing.get_context("spawn")
    results: Any = spawn.Queue()
    # Cameras reach the service through many force gateways at once: several senders, each
    # waiting on its own PutRecords calls, rather than one whose call latency caps the rate.
    children = [
        spawn.Process(target=simulate, args=(config, rate / GATEWAYS, DURATION_S, images, results))
        for _ in range(GATEWAYS)
    ]
    for child in children:
        child.start()
    prober.start()
    parts = [results.get(timeout=DURATION_S + 120) for _ in children]
    for child in children:
        child.join(timeout=30)
    sim = {
        "sent": sum(p["sent"] for p in parts),
        "failed": sum(p["failed"] for p in parts),
        "elapsed_s": max(p["elapsed_s"] for p in parts),
    }
    processed_at_end = local.stats()["match"]["processed"] - before
    stop.set()
    put = sim["sent"] + prober.sent
    backlog = put - processed_at_end
    drain_start = time.monotonic()
    while (
        local.stats()["match"]["processed"] - before < put
        and time.monotonic() - drain_start < DRAIN_TIMEOUT_S
    ):
        time.sleep(0.2)
    drain_s = time.monotonic() - drain_start
    prober.join(timeout=60)
    achieved = sim["sent"] / sim["elapsed_s"]
    lag_s = backlog / rate
    return {
        "rate": rate,
        "achieved": achieved,
        "put": put,
        "processed_at_end": processed_at_end,
        "backlog_at_end": backlog,
        "lag_s": lag_s,
        "drain_s": drain_s,
        "probes": prober.sent,
        "alerts_timed": len(prober.latencies),
        "p95_put_to_alert_s": p95(prober.latencies),
        "held": achieved >= 0.95 * rate and lag_s <= MAX_LAG_S and len(prober.latencies) == prober.sent,
    }


def main() -> int:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    workdir = Path(tempfile.mkdtemp(prefix="nas-bench-local-"))
    local = LocalMode(
        LocalOptions(
            aws_port=free_port(),
            api_port=free_port(),
            demo=True,
            simulator=False,
            config_path=workdir / "c.json",
        )
    )
    config = local.start()
    sustained: dict[str, dict[str, Any] | None] = {}
    try:
        for series, (images, rates) in SERIES.items():
            sustained[series] = None
            for rate in rates:
                result = run_rate(local, config, rate, images)
                print(
                    f"series={series} rate={rate} achieved={result['achieved']:.0f} put={result['put']} "
                    f"processed_at_end={result['processed_at_end']} "
                    f"backlog_at_end={result['backlog_at_end']} "
                    f"lag_s={result['lag_s']:.2f} drain_s={result['drain_s']:.1f} "
                    f"alerts={result['alerts_timed']}/{result['probes']} "
                    f"p95_put_to_alert_s={result['p95_put_to_alert_s']:.2f} held={result['held']}",
                    flush=True,
                )
                if not result["held"]:
                    break
                sustained[series] = result
    finally:
        local.stop()
    for series, suffix in (("images", ""), ("no_images", "_no_images")):
        best = sustained.get(series)
        print(f"sustained_reads_per_s{suffix}={best['rate'] if best else 0}")
        print(
            f"p95_put_to_alert_s{suffix}={best['p95_put_to_alert_s']:.2f}"
            if best
            else f"p95_put_to_alert_s{suffix}=nan"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
