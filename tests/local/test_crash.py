"""Local mode loses nothing: `nas local` killed with SIGKILL while reads pour in, then started again
with `--reuse`, stores every good read once and raises every alert once (R-QUARANTINE, R-DUP)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq

from nas.adapters.dynamo import from_item
from nas.domain.models import alert_id_for
from nas.local import demo
from nas.local.moto_server import free_port, is_listening
from tests.local.conftest import wait_for

READS = 3000
HITS = 30
KILL_AFTER = 1000
PROJECT = Path(__file__).parents[2]


def nas_local(cwd: Path, aws_port: int, api_port: int, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "nas.cli.main",
            "local",
            "--demo",
            "--no-simulator",
            "--aws-port",
            str(aws_port),
            "--api-port",
            str(api_port),
            "--flush-interval-s",
            "1",
            *extra,
        ],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(PROJECT / "lambdas")},
    )


def reads(tag: str) -> list[tuple[str, bytes, bool]]:
    """(partition key, record, is a hit): good reads from the demo's active cameras, HITS of them
    of the demo's stolen Kent vehicle seen by a Kent camera."""
    cameras = [c for c in demo.CAMERAS if c.active and c.source.value != "mobile"]
    kent = demo.CAMERAS[0]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    made = []
    for n in range(READS):
        hit = n % (READS // HITS) == 7
        camera = kent if hit else cameras[n % len(cameras)]
        record = {
            "schema": "nas.read.v1",
            "read_id": f"{tag}-{n:05d}",
            "vrm": demo.VOI[0].vrm if hit else f"ZX{n % 100:02d}{'ABCDEFGH'[n % 8]}QW",
            "captured_at": now,
            "camera_id": camera.camera_id,
            "lea": camera.lea,
            "source": camera.source.value,
        }
        made.append((camera.camera_id, json.dumps(record).encode(), hit))
    return made


def stored_read_ids(s3: Any, bucket: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="reads/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            found.update(pq.read_table(io.BytesIO(body), columns=["read_id"]).column("read_id").to_pylist())
    return found


def test_a_killed_nas_local_resumes_with_reuse_and_stores_every_read_and_raises_every_alert_once(
    tmp_path: Path,
) -> None:
    aws_port, api_port = free_port(), free_port()
    config_file = tmp_path / ".nas-local.json"
    first = nas_local(tmp_path, aws_port, api_port)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(config_file.exists, timeout_s=60)
        config = json.loads(config_file.read_text())
        client = {
            service: boto3.client(
                service,  # type: ignore[call-overload]
                endpoint_url=config["aws_endpoint"],
                region_name=config["region"],
                aws_access_key_id="local",
                aws_secret_access_key="local",
            )
            for service in ("kinesis", "s3", "dynamodb")
        }
        tag = f"crash-{uuid.uuid4().hex[:6]}"
        made = reads(tag)
        put = [0]
        halfway = threading.Event()

        def send() -> None:
            # About 1,000 reads a second, as a busy hour's cameras would send them.
            for start in range(0, len(made), 100):
                batch = made[start : start + 100]
                response = client["kinesis"].put_records(
                    StreamName=config["stream"],
                    Records=[{"PartitionKey": key, "Data": data} for key, data, _ in batch],
                )
                assert response["FailedRecordCount"] == 0
                put[0] += len(batch)
                if put[0] >= KILL_AFTER:
                    halfway.set()
                time.sleep(0.1)

        state = tmp_path / ".nas-local"

        def working() -> bool:
            """Both consumers have done some of the reads: match committed positions, archive rows."""
            journal = state / "journal" / "current.jsonl"
            return any((state / "positions" / "match").glob("shardId-*")) and (
                (journal.exists() and journal.stat().st_size > 0)
                or any((state / "journal").glob("positions.json"))
            )

        sender = threading.Thread(target=send)
        sender.start()
        assert halfway.wait(timeout=60)
        wait_for(working, timeout_s=30, interval_s=0.05)
        first.send_signal(signal.SIGKILL)  # no clean stop: its moto server lives on
        first.wait(timeout=10)
        sender.join(timeout=60)
        assert put[0] == READS
        assert is_listening(aws_port)

        config_file.unlink()
        second = nas_local(tmp_path, aws_port, api_port, "--reuse")
        wait_for(config_file.exists, timeout_s=60)
        assert json.loads(config_file.read_text())["aws_endpoint"] == config["aws_endpoint"]

        def all_stored() -> Counter[str] | None:
            ids = stored_read_ids(client["s3"], config["buckets"]["reads"])
            mine = Counter({k: v for k, v in ids.items() if k.startswith(tag)})
            return mine if len(mine) == READS else None

        stored = wait_for(all_stored, timeout_s=60, interval_s=1.0)
        hits = {
            alert_id_for(key, json.loads(data)["read_id"], demo.VOI[0].voi_id)
            for key, data, hit in made
            if hit
        }

        def alerts() -> list[dict[str, Any]] | None:
            items = client["dynamodb"].scan(TableName=config["tables"]["alerts"])["Items"]
            raised = [from_item(i) for i in items if from_item(i)["read_id"].startswith(tag)]
            return raised if len(raised) >= HITS else None

        raised = wait_for(alerts, timeout_s=60)
        assert set(stored.values()) == {1}  # every good read stored, none twice
        assert sorted(a["alert_id"] for a in raised) == sorted(
            hits
        )  # every alert once (its id is R-DUP's key)

        second.send_signal(signal.SIGINT)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err.decode()
        # The moto server the killed run left behind was stopped with the run that resumed it.
        assert wait_for(lambda: not is_listening(aws_port), timeout_s=15)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
        pid_file = tmp_path / ".nas-local" / "moto.pid"
        if pid_file.exists():
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
