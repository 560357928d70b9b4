"""`nas read get|image|correct`, `nas preserve` and `nas sar new|list|export`: the requests they send
and what they print or write, against an API double answering as the API does."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from nas.cli import reads, sar
from nas.cli.api_client import ApiCallFailed
from nas.cli.main import build_parser

JPEG = b"\xff\xd8\xff\xe0plate\xff\xd9"
SEARCH = "6f1c0c1e-5a8e-4c39-9a51-0b1e2f3a4b5c"


class FakeApi:
    def __init__(self, answers: dict[tuple[str, str], Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, Any, Any, str | None]] = []

    def call(self, method: str, path: str, *, query: Any = None, body: Any = None) -> Any:
        self.calls.append((method, path, query, body, None))
        answer = self.answers[(method, path)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def fetch(
        self, method: str, path: str, *, query: Any = None, body: Any = None, accept: str = "application/json"
    ) -> bytes:
        self.calls.append((method, path, query, body, accept))
        answer: bytes = self.answers[(method, path)]
        return answer


def run(argv: list[str], api: FakeApi) -> tuple[int, str, str]:
    args = build_parser().parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    if args.command == "sar":
        code = sar.command(args, out, err, client=api)
    elif args.command == "preserve":
        code = reads.preserve_command(args, out, err, client=api)
    else:
        code = reads.read_command(args, out, err, client=api)
    return code, out.getvalue(), err.getvalue()


def test_read_image_writes_the_jpeg_asking_for_image_media(tmp_path: Path) -> None:
    api = FakeApi({("GET", "/reads/r%3A1/images/overview"): JPEG})
    out_file = tmp_path / "o.jpg"
    code, out, _ = run(
        ["read", "image", "r:1", "--search", SEARCH, "--kind", "overview", "--out", str(out_file)], api
    )
    assert code == 0
    assert out_file.read_bytes() == JPEG
    assert api.calls == [("GET", "/reads/r%3A1/images/overview", {"search_id": SEARCH}, None, "image/jpeg")]
    assert f"{len(JPEG)} bytes" in out


def test_read_get_prints_the_read_and_its_corrections() -> None:
    read = {
        "read_id": "r1",
        "vrm": "AB12CDF",
        "original_vrm": "AB12CDE",
        "corrected": True,
        "camera_id": "KENT-A2-001",
        "images": {"plate": True, "overview": False},
        "corrections": [
            {
                "corrected_at": "2026-11-20T12:00:00Z",
                "corrected_by": "ivy",
                "previous_vrm": "AB12CDE",
                "vrm": "AB12CDF",
            }
        ],
    }
    code, out, _ = run(["read", "get", "r1", "--search", SEARCH], FakeApi({("GET", "/reads/r1"): read}))
    assert code == 0
    assert "original_vrm  AB12CDE" in out
    assert "images        plate" in out
    assert "AB12CDE -> AB12CDF" in out


def test_read_correct_sends_the_correction_and_reports_live_voi_entries() -> None:
    made = {
        "correction": {"correction_id": "c-1", "previous_vrm": "AB12CDE", "vrm": "AB12CDF"},
        "read": {"read_id": "r1"},
        "voi_matches": [{"voi_id": "voi-9", "category": "stolen", "action": "stop", "priority": 1}],
        "voi_matches_withheld": 1,
    }
    api = FakeApi({("POST", "/reads/r1/corrections"): made})
    argv = ["read", "correct", "r1", "--search", SEARCH, "--vrm", "AB12CDF", "--reason", "Image shows an F"]
    code, out, _ = run([*argv, "--alert", "a-1"], api)
    assert code == 0
    assert api.calls[0][3] == {
        "search_id": SEARCH,
        "vrm": "AB12CDF",
        "reason": "Image shows an F",
        "alert_id": "a-1",
    }
    assert "AB12CDE -> AB12CDF (c-1)" in out
    assert "voi-9 stolen action=stop" in out
    assert "1 further live entry" in out


def test_a_refused_read_is_reported_with_the_apis_status_and_code() -> None:
    api = FakeApi({("GET", "/reads/r1"): ApiCallFailed(404, "not-found", "no such read")})
    code, _, err = run(["read", "get", "r1", "--search", SEARCH], api)
    assert code == 1
    assert "404 not-found" in err


def test_preserve_sends_every_read_named() -> None:
    made = {
        "preservation_id": "p-1",
        "case_ref": "KENT-1",
        "reads": 2,
        "files": 5,
        "manifest_sha256": "ab" * 32,
    }
    api = FakeApi({("POST", "/preservations"): made})
    argv = ["preserve", "--search", SEARCH, "--read", "r1", "--read", "r2", "--case-ref", "KENT-1"]
    code, out, _ = run([*argv, "--reason", "CPIA: trial evidence"], api)
    assert code == 0
    assert api.calls[0][3] == {
        "search_id": SEARCH,
        "read_ids": ["r1", "r2"],
        "case_ref": "KENT-1",
        "reason": "CPIA: trial evidence",
    }
    assert "preservation p-1 for KENT-1: 2 read(s), 5 file(s)" in out


def test_sar_new_prints_the_due_date_and_list_follows_pages() -> None:
    created = {"request_id": "q-1", "kind": "access", "vrm": "AB12CDE", "due_date": "2027-02-28"}
    row = {"due_date": "2027-02-28", "overdue": False, "kind": "access", "status": "open", "vrm": "AB12CDE"}
    api = FakeApi({("POST", "/subject-requests"): created})
    argv = ["sar", "new", "--kind", "access", "--vrm", "AB12CDE", "--received-at", "2027-01-31T09:00:00Z"]
    code, out, _ = run([*argv, "--requester-ref", "SAR-1"], api)
    assert (code, out) == (0, "request q-1 (access for AB12CDE) due 2027-02-28\n")
    pages = iter([{"requests": [row], "next_page_token": "t2"}, {"requests": [row], "next_page_token": None}])

    class Paged(FakeApi):
        def call(self, method: str, path: str, *, query: Any = None, body: Any = None) -> Any:
            self.calls.append((method, path, query, body, None))
            return next(pages)

    paged = Paged({})
    code, out, _ = run(["sar", "list", "--overdue"], paged)
    assert code == 0
    assert [c[2] for c in paged.calls] == [
        {"status": None, "overdue": "true"},
        {"status": None, "overdue": "true", "page_token": "t2"},
    ]
    assert out.endswith("2 request(s)\n")


def test_sar_export_writes_the_file_in_the_format_asked(tmp_path: Path) -> None:
    document = {"reads": [{"vrm": "AB12CDE"}], "alerts": []}
    api = FakeApi({("GET", "/subject-requests/q-1/export"): json.dumps(document).encode()})
    target = tmp_path / "export.json"
    code, out, _ = run(["sar", "export", "q-1", "--format", "json", "--out", str(target)], api)
    assert code == 0
    assert json.loads(target.read_text()) == document
    assert api.calls[0][2:] == ({"format": "json"}, None, "application/json")
    assert "1 read(s), 0 alert(s)" in out
