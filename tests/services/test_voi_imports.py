"""Bulk list imports on moto (R-VOI-BULK, R-WHITE, R-VOI-56): every kind of file the issue lists,
atomic replacement with a read matched half-way, two imports of one source racing, the counts
against the list replaced, and what a finished or failed import leaves behind."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nas.adapters.import_files import incoming_key, rejects_key
from nas.domain.voi_imports import ImportStatus
from nas.domain.voi_lists import ListSource
from nas.local.voi import run_load
from tests.voi_support import (
    IMPORTS_BUCKET,
    NATIONAL_MANAGER,
    Row,
    VoiAccount,
    count_rows,
    list_file,
    voi_account,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def account() -> Iterator[VoiAccount]:
    with voi_account(NOW) as account:
        yield account


def listed(account: VoiAccount, *vrms: str) -> dict[str, list[str]]:
    """What a freshly started match environment finds for `vrms`: voi ids per VRM."""
    return {
        vrm: sorted(e.voi_id for e in listing.entries)
        for vrm, listing in account.store().listings(set(vrms)).items()
    }


def rows(count: int, prefix: str = "AB") -> list[Row]:
    return [Row(f"{prefix}{i:05d}") for i in range(count)]


def test_a_valid_list_becomes_the_sources_list_and_matches(account: VoiAccount) -> None:
    record = account.lists.rows(ListSource.DVLA, rows(300))
    assert record.status is ImportStatus.SUCCEEDED
    assert record.counts is not None
    assert (record.counts.rows, record.counts.accepted, record.counts.added) == (300, 300, 300)
    assert (record.rejects, record.rejects_total, record.rejects_key) == ((), 0, None)
    assert listed(account, "AB00007", "ZZ99ZZZ") == {"AB00007": ["dvla:AB00007"]}
    # Nothing of the load is left but the list: the upload and the working files are gone.
    assert account.objects() == []


def test_a_mixed_file_loads_the_valid_rows_and_reports_each_rejected_line(account: VoiAccount) -> None:
    lines: list[Row | str] = [*rows(40)]
    lines[4] = "AB00004,no-tax,report,9,Untaxed,,NATIONAL,false"  # line 6 (the header is line 1)
    lines[30] = "BAD VRM!,no-tax,report,3,Untaxed,,NATIONAL,false"  # line 32
    lines.insert(20, "")  # a blank line (line 22) is not a row, and shifts the lines after it
    lists = replace(account.lists, chunk_bytes=300)  # several chunks: line numbers across them
    record = lists.load(ListSource.MIB, list_file(lines))
    assert record.status is ImportStatus.SUCCEEDED
    assert record.counts is not None
    assert (record.counts.rows, record.counts.accepted, record.counts.rejected) == (40, 38, 2)
    assert [(r.line, r.field) for r in record.rejects] == [(6, "priority"), (33, "vrm")]
    assert record.rejects_key == rejects_key(record.import_id)
    body = account.s3.get_object(Bucket=IMPORTS_BUCKET, Key=record.rejects_key)["Body"].read().decode()
    assert body.splitlines()[0] == "line,field,message"
    assert [line.split(",")[:2] for line in body.splitlines()[1:]] == [["6", "priority"], ["33", "vrm"]]
    assert "BAD VRM" not in body  # rejected rows are reported, not copied


def test_duplicate_vrms_keep_the_first_line_and_reject_the_others(account: VoiAccount) -> None:
    lines = [*rows(30), Row("AB00003", reason="Later duplicate"), *rows(5, prefix="CD"), Row("AB00003")]
    record = replace(account.lists, chunk_bytes=250).load(ListSource.DVLA, list_file(lines))
    assert record.counts is not None
    assert (record.counts.accepted, record.counts.rejected) == (35, 2)
    assert [(r.line, r.message) for r in record.rejects] == [
        (32, "duplicate vrm: first given on line 5"),
        (38, "duplicate vrm: first given on line 5"),
    ]
    [entry] = account.store().listings({"AB00003"})["AB00003"].entries
    assert entry.reason == "Untaxed vehicle"  # the first line's row


def test_an_all_rejected_file_fails_and_leaves_the_old_list_in_force(account: VoiAccount) -> None:
    account.lists.rows(ListSource.DVLA, rows(5))
    bad = ["AB00001,no-tax,report,9,Untaxed,,NATIONAL,false"] * 3
    record = account.lists.load(ListSource.DVLA, list_file(bad))
    assert record.status is ImportStatus.FAILED
    assert record.failure is not None
    assert record.failure.code == "no-rows-accepted"
    assert record.rejects_total == 3
    assert listed(account, "AB00001") == {"AB00001": ["dvla:AB00001"]}


@pytest.mark.parametrize(
    ("body", "rows_expected", "code"),
    [
        (b"", 1, "empty-file"),
        (list_file([]), 1, "row-count-mismatch"),  # a header and nothing else
        (b"registration,reason\nAB12CDE,stolen\n", 1, "wrong-header"),
        (list_file(rows(10)), 11, "row-count-mismatch"),  # a truncated upload is not a shorter list
    ],
)
def test_a_file_that_cannot_be_the_list_fails_cleanly(
    account: VoiAccount, body: bytes, rows_expected: int, code: str
) -> None:
    account.lists.rows(ListSource.PNC, [Row("KEEP123", category="stolen", action="stop", priority=1)])
    record = account.lists.load(ListSource.PNC, body, rows_expected=rows_expected)
    assert record.status is ImportStatus.FAILED
    assert record.failure is not None
    assert record.failure.code == code
    assert listed(account, "KEEP123") == {"KEEP123": ["pnc:KEEP123"]}
    assert account.objects() == []  # nothing of the failed import is kept


def test_five_megabytes_of_garbage_fail_on_the_header(account: VoiAccount) -> None:
    garbage = random.Random(5).randbytes(5 * 1024 * 1024)
    record = account.lists.load(ListSource.DVLA, garbage, rows_expected=1000)
    assert record.status is ImportStatus.FAILED
    assert record.failure is not None
    assert record.failure.code == "wrong-header"


def test_garbage_after_a_valid_header_is_rejected_line_by_line(account: VoiAccount) -> None:
    body = list_file(rows(3)) + random.Random(6).randbytes(1024 * 1024)
    record = account.lists.load(ListSource.DVLA, body, rows_expected=count_rows(body))
    assert record.status is ImportStatus.FAILED
    assert record.failure is not None
    assert record.failure.code == "too-many-rejected"
    assert record.counts is not None
    assert record.counts.accepted == 3
    assert record.rejects_total == record.counts.rejected > 1000
    assert len(record.rejects) == 1000  # the first thousand in the record, all in the CSV
    assert record.rejects_key is not None
    csv = account.s3.get_object(Bucket=IMPORTS_BUCKET, Key=record.rejects_key)["Body"].read()
    assert csv.count(b"\n") == record.rejects_total + 1


def test_a_huge_line_is_rejected_and_the_rest_still_loads(account: VoiAccount) -> None:
    lines: list[Row | str] = [
        *rows(5),
        "AB99999,no-tax,report,3," + "x" * 2_000_000 + ",,NATIONAL,false",
        *rows(5, "CD"),
    ]
    record = replace(account.lists, chunk_bytes=100_000).load(ListSource.DVLA, list_file(lines))
    assert record.status is ImportStatus.SUCCEEDED
    assert [(r.line, r.message) for r in record.rejects] == [(7, "the line is longer than 4096 bytes")]
    assert record.counts is not None
    assert record.counts.accepted == 10


def test_replacement_is_atomic_with_a_read_matched_half_way(account: VoiAccount) -> None:
    account.lists.rows(ListSource.DVLA, [Row("OLD0001"), Row("BOTH001")])
    service, record = account.lists.upload(ListSource.DVLA, list_file([Row("BOTH001"), Row("NEW0001")]))
    plan = service.upload_arrived(incoming_key(record.import_id))
    assert plan is not None
    store = account.store()  # a match environment that keeps matching throughout

    def read() -> dict[str, list[str]]:
        found = store.listings({"OLD0001", "BOTH001", "NEW0001"})
        return {vrm: [e.voi_id for e in listing.entries] for vrm, listing in found.items()}

    for chunk in plan.chunks:
        service.load_chunk(record.import_id, chunk.index)
    for group in range(plan.generation.groups):
        service.merge_group(record.import_id, group)
    # Loaded but not yet flipped: the old list is in force, the new one's rows are invisible.
    assert read() == {"OLD0001": ["dvla:OLD0001"], "BOTH001": ["dvla:BOTH001"]}
    assert listed(account, "OLD0001", "NEW0001") == {"OLD0001": ["dvla:OLD0001"]}

    service.finish(record.import_id)
    # The flip is one write: a fresh reader sees only the new list...
    assert listed(account, "OLD0001", "BOTH001", "NEW0001") == {
        "BOTH001": ["dvla:BOTH001"],
        "NEW0001": ["dvla:NEW0001"],
    }
    # ...and a running one at its next refresh of the state item, seconds later.
    account.monotonic.seconds += 5
    assert read() == {"BOTH001": ["dvla:BOTH001"], "NEW0001": ["dvla:NEW0001"]}

    service.clean_up(record.import_id)
    old = [i for i in account.items() if i["vrm"].startswith("#LIST#") and record.import_id not in i["vrm"]]
    assert old == []  # the replaced generation is deleted


def test_two_imports_of_one_source_racing_the_later_wins_and_the_earlier_fails_cleanly(
    account: VoiAccount,
) -> None:
    account.lists.rows(ListSource.DVLA, [Row("OLD0001")])
    first, first_record = account.lists.upload(ListSource.DVLA, list_file([Row("FIRST01")]))
    account.clock.advance(seconds=1)
    later, later_record = account.lists.upload(ListSource.DVLA, list_file([Row("LATER01")]))
    first_plan = first.upload_arrived(incoming_key(first_record.import_id))
    assert first_plan is not None
    first.load_chunk(first_record.import_id, 0)  # the earlier import is half-way through
    later_plan = later.upload_arrived(incoming_key(later_record.import_id))
    assert later_plan is not None

    assert run_load(first.run_step, first_plan) is False  # its next step finds the claim taken
    assert run_load(later.run_step, later_plan) is True
    later.clean_up(later_record.import_id)

    earlier = first.status(NATIONAL_MANAGER, first_record.import_id).record
    assert earlier.status is ImportStatus.FAILED
    assert earlier.failure is not None
    assert earlier.failure.code == "superseded"
    assert later_record.import_id in earlier.failure.message
    assert listed(account, "OLD0001", "FIRST01", "LATER01") == {"LATER01": ["dvla:LATER01"]}
    assert not [i for i in account.items() if first_record.import_id in i["vrm"] and i["record"] != "IMPORT"]


def test_an_earlier_request_arriving_after_a_later_one_started_is_refused(account: VoiAccount) -> None:
    first, first_record = account.lists.upload(ListSource.MIB, list_file([Row("FIRST01")]))
    account.clock.advance(seconds=1)
    later, later_record = account.lists.upload(ListSource.MIB, list_file([Row("LATER01")]))
    assert later.upload_arrived(incoming_key(later_record.import_id)) is not None
    assert first.upload_arrived(incoming_key(first_record.import_id)) is None
    record = first.status(NATIONAL_MANAGER, first_record.import_id).record
    assert record.failure is not None
    assert record.failure.code == "superseded"


def test_a_reimport_counts_rows_added_changed_unchanged_and_removed(account: VoiAccount) -> None:
    account.lists.rows(ListSource.DVLA, rows(1_000))
    again = [
        Row(r.vrm, reason="Untaxed after a second notice") if r.vrm == "AB00500" else r for r in rows(990)
    ]
    again += rows(20, prefix="NE")
    record = account.lists.rows(ListSource.DVLA, again)
    assert record.counts is not None
    counts = record.counts
    assert (counts.added, counts.changed, counts.unchanged, counts.removed) == (20, 1, 989, 10)


def test_a_list_that_grew_is_compared_row_by_row_across_layouts(account: VoiAccount) -> None:
    account.lists.rows(ListSource.DVLA, rows(200))  # one group, one bucket
    record = account.lists.rows(ListSource.DVLA, rows(5_000))  # more buckets
    assert record.counts is not None
    assert (record.counts.added, record.counts.unchanged, record.counts.removed) == (4_800, 200, 0)
    shrunk = account.lists.rows(ListSource.DVLA, rows(100))
    assert shrunk.counts is not None
    assert (shrunk.counts.unchanged, shrunk.counts.removed) == (100, 4_900)


def test_the_white_list_suppresses_bulk_hits_from_the_moment_it_is_loaded(account: VoiAccount) -> None:
    account.lists.rows(ListSource.DVLA, [Row("WL20OKY"), Row("DV17TAX")])
    account.lists.load(ListSource.WHITELIST, list_file(["WL20OKY"], header="vrm"))
    listings = account.store().listings({"WL20OKY", "DV17TAX"})
    assert {v: listing.white_listed for v, listing in listings.items()} == {"WL20OKY": True, "DV17TAX": False}


def test_an_upload_that_never_came_is_reported_failed_once_its_url_expired(account: VoiAccount) -> None:
    service = account.lists.service()
    record, url = service.request(NATIONAL_MANAGER, ListSource.DVLA, "dvla.csv", 10)
    assert url.startswith("https://")
    assert incoming_key(record.import_id) in url
    assert service.status(NATIONAL_MANAGER, record.import_id).record.status is ImportStatus.AWAITING_UPLOAD
    account.clock.advance(minutes=31)
    seen = service.status(NATIONAL_MANAGER, record.import_id).record
    assert (seen.status, seen.failure.code if seen.failure else None) == (
        ImportStatus.FAILED,
        "upload-expired",
    )


def test_a_file_uploaded_again_while_loading_fails_the_import(account: VoiAccount) -> None:
    account.lists.rows(ListSource.DVLA, [Row("KEEP001")])
    service, record = account.lists.upload(ListSource.DVLA, list_file(rows(10)))
    plan = service.upload_arrived(incoming_key(record.import_id))
    assert plan is not None
    account.s3.put_object(Bucket=IMPORTS_BUCKET, Key=incoming_key(record.import_id), Body=list_file(rows(11)))
    assert run_load(service.run_step, plan) is False
    failed = service.status(NATIONAL_MANAGER, record.import_id).record
    assert failed.failure is not None
    assert failed.failure.code == "file-changed"
    assert listed(account, "KEEP001") == {"KEEP001": ["dvla:KEEP001"]}


def test_a_list_older_than_56_days_stops_matching_and_the_sweep_deletes_it(account: VoiAccount) -> None:
    account.lists.rows(ListSource.MIB, [Row("OLD0001", category="no-insurance")])
    account.clock.advance(days=56)
    assert listed(account, "OLD0001") == {}  # R-VOI-56 holds for bulk entries
    result = account.service().sweep()
    assert result.lists_removed == ["mib"]
    assert not [i for i in account.items() if i["vrm"].startswith("#LIST#")]


def test_a_second_delivery_of_the_upload_event_starts_nothing(account: VoiAccount) -> None:
    service, record = account.lists.upload(ListSource.DVLA, list_file(rows(3)))
    assert service.upload_arrived(incoming_key(record.import_id)) is not None
    assert service.upload_arrived(incoming_key(record.import_id)) is None
    assert service.upload_arrived("incoming/unknown.csv") is None


def test_only_managers_of_the_importing_lea_see_an_import(account: VoiAccount) -> None:
    from nas.domain.errors import AccessDenied, NotFound
    from nas.domain.roles import Principal, Role

    kent = Principal.from_claims("vm.kent", [Role.VOI_MANAGER.value], "KENT")
    service = account.lists.service()
    with pytest.raises(AccessDenied) as refused:
        service.request(kent, ListSource.DVLA, "dvla.csv", 10)
    assert refused.value.rule == "import-needs-national"
    record, _ = service.request(NATIONAL_MANAGER, ListSource.DVLA, "dvla.csv", 10)
    with pytest.raises(NotFound):
        service.status(kent, record.import_id)


def test_rows_loaded_report_progress_while_loading(account: VoiAccount) -> None:
    service, record = account.lists.upload(ListSource.DVLA, list_file(rows(50)))
    plan = service.upload_arrived(incoming_key(record.import_id))
    assert plan is not None
    service.load_chunk(record.import_id, 0)
    seen = service.status(NATIONAL_MANAGER, record.import_id).record
    assert (seen.status, seen.rows_loaded) == (ImportStatus.LOADING, 50)
    assert seen.started_at == seen.requested_at == account.clock.now
    assert seen.finished_at is None


def test_the_documented_example_list_loads_with_its_two_bad_rows(account: VoiAccount) -> None:
    body = (Path(__file__).resolve().parents[2] / "docs" / "examples" / "dvla-example.csv").read_bytes()
    record = account.lists.load(ListSource.DVLA, body)
    assert record.status is ImportStatus.SUCCEEDED
    assert [(r.line, r.field) for r in record.rejects] == [(9, "priority"), (10, "vrm")]
    assert listed(account, "DV19PQR") == {"DV19PQR": ["dvla:DV19PQR"]}
