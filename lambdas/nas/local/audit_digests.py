"""Local mode's stand-in for the digest job's schedules (R-AUDIT): the same Lambda handler, run on
a timer (every 30 s rather than 5 minutes, so a local session sees its requests anchored) and once
more on stop, so the trail a session leaves behind is anchored up to its last request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from nas.local.poller import LocalLambdaContext

log = logging.getLogger(__name__)

DIGEST_INTERVAL_S = 30.0
SCHEDULED_EVENT: dict[str, Any] = {
    "version": "0",
    "source": "aws.events",
    "detail-type": "Scheduled Event",
    "detail": {},
}


def run_digest_handler() -> Any:
    """One run of the digest Lambda's handler, as its schedule would invoke it."""
    from handlers import audit_digest

    context = LocalLambdaContext(
        function_name="nas-local-audit-digest", invoked_function_arn="local:nas-local-audit-digest"
    )
    return audit_digest.lambda_handler(SCHEDULED_EVENT, context)


def start(interval_s: float = DIGEST_INTERVAL_S) -> DigestTimer:
    """The timer, started, for a local mode whose environment has just been set."""
    from handlers import audit_digest

    audit_digest.ports.cache_clear()  # built again from this environment on the first run
    timer = DigestTimer(interval_s=interval_s)
    timer.start()
    return timer


class DigestTimer:
    """Runs `run` every `interval_s` on a thread of its own, and once more on `stop`. A failed run
    is logged and the next one tries again, as the schedule would."""

    def __init__(
        self, run: Callable[[], Any] = run_digest_handler, interval_s: float = DIGEST_INTERVAL_S
    ) -> None:
        self._run = run
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the final run never overlaps a scheduled one
        self._thread = threading.Thread(target=self._loop, name="audit-digests", daemon=True)
        self.runs = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        self._once()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._once()

    def _once(self) -> None:
        with self._lock:
            try:
                self._run()
            except Exception:
                self.failures += 1
                log.exception("audit digest run failed")
            finally:
                self.runs += 1
