"""Local mode's scheduled jobs (the audit digest job among them, R-AUDIT): a job runs at its
interval and once more on stop, and a failed run does not stop the next."""

from __future__ import annotations

from nas.local.schedules import ScheduledJob
from tests.local.conftest import wait_for


def test_the_timer_runs_at_its_interval_and_once_more_on_stop() -> None:
    calls: list[int] = []

    def run() -> None:
        calls.append(1)

    timer = ScheduledJob("test", run, interval_s=0.01, run_on_stop=True)
    timer.start()
    wait_for(lambda: len(calls) >= 3, timeout_s=5, interval_s=0.01)
    timer.stop()
    after_stop = len(calls)
    assert timer.runs == after_stop
    assert len(calls) == after_stop  # the thread has ended: no run after stop returned
    timer.stop()  # stopping twice runs once more, and nothing breaks
    assert len(calls) == after_stop + 1


def test_a_failed_run_is_counted_and_the_next_one_runs() -> None:
    outcomes = iter([RuntimeError("moto went away"), None, None])
    calls: list[int] = []

    def run() -> None:
        calls.append(1)
        failure = next(outcomes, None)
        if failure is not None:
            raise failure

    timer = ScheduledJob("test", run, interval_s=0.01, run_on_stop=True)
    timer.start()
    wait_for(lambda: len(calls) >= 3, timeout_s=5, interval_s=0.01)
    timer.stop()
    assert timer.failures == 1
    assert timer.runs == len(calls) >= 4
