"""Local mode's stand-ins for what triggers the VOI functions in AWS (R-VOI-BULK, R-VOI-28, R-VOI-56):

- moto sends no S3 events, so a watcher lists the imports bucket's `incoming/` prefix every half
  second and gives each new object, as an Object Created event, to the same upload handler;
- the state machine is `LocalImportRunner`: the same step handler, called in the state machine's
  order (chunks, groups, finish; `fail` on any error; clean-up a little later) on a thread;
- moto never expires items (no TTL), so the sweep the AWS stack runs hourly runs every minute here,
  and the daily review reminders run on a timer too (`nas.local.schedules`);
- Lambda's SQS event source is `RetroHuntPoller`: the retro-hunt queue on moto read every half
  second, each message given to the same retro-hunt handler as an SQS event, and deleted unless
  the handler reports it failed (it comes back after the visibility timeout, as in AWS).
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nas import catalogue
from nas.adapters.import_files import INCOMING_PREFIX
from nas.adapters.voi_keys import STATE_TTL_S
from nas.domain.voi_imports import ImportPlan
from nas.local.names import REGION
from nas.local.poller import ACCOUNT_ID, LocalLambdaContext
from nas.local.schedules import ScheduledJob

if TYPE_CHECKING:
    from nas.local.runtime import LocalMode

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.5
SWEEP_INTERVAL_S = 60.0
REVIEW_INTERVAL_S = 24 * 3600.0
LOAD_WORKERS = 2
"""Steps of a phase run side by side, as in AWS; here that overlaps the service's work with moto's
(its own process) on a two-core machine."""
CLEAN_UP_DELAY_S = 2 * STATE_TTL_S
"""The state machine waits a minute before deleting a replaced list; locally twice the match path's
state refresh is enough for every poller to have moved to the new list."""

Step = Callable[[dict[str, Any]], Any]


def step_event(step: str, import_id: str, **extra: Any) -> dict[str, Any]:
    return {"step": step, "import_id": import_id, **extra}


def run_load(step: Step, plan: ImportPlan, *, workers: int = 1) -> bool:
    """The state machine's load path for `plan`: every chunk, then every group (each phase on
    `workers` threads, as the Distributed Map runs them side by side), then finish; on any step's
    error, the `fail` step with the error as Step Functions would pass it."""
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voi-import") as pool:
            for _ in pool.map(
                step, [step_event("chunk", plan.import_id, chunk=c.index) for c in plan.chunks]
            ):
                pass
            groups = range(plan.generation.groups)
            for _ in pool.map(step, [step_event("group", plan.import_id, group=g) for g in groups]):
                pass
        step(step_event("finish", plan.import_id))
    except Exception as exc:
        log.warning("import %s failed: %s", plan.import_id, exc)
        cause = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__})
        step(step_event("fail", plan.import_id, error={"Error": type(exc).__name__, "Cause": cause}))
        return False
    return True


class LocalImportRunner:
    """The state machine of local mode: loads run one at a time on a thread of their own; each
    clean-up runs CLEAN_UP_DELAY_S after its load (at once when local mode stops)."""

    def __init__(self, step: Step, *, clean_up_delay_s: float = CLEAN_UP_DELAY_S) -> None:
        self._step = step
        self._delay = clean_up_delay_s
        self._plans: queue.Queue[ImportPlan | None] = queue.Queue()
        self._clean_ups: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="voi-imports", daemon=True)
        self._thread.start()

    def begin(self, plan: ImportPlan) -> None:
        self._plans.put(plan)

    def _loop(self) -> None:
        while True:
            try:
                plan = self._plans.get(timeout=0.2)
            except queue.Empty:
                self._clean_up(due_only=True)
                continue
            if plan is None:
                return
            try:
                run_load(self._step, plan, workers=LOAD_WORKERS)
            except Exception:  # the fail step itself failed: keep the runner for the next import
                log.exception("import %s could not be failed cleanly", plan.import_id)
            with self._lock:
                self._clean_ups.append((time.monotonic() + self._delay, plan.import_id))

    def _clean_up(self, *, due_only: bool) -> None:
        now = time.monotonic()
        with self._lock:
            due = [c for c in self._clean_ups if not due_only or c[0] <= now]
            self._clean_ups = [c for c in self._clean_ups if c not in due]
        for _, import_id in due:
            try:
                self._step(step_event("clean-up", import_id))
            except Exception:
                log.exception("clean-up of import %s failed", import_id)

    def stop(self) -> None:
        self._plans.put(None)
        self._thread.join(timeout=120)
        self._clean_up(due_only=False)


def object_created(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    """S3's Object Created event as EventBridge delivers it to the upload function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag.strip('"')},
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT_ID,
            "reason": "PutObject",
        },
    }


