"""`nas validate-reads`: a force gateway team checks a JSON-lines feed exactly as the pipeline will."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nas.cli.main import main

MakeRead = Callable[..., dict[str, Any]]


def fresh(make_read: MakeRead, **overrides: Any) -> str:
    """A read captured a minute ago by the real clock, which the command uses."""
    captured_at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return json.dumps(make_read(captured_at=captured_at, **overrides))


def test_help_lists_validate_reads(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "validate-reads" in capsys.readouterr().out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "validate-reads" in capsys.readouterr().out


def test_rejected_lines_are_reported_with_reasons_and_exit_1(
    tmp_path: Path, make_read: MakeRead, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "reads.jsonl"
    feed.write_text(
        "\n".join([fresh(make_read), "not json", fresh(make_read, read_id="r-2", lea="XXXX")]) + "\n"
    )

    status = main(["validate-reads", str(feed)])

    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    assert lines[-1] == "accepted=1 rejected=2"
    reports = [json.loads(line) for line in lines[:-1]]
    assert [(r["line"], r["reason"]) for r in reports] == [(2, "not-json"), (3, "invalid-fields")]
    assert [p["field"] for p in reports[1]["problems"]] == ["lea"]


def test_all_good_file_exits_0(
    tmp_path: Path, make_read: MakeRead, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "reads.jsonl"
    feed.write_text(fresh(make_read) + "\r\n\n" + fresh(make_read, read_id="r-2", vrm="XY99 ZZZ") + "\r\n")

    assert main(["validate-reads", str(feed)]) == 0
    assert capsys.readouterr().out.splitlines() == ["accepted=2 rejected=0"]


def test_late_reads_are_accepted_with_a_note(
    tmp_path: Path, make_read: MakeRead, capsys: pytest.CaptureFixture[str]
) -> None:
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    feed = tmp_path / "reads.jsonl"
    feed.write_text(json.dumps(make_read(captured_at=two_days_ago)) + "\n")

    assert main(["validate-reads", str(feed)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[0])["line"] == 1
    assert "late" in json.loads(lines[0])["note"]
    assert lines[-1] == "accepted=1 rejected=0"


def test_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["validate-reads", str(tmp_path / "absent.jsonl")])
    assert exited.value.code == 2
    assert "absent.jsonl" in capsys.readouterr().err
