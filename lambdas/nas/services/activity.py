"""What the audit trail says about a user's use of the API, and how scheduled jobs put their own
actions in it (R-AUDIT, R-ACCOUNT). Reads through the trail's `by-user` index and appends through
the trail's own `append`: the audit modules are used as they are, never changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nas.adapters.audit import AuditQuery, AuditTrail
from nas.domain.leas import NATIONAL
from nas.domain.timefmt import iso_utc

EARLIEST = "1901-01-01T00:00:00.000000Z"
"""The start of every "last request" window: the by-user index is read newest first, one item."""
JOB_METHOD = "JOB"
"""The `method` of a scheduled job's audit event (no HTTP request made it)."""


def job_user(job: str) -> str:
    """Who a scheduled job acts as: never a user name (the API refuses `:` in one)."""
    return f"job:{job}"


class ApiActivity:
    """The time of a user's latest audited API request, allowed or refused."""

    def __init__(self, trail: AuditTrail) -> None:
        self._trail = trail

    def last_request_at(self, username: str, now: datetime) -> datetime | None:
        query = AuditQuery(start=EARLIEST, end=iso_utc(now), user=username)
        for record, _ in self._trail.index_events(query, None, 1):
            return datetime.fromisoformat(record.at) if record.at else None
        return None


class JobAudit:
    """A scheduled job's actions as audit events: user `job:<name>`, method JOB, route
    `/jobs/<name>/<action>`, what it acted on as `parameters`, the run's id as `request_id`. They
    join the day's hash chains like any request, so the digests anchor them too. `clock` is the
    wall clock even when the job judges by another (a run "as of" a later day, in local mode)."""

    def __init__(self, trail: AuditTrail, job: str, run_id: str, clock: Callable[[], datetime]) -> None:
        self._trail = trail
        self._job = job
        self._run_id = run_id
        self._clock = clock

    def record(
        self, action: str, *, result_count: int | None = None, reason: str | None = None, **what: Any
    ) -> None:
        now = self._clock()
        event: dict[str, Any] = {
            "at": iso_utc(now),
            "user": job_user(self._job),
            "groups": [],
            "lea": NATIONAL,
            "method": JOB_METHOD,
            "route": f"/jobs/{self._job}/{action}",
            "parameters": json.dumps(
                {"arguments": what}, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
            ),
            "purpose": None,
            "reason": reason,
            "case_ref": None,
            "status": 200,
            "result_count": result_count,
            "request_id": self._run_id,
            "source_ip": None,
        }
        self._trail.append(event, now)