class ImportWatcher:
    """Gives each new object under `incoming/` to the upload handler, once."""

    def __init__(self, s3: Any, bucket: str, upload: Callable[[dict[str, Any]], Any]) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._upload = upload
        self._seen: set[str] = set()

    def poll(self) -> int:
        started = 0
        response = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=INCOMING_PREFIX)
        for obj in response.get("Contents", []):
            key = obj["Key"]
            if key in self._seen:
                continue
            self._seen.add(key)
            try:
                self._upload(object_created(self._bucket, key, int(obj["Size"]), str(obj["ETag"])))
                started += 1
            except Exception:
                self._seen.discard(key)  # as S3 would, deliver it again
                raise
        return started


class RetroHuntPoller:
    """Lambda's SQS event source for the retro-hunt function, one message per invocation."""

    def __init__(self, sqs: Any, queue_url: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_url.rsplit('/', 1)[-1]}"

    def poll(self) -> int:
        messages = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        for message in messages:
            record = {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": self._arn,
                "awsRegion": REGION,
            }
            response = self._handler({"Records": [record]})
            if not response.get("batchItemFailures"):
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)


def context(name: str) -> LocalLambdaContext:
    return LocalLambdaContext(
        function_name=f"nas-local-{name}", invoked_function_arn=f"local:nas-local-{name}"
    )


def install(mode: LocalMode) -> Callable[[], None]:
    """The VOI functions' triggers for a local mode whose environment is set: the upload watcher,
    the import runner in place of Step Functions, the sweep and the review reminders. Returns the
    undo (stops the runner, restores the handler's wiring)."""
    from handlers import retro_hunt, voi_expiry, voi_import, voi_jobs
    from nas.services.wiring import build_import_service
    from nas.settings import settings

    for cached in (
        voi_import.upload_service,
        voi_import.step_service,
        voi_jobs.service,
        voi_expiry.service,
        retro_hunt.service,
    ):
        cached.cache_clear()
    runner = LocalImportRunner(lambda event: voi_import.step_handler(event, context("voi-import-step")))
    original = voi_import.upload_service
    voi_import.upload_service = functools.cache(lambda: build_import_service(settings(), orchestrator=runner))
    watcher = ImportWatcher(
        mode.client("s3"),
        mode.names.bucket(catalogue.Bucket.IMPORTS),
        lambda event: voi_import.upload_handler(event, context("voi-import-upload")),
    )
    mode.schedules.add(ScheduledJob("voi-import-uploads", watcher.poll, WATCH_INTERVAL_S))
    hunts = RetroHuntPoller(
        mode.client("sqs"),
        mode.retro_hunt_queue,
        lambda event: retro_hunt.lambda_handler(event, context("retro-hunt")),
    )
    mode.schedules.add(ScheduledJob("retro-hunts", hunts.poll, WATCH_INTERVAL_S))
    mode.schedules.add(
        ScheduledJob(
            "voi-sweep",
            lambda: voi_jobs.lambda_handler({"job": "sweep"}, context("voi-jobs")),
            SWEEP_INTERVAL_S,
        )
    )
    mode.schedules.add(
        ScheduledJob(
            "voi-reviews",
            lambda: voi_jobs.lambda_handler({"job": "reviews"}, context("voi-jobs")),
            REVIEW_INTERVAL_S,
        )
    )

    def restore() -> None:
        runner.stop()
        voi_import.upload_service = original
        for cached in (
            voi_import.upload_service,
            voi_import.step_service,
            voi_jobs.service,
            retro_hunt.service,
        ):
            cached.cache_clear()

    return restore
