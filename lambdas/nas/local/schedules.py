"""Local mode's stand-in for EventBridge schedules: each scheduled job is the same Lambda handler
(or service call) the schedule invokes in AWS, run on a thread of its own every `interval_s`, and
once more on stop when asked. A failed run is logged and counted; the next one tries again, as a
schedule would. One module for every job (audit digests, VOI reviews, sweepers, …)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

SCHEDULED_EVENT: dict[str, Any] = {
    "version": "0",
    "source": "aws.events",
    "detail-type": "Scheduled Event",
    "detail": {},
}
"""What an EventBridge schedule passes a Lambda (the fields handlers read)."""


@dataclass
class ScheduledJob:
    name: str
    run: Callable[[], Any]
    interval_s: float
    run_on_stop: bool = False
    """Run once more when local mode stops (e.g. anchor the last audit records)."""
    runs: int = 0
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"job-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=60)
        if self.run_on_stop:
            self.once()

    def once(self) -> None:
        """One run now (never overlapping a scheduled one)."""
        with self._lock:
            try:
                self.run()
            except Exception:
                self.failures += 1
                log.exception("scheduled job %s failed", self.name)
            finally:
                self.runs += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.once()


class Schedules:
    """The jobs of one local mode, started together and stopped in reverse order."""

    def __init__(self) -> None:
        self.jobs: dict[str, ScheduledJob] = {}

    def add(self, job: ScheduledJob) -> ScheduledJob:
        if job.name in self.jobs:
            raise ValueError(f"scheduled job {job.name} is already registered")
        self.jobs[job.name] = job
        job.start()
        return job

    def stop(self) -> None:
        for job in reversed(list(self.jobs.values())):
            job.stop()
        self.jobs.clear()
