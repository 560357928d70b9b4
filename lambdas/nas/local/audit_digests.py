"""Local mode's stand-in for the digest job's schedules (R-AUDIT): the same Lambda handler, run on
a timer (every 30 s rather than 5 minutes, so a local session sees its requests anchored) and once
more on stop, so the trail a session leaves behind is anchored up to its last request."""

from __future__ import annotations

from typing import Any

from nas.local.logs import logging_as, service_of
from nas.local.poller import LocalLambdaContext
from nas.local.schedules import SCHEDULED_EVENT, ScheduledJob

DIGEST_INTERVAL_S = 30.0


def run_digest_handler() -> Any:
    """One run of the digest Lambda's handler, as its schedule would invoke it."""
    from handlers import audit_digest

    context = LocalLambdaContext(
        function_name="nas-local-audit-digest", invoked_function_arn="local:nas-local-audit-digest"
    )
    with logging_as(function_name=context.function_name, service=service_of("AuditDigest")):
        return audit_digest.lambda_handler(SCHEDULED_EVENT, context)


def job(interval_s: float = DIGEST_INTERVAL_S) -> ScheduledJob:
    """The digest job for a local mode whose environment has just been set: every `interval_s`
    and once more on stop."""
    from handlers import audit_digest

    audit_digest.ports.cache_clear()  # built again from this environment on the first run
    return ScheduledJob("audit-digests", run_digest_handler, interval_s, run_on_stop=True)
