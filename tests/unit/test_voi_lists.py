"""Bulk lists (R-VOI-BULK, R-WHITE): the file format and row rules, how a file is cut into chunks
that together read every line once, and the packed generation: buckets, the membership filter
(never a false negative), the union of filters, and the diff against the list replaced."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas.domain.models import VoiSource
from nas.domain.voi_imports import (
    ImportCounts,
    absolute_line,
    chunk_window,
    failure_of,
    line_ref,
    lines_before,
    plan_chunks,
)
from nas.domain.voi_lists import (
    LIST_COLUMNS,
    MAX_LINE_BYTES,
    ListFileError,
    ListGeneration,
    ListSource,
    RowParser,
    RowProblem,
    header_columns,
    parse_voi_id,
    split_lines,
)
from nas.domain.voi_packing import (
    MembershipFilter,
    bucket_count_for,
    build_segment,
    diff_rows,
    filter_mask,
    find_row,
    group_count_for,
    line_vrm,
    lines_by_vrm,
    old_buckets_for_group,
    pack_generation,
    pack_lines,
    pack_rows,
    segment_words,
    unpack_rows,
    vrm_hash,
)

HEADER = ",".join(LIST_COLUMNS).encode()
REVISED = datetime(2024, 2, 10, 9, 0, tzinfo=UTC)


def vrms(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < count:
        found[
            "".join(rng.choices(string.ascii_uppercase, k=2))
            + f"{rng.randrange(10, 99)}"
            + "".join(rng.choices(string.ascii_uppercase, k=3))
        ] = None
    return list(found)


# --- header and rows ------------------------------------------------------------------------------


def test_header_names_every_list_column_in_any_order() -> None:
    shuffled = b"reason,vrm,category,action,priority,pnc_ref,circulation,sensitive\r\n"
    assert header_columns(ListSource.DVLA, shuffled)[:2] == ("reason", "vrm")
    assert header_columns(ListSource.DVLA, b"\xef\xbb\xbf" + HEADER) == LIST_COLUMNS  # a BOM is tolerated


@pytest.mark.parametrize(
    ("header", "code", "says"),
    [
        (b"", "empty-file", "no header"),
        (b"vrm,category,action,priority,reason,circulation", "wrong-header", "missing column(s): pnc_ref"),
        (HEADER + b",colour", "wrong-header", "unexpected column(s): 'colour'"),
        (HEADER + b",vrm", "wrong-header", "repeated column(s): vrm"),
        (b"\xff\xfe\x00g\x00a\x00r", "wrong-header", "not a line of UTF-8"),
    ],
)
def test_a_wrong_header_makes_the_file_unusable(header: bytes, code: str, says: str) -> None:
    with pytest.raises(ListFileError) as refused:
        header_columns(ListSource.MIB, header)
    assert refused.value.code == code
    assert says in str(refused.value)


def test_the_white_list_needs_only_a_vrm_column() -> None:
    assert header_columns(ListSource.WHITELIST, b"vrm") == ("vrm",)
    assert header_columns(ListSource.WHITELIST, HEADER) == LIST_COLUMNS
    assert RowParser(ListSource.WHITELIST, ("vrm",)).parse(b"ab12 cde") == ["AB12CDE"]


def test_a_valid_row_is_packed_with_its_normalised_vrm() -> None:
    parser = RowParser(ListSource.DVLA, LIST_COLUMNS)
    row = parser.parse(b'ab-12 cde,no-tax,report,3,"Untaxed, keeper notified",,KENT;ESSEX,true')
    assert row == [
        "AB12CDE",
        "no-tax",
        "report",
        3,
        "Untaxed, keeper notified",
        None,
        ["KENT", "ESSEX"],
        True,
    ]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (b"AB12CDE,no-tax,report,9,Untaxed,,NATIONAL,false", "priority"),
        (b"AB12CDE,no-tax,arrest,3,Untaxed,,NATIONAL,false", "action"),
        (b"AB12CDE,No Tax,report,3,Untaxed,,NATIONAL,false", "category"),
        (b"AB12CDE,no-tax,report,3,Untaxed,,NATIONAL;KENT,false", "circulation"),
        (b"AB12CDE,no-tax,report,3,Untaxed,,NOWHERE,false", "circulation.0"),
        (b"AB12CDE,no-tax,report,3,Untaxed,,NATIONAL,maybe", "sensitive"),
        (b"AB12CDE,no-tax,report,3,Untaxed,12345,NATIONAL,false", "pnc_ref"),
        (b"AB12CDE,no-tax,report,3,,,NATIONAL,false", "reason"),
        (b"A*B,no-tax,report,3,Untaxed,,NATIONAL,false", "vrm"),
        (b"AB12CDE,no-tax,report,3", "$"),
        (b"AB12CDE,no-tax,report,3,Untaxed,,NATIONAL,false,extra", "$"),
        (b"\xff\xfe,no-tax", "$"),
    ],
)
def test_a_bad_row_names_its_field_and_never_quotes_the_vrm_or_reason(line: bytes, field: str) -> None:
    problem = RowParser(ListSource.DVLA, LIST_COLUMNS).parse(line)
    assert isinstance(problem, RowProblem)
    assert problem.field == field
    # Rejects are kept and shown: they must not copy the row's personal data.
    assert not {"AB12CDE", "A*B", "Untaxed"} & set(problem.message.replace("'", " ").split())


def test_rows_sharing_their_other_cells_get_the_same_verdict_as_validated_alone() -> None:
    parser = RowParser(ListSource.DVLA, LIST_COLUMNS)
    good = b"AB12CDE,no-tax,report,3,Untaxed,,NATIONAL,false"
    bad = b"AB12CDE,no-tax,report,7,Untaxed,,NATIONAL,false"
    for _ in range(3):  # the second and third come from the remembered verdict
        assert parser.parse(good) == RowParser(ListSource.DVLA, LIST_COLUMNS).parse(good)
        assert parser.parse(bad) == RowParser(ListSource.DVLA, LIST_COLUMNS).parse(bad)
    assert parser.parse(b"ZZ99ZZZ,no-tax,report,3,Untaxed,,NATIONAL,false")[0] == "ZZ99ZZZ"  # type: ignore[index]


def test_blank_trailing_cells_are_tolerated() -> None:
    row = RowParser(ListSource.DVLA, LIST_COLUMNS).parse(b"AB12CDE,no-tax,report,3,Untaxed,,NATIONAL,false,,")
    assert not isinstance(row, RowProblem)


# --- lines and chunks -----------------------------------------------------------------------------


def test_an_overlong_line_is_reported_without_being_held() -> None:
    data = b"short\n" + b"x" * (MAX_LINE_BYTES + 1) + b"\nafter\n"
    blocks = [data[i : i + 100] for i in range(0, len(data), 100)]
    assert list(split_lines(blocks, limit=len(data), skip_first=False)) == [b"short", None, b"after"]


def test_a_last_line_without_a_newline_is_read() -> None:
    assert list(split_lines([b"a\nb"], limit=3, skip_first=False)) == [b"a", b"b"]


def read_chunked(data: bytes, data_start: int, chunk_bytes: int, block: int) -> list[bytes | None]:
    lines: list[bytes | None] = []
    for span in plan_chunks(len(data), data_start, chunk_bytes):
        read_from, limit, skip_first = chunk_window(span, data_start)
        tail = data[read_from:]
        lines += split_lines(
            [tail[i : i + block] for i in range(0, len(tail), block)], limit=limit, skip_first=skip_first
        )
    return lines


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    trailing_newline=st.booleans(),
    chunk_bytes=st.integers(min_value=1, max_value=40),
    block=st.integers(min_value=1, max_value=17),
)
def test_chunks_read_every_line_once_wherever_the_file_is_cut(
    lines: list[bytes], trailing_newline: bool, chunk_bytes: int, block: int
) -> None:
    body = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    data = b"h\n" + body
    expected = body.split(b"\n")
    if body.endswith(b"\n") or not body:
        expected = expected[:-1]
    assert read_chunked(data, 2, chunk_bytes, block) == expected


def test_a_line_reference_becomes_the_file_line() -> None:
    before = lines_before([3, 5, 2])
    assert before == [0, 3, 8]
    assert absolute_line(line_ref(0, 1), before) == 2  # the header is line 1
    assert absolute_line(line_ref(2, 2), before) == 11
    assert line_ref(0, 99) < line_ref(1, 1)  # references sort in file order


# --- what may replace a list ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "expected", "code"),
    [
        (ImportCounts(rows=10, accepted=10), 10, None),
        (ImportCounts(rows=10, accepted=5, rejected=5), 10, None),  # half rejected is still a list
        (ImportCounts(rows=10, accepted=4, rejected=6), 10, "too-many-rejected"),
        (ImportCounts(rows=10, accepted=0, rejected=10), 10, "no-rows-accepted"),
        (ImportCounts(rows=9, accepted=9), 10, "row-count-mismatch"),  # a truncated upload
        (ImportCounts(), 1, "row-count-mismatch"),
    ],
)
def test_a_file_replaces_its_list_only_when_it_is_whole_and_mostly_valid(
    counts: ImportCounts, expected: int, code: str | None
) -> None:
    failure = failure_of(counts, expected)
    assert (failure.code if failure else None) == code


# --- packed generations ---------------------------------------------------------------------------


def test_vrm_hash_is_stable_across_processes() -> None:
    # Chunks and groups run in different Lambdas, and match environments read what imports wrote.
    # (Python's hash() is salted per process; this is BLAKE2b of the ASCII bytes.)
    assert vrm_hash("AB12CDE") == 0xF5079F193A454547FBF252E21CD581C0
    assert vrm_hash("AB12CDE") != vrm_hash("AB12CDF")


@pytest.mark.parametrize(("rows", "groups", "buckets"), [(1, 1, 1), (1_000, 1, 4), (1_000_000, 32, 4096)])
def test_layout_grows_with_the_list(rows: int, groups: int, buckets: int) -> None:
    assert group_count_for(rows) == groups
    assert bucket_count_for(rows, groups) == buckets


def test_ten_million_rows_fit_lambda_sized_steps_and_items() -> None:
    groups = group_count_for(10_000_000)
    assert groups == 128
    assert 10_000_000 / groups < 100_000  # rows a merge step holds
    assert segment_words(10_000_000 // groups) * 8 <= 350_000  # a filter segment stays one item


def test_the_filter_never_misses_a_listed_vrm_and_rarely_passes_another() -> None:
    listed = vrms(20_000)
    hashes = [vrm_hash(v) for v in listed]
    groups = 4
    segments = [
        build_segment([h for h in hashes if h & (groups - 1) == g], len(hashes) // groups)
        for g in range(groups)
    ]
    membership = MembershipFilter(segments)
    assert all(membership.may_contain(h, filter_mask(h)) for h in hashes)
    on_list = set(listed)
    others = [vrm_hash(v) for v in vrms(20_000, seed=2) if v not in on_list]
    passed = sum(membership.may_contain(h, filter_mask(h)) for h in others)
    assert passed / len(others) < 0.005


def test_the_union_of_filters_passes_whatever_any_of_them_passes() -> None:
    small, large = vrms(300, seed=3), vrms(30_000, seed=4)
    filters = []
    for listed, groups in ((small, 1), (large, 8)):
        hashes = [vrm_hash(v) for v in listed]
        filters.append(
            MembershipFilter(
                [
                    build_segment([h for h in hashes if h & (groups - 1) == g], len(hashes) // groups)
                    for g in range(groups)
                ]
            )
        )
    union = MembershipFilter.union(filters)
    for vrm in [*small, *large]:
        hashed = vrm_hash(vrm)
        assert union.may_contain(hashed, filter_mask(hashed))


def generation(
    rows: int, *, groups: int | None = None, buckets: int | None = None, source: ListSource = ListSource.DVLA
) -> ListGeneration:
    groups = groups or group_count_for(rows)
    return ListGeneration(
        source=source,
        import_id=f"imp-{rows}",
        buckets=buckets or bucket_count_for(rows, groups),
        groups=groups,
        rows=rows,
        revised_at=REVISED,
        owner_lea="NATIONAL",
        requested_by="vm.nat",
    )


def row(vrm: str, reason: str = "Untaxed") -> list[object]:
    return [vrm, "no-tax", "report", 3, reason, None, ["NATIONAL"], False]


def test_every_row_is_in_the_bucket_its_hash_names() -> None:
    listed = vrms(2_000)
    gen = generation(len(listed))
    buckets, segments = pack_generation(gen, [row(v) for v in listed])
    assert len(segments) == gen.groups
    found = {r[0]: b for b, packed in buckets.items() for r in unpack_rows(packed)}
    assert found == {v: gen.bucket_of(vrm_hash(v)) for v in listed}


@pytest.mark.parametrize(("old", "new", "groups"), [(64, 256, 8), (256, 64, 8), (4, 64, 16), (64, 64, 1)])
def test_a_group_finds_every_replaced_row_it_may_hold_whatever_both_layouts(
    old: int, new: int, groups: int
) -> None:
    listed = vrms(3_000)
    before = generation(len(listed), groups=1, buckets=old)
    packed, _ = pack_generation(before, [row(v) for v in listed])
    for group in range(groups):
        held = {
            r[0]
            for b in old_buckets_for_group(group, groups, old)
            for r in unpack_rows(packed.get(b, pack_rows([])))
        }
        assert {v for v in listed if vrm_hash(v) & (groups - 1) == group} <= held


def test_diff_tells_added_changed_unchanged_and_removed_rows() -> None:
    old = {"A1": row("A1"), "B2": row("B2"), "C3": row("C3")}
    new = {"A1": row("A1"), "B2": row("B2", reason="Now untaxed twice"), "D4": row("D4")}
    diff = diff_rows(new, old)
    assert (diff.added, diff.changed, diff.unchanged, diff.removed) == (1, 1, 1, 1)


def test_a_list_row_becomes_an_entry_revised_by_its_import() -> None:
    gen = generation(10)
    entry = gen.entry(row("AB12CDE"))
    assert (entry.voi_id, entry.source, entry.owner_lea) == ("dvla:AB12CDE", VoiSource.DVLA, "NATIONAL")
    assert entry.last_revised_at == REVISED
    assert entry.expires_at == REVISED + timedelta(days=56)  # R-VOI-56 holds for bulk entries
    assert not gen.is_live(REVISED + timedelta(days=56))
    assert parse_voi_id("dvla:AB12CDE") == (ListSource.DVLA, "AB12CDE")
    assert parse_voi_id("v-0123abcd") is None
    assert parse_voi_id("tax:AB12CDE") is None


def test_white_list_rows_are_not_entries() -> None:
    with pytest.raises(ValueError, match="white-list"):
        generation(1, source=ListSource.WHITELIST).entry(["AB12CDE"])


def test_a_bucket_yields_the_row_of_a_vrm_and_nothing_for_one_it_lacks() -> None:
    packed = pack_rows([row("MID0001"), row("AAA0001"), row("ZZZ0001"), row("AAA000")])
    assert [r[0] for r in unpack_rows(packed)] == ["AAA000", "AAA0001", "MID0001", "ZZZ0001"]
    for vrm in ("AAA000", "AAA0001", "MID0001", "ZZZ0001"):
        assert find_row(packed, vrm) == row(vrm)
    assert find_row(packed, "AAA00") is None  # a prefix of a listed VRM is not listed
    assert find_row(packed, "NOTHERE") is None
    assert find_row(pack_rows([["WL20OKY"]]), "WL20OKY") == ["WL20OKY"]


def test_the_match_paths_quick_probe_agrees_with_the_filter() -> None:
    listed = [vrm_hash(v) for v in vrms(5_000, seed=8)]
    membership = MembershipFilter([build_segment(listed, len(listed))])
    quick = membership.mask_if_passed
    for hashed in [*listed, *(vrm_hash(v) for v in vrms(20_000, seed=9))]:
        mask = filter_mask(hashed)
        assert quick(hashed) == (mask if membership.may_contain(hashed, mask) else 0)


def test_rows_compared_as_json_lines_tell_the_same_changes_as_parsed_rows() -> None:
    old = pack_rows([row("AB12C"), row("AB12CD", reason="Old reason"), row("GONE1")])
    new = {v: orjson.dumps(row(v)) for v in ("AB12C", "AB12CD", "NEW1")}
    assert pack_lines(new.values()) == pack_rows([row("AB12C"), row("AB12CD"), row("NEW1")])
    assert line_vrm(new["AB12CD"]) == "AB12CD"
    diff = diff_rows(new, lines_by_vrm(old))
    assert (diff.added, diff.changed, diff.unchanged, diff.removed) == (1, 1, 1, 1)
