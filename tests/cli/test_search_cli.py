"""`nas search`: the request it sends, waiting with a progress indicator, the three output formats,
--all-pages, and failures; against an API double answering as the API does."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from nas.cli.api_client import ApiCallFailed
from nas.cli.main import build_parser
from nas.cli.search import command

WHY = ["--purpose", "crime", "--reason", "Burglary enquiry, suspect vehicle", "--case-ref", "KENT-2026-1"]


def read_row(n: int) -> dict[str, Any]:
    return {
        "read_id": f"r{n}",
        "vrm": "AB12CDE",
        "captured_at": f"2026-11-20T12:0{n}:00.000000Z",
        "camera_id": "KENT-A2-001",
        "lea": "KENT",
        "lat": 51.2,
        "lon": 1.07,
        "direction": "N",
        "confidence": 90,
        "corrected": False,
        "read_ref": f"r1.ref{n}",
    }


class FakeApi:
    """Answers POST /searches, then `running` for `polls` GETs, then pages of the given rows."""

    def __init__(self, pages: list[list[dict[str, Any]]], polls: int = 2, final: str = "succeeded") -> None:
        self.calls: list[tuple[str, str, Any, Any]] = []
        self.pages = pages
        self.polls = polls
        self.final = final

    def call(self, method: str, path: str, *, query: Any = None, body: Any = None) -> Any:
        self.calls.append((method, path, query, body))
        if method == "POST":
            return {"search_id": "s-1", "status": "running"}
        if self.polls:
            self.polls -= 1
            return {"search_id": "s-1", "status": "running", "rows": [], "next_page_token": None}
        index = int((query or {}).get("page_token") or 0)
        return {
            "search_id": "s-1",
            "type": "vrm",
            "status": self.final,
            "rows": self.pages[index] if self.pages else [],
            "next_page_token": str(index + 1) if index + 1 < len(self.pages) else None,
            "truncated": False,
            "row_count": sum(len(p) for p in self.pages),
            "failure": "HIVE_BAD_DATA" if self.final == "failed" else None,
        }


def run(argv: list[str], api: FakeApi) -> tuple[int, str, str]:
    args = build_parser().parse_args(["search", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = command(args, out, err, client=api, sleep=lambda _: None)
    return code, out.getvalue(), err.getvalue()


def test_a_vrm_search_is_posted_waited_for_and_printed_as_a_table() -> None:
    api = FakeApi([[read_row(2), read_row(1)]])
    code, out, err = run(["vrm", "AB12CDE", "--ocr-tolerant", "--from", "2026-11-01T00:00:00Z", *WHY], api)
    assert code == 0
    method, path, _, body = api.calls[0]
    assert (method, path) == ("POST", "/searches")
    assert body | {"to": None} == {
        "type": "vrm",
        "vrm": "AB12CDE",
        "ocr_tolerant": True,
        "from": "2026-11-01T00:00:00Z",
        "to": None,
        "investigation_level": "priority-volume",
        "purpose": "crime",
        "reason": "Burglary enquiry, suspect vehicle",
        "case_ref": "KENT-2026-1",
    }
    assert [c[1] for c in api.calls[1:]] == ["/searches/s-1"] * 3
    lines = out.splitlines()
    assert lines[0].split() == [
        "captured_at",
        "vrm",
        "camera_id",
        "lea",
        "direction",
        "confidence",
        "read_id",
    ]
    assert lines[1].split()[-1] == "r2"
    assert lines[-1] == "2 row(s)"
    assert "search s-1: waiting for results" in err
    assert "search s-1: succeeded" in err


def test_all_pages_follows_the_page_tokens_and_json_holds_every_row() -> None:
    api = FakeApi([[read_row(3), read_row(2)], [read_row(1)]], polls=0)
    code, out, err = run(["vrm", "AB12CDE", "--from", "7d", *WHY, "--format", "json", "--all-pages"], api)
    assert code == 0
    document = json.loads(out)
    assert [r["read_id"] for r in document["rows"]] == ["r3", "r2", "r1"]
    assert api.calls[-1][2] == {"page_token": "1"}
    assert "more rows" not in err


def test_without_all_pages_the_first_page_is_printed_and_more_is_announced() -> None:
    api = FakeApi([[read_row(3)], [read_row(1)]], polls=0)
    code, out, err = run(["vrm", "AB12CDE", "--from", "24h", *WHY, "--format", "csv"], api)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["read_id"] for r in rows] == ["r3"]
    assert "more rows: add --all-pages" in err


def test_location_near_and_convoy_requests() -> None:
    api = FakeApi([], polls=0)
    run(["location", "--near", "51.28,1.079,500", "--from", "2h", *WHY], api)
    assert api.calls[0][3]["near"] == {"lat": 51.28, "lon": 1.079, "radius_m": 500.0}
    api = FakeApi([], polls=0)
    run(["location", "--camera", "A", "--camera", "B", "--from", "2h", *WHY], api)
    assert api.calls[0][3]["camera_ids"] == ["A", "B"]
    api = FakeApi([], polls=0)
    run(["convoy", "AB12CDE", "--within-s", "60", "--min-sightings", "2", "--from", "7d", *WHY], api)
    assert {k: api.calls[0][3][k] for k in ("type", "vrm", "within_s", "min_sightings")} == {
        "type": "convoy",
        "vrm": "AB12CDE",
        "within_s": 60,
        "min_sightings": 2,
    }


def test_a_failed_search_or_a_refusal_exits_1_with_the_reason() -> None:
    code, _, err = run(["vrm", "AB12CDE", "--from", "7d", *WHY], FakeApi([], polls=0, final="failed"))
    assert code == 1
    assert "HIVE_BAD_DATA" in err

    class Refusing(FakeApi):
        def call(self, method: str, path: str, *, query: Any = None, body: Any = None) -> Any:
            raise ApiCallFailed(
                403, "lookback-exceeds-level", "priority-volume searches reach back at most 90 days"
            )

    code, _, err = run(["vrm", "AB12CDE", "--from", "100d", *WHY], Refusing([]))
    assert code == 1
    assert "403 lookback-exceeds-level" in err


def test_a_malformed_near_is_refused_before_any_call() -> None:
    api = FakeApi([])
    code, _, err = run(["location", "--near", "51.28,1.079", "--from", "2h", *WHY], api)
    assert code == 2
    assert "LAT,LON,RADIUS_M" in err
    assert api.calls == []


@pytest.mark.parametrize("missing", ["--purpose", "--reason", "--case-ref", "--from"])
def test_purpose_reason_case_and_from_are_required(missing: str) -> None:
    argv = ["vrm", "AB12CDE", "--from", "7d", *WHY]
    index = argv.index(missing)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["search", *argv[:index], *argv[index + 2 :]])
