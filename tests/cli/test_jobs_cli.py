"""`nas jobs run`'s arguments, checked before it reaches any service: `--date` counts a named day
for the statistics job only, and never a day still to come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nas.cli.main import main as nas


@pytest.mark.parametrize(
    ("job", "day"),
    [
        ("retention", (datetime.now(UTC) - timedelta(days=1)).date()),
        ("statistics", (datetime.now(UTC) + timedelta(days=2)).date()),
    ],
)
def test_date_is_refused_for_another_job_or_a_day_to_come(
    job: str, day: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert nas(["jobs", "run", job, "--date", str(day), "--config", "/nonexistent.json"]) == 2
    assert "--date is for statistics only, and names today or an earlier day" in capsys.readouterr().err


def test_a_date_that_is_not_a_day_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        nas(["jobs", "run", "statistics", "--date", "yesterday", "--config", "/nonexistent.json"])
    assert exit_.value.code == 2
    assert "--date" in capsys.readouterr().err
