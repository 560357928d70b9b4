"""R-VRM look-alike classes and the stored read layout (arrival, day, VRM bucket; read references)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nas.domain.layout import (
    VRM_BUCKETS,
    Arrival,
    DayRange,
    Partition,
    ReadRef,
    day_ranges,
    partition_of,
    vrm_bucket,
)
from nas.domain.vrm import LOOKALIKE_CLASSES, canonical_vrm

VRM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def swap_lookalikes(vrm: str, choices: list[int]) -> str:
    """`vrm` with each character replaced by a member of its look-alike class (chosen by index)."""
    out = []
    for ch, choice in zip(vrm, choices, strict=False):
        group = next((cls for cls in LOOKALIKE_CLASSES if ch in cls), ch)
        out.append(group[choice % len(group)])
    return "".join(out) + vrm[len(out) :]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("AB12CDE", "A812C0E"),
        ("OQ05", "D0OS"),
        ("Z1I", "2II"),
        ("G8", "6B"),
    ],
)
def test_ocr_lookalikes_share_a_canonical_form(one: str, other: str) -> None:
    assert canonical_vrm(one) == canonical_vrm(other)


@pytest.mark.parametrize(("one", "other"), [("AB12CDE", "AB12CDF"), ("M1", "N1"), ("7", "T")])
def test_characters_outside_a_class_keep_vrms_apart(one: str, other: str) -> None:
    assert canonical_vrm(one) != canonical_vrm(other)


def test_each_required_lookalike_pair_is_in_one_class() -> None:
    for pair in ("0O", "0D", "0Q", "1I", "2Z", "5S", "8B", "6G"):
        assert len({canonical_vrm(ch) for ch in pair}) == 1, pair
    members = "".join(LOOKALIKE_CLASSES)
    assert len(members) == len(set(members)), "a character may be in one class only"


@given(
    st.text(alphabet=VRM_CHARS, min_size=1, max_size=10),
    st.lists(st.integers(min_value=0, max_value=3), max_size=10),
)
def test_a_vrm_and_any_lookalike_spelling_land_in_the_same_bucket(vrm: str, choices: list[int]) -> None:
    twin = swap_lookalikes(vrm, choices)
    assert canonical_vrm(twin) == canonical_vrm(vrm)
    assert vrm_bucket(canonical_vrm(twin)) == vrm_bucket(canonical_vrm(vrm))


def test_the_bucket_of_a_vrm_never_changes() -> None:
    # Stored reads stay where they were written: a change of hash or bucket count would hide them.
    assert VRM_BUCKETS == 64
    assert [vrm_bucket(v) for v in ("A812C0E", "KN19A8C", "Z")] == [22, 21, 59]


def test_buckets_spread_vrms_evenly() -> None:
    counts = [0] * VRM_BUCKETS
    for n in range(64_000):
        counts[vrm_bucket(f"V{n}")] += 1
    assert min(counts) > 850  # ~1,000 each
    assert max(counts) < 1150


def test_a_live_read_is_stored_under_its_utc_capture_date() -> None:
    partition = partition_of(
        captured_at=datetime(2026, 11, 1, 23, 59, tzinfo=UTC),
        vrm_canonical="A812C0E",
        late=False,
        stored_at=datetime(2026, 11, 2, 0, 1, tzinfo=UTC),
    )
    assert partition == Partition(Arrival.LIVE, date(2026, 11, 1), vrm_bucket("A812C0E"))
    assert partition.prefix == f"reads/arrival=live/day=2026-11-01/vrm_bucket={vrm_bucket('A812C0E')}/"


def test_a_late_read_is_stored_under_the_day_it_was_stored() -> None:
    partition = partition_of(
        captured_at=datetime(2026, 3, 1, 12, tzinfo=UTC),
        vrm_canonical="Z",
        late=True,
        stored_at=datetime(2026, 11, 2, 0, 1, tzinfo=UTC),
    )
    assert (partition.arrival, partition.day) == (Arrival.LATE, date(2026, 11, 2))
    # Late arrivals have 8 buckets: the live bucket (59) modulo 8.
    assert partition.values() == {"arrival": "late", "day": "2026-11-02", "vrm_bucket": 3}
    assert vrm_bucket("Z") == 59


def test_a_partition_holds_only_its_arrivals_buckets() -> None:
    Partition(Arrival.LIVE, date(2026, 1, 1), 63)
    Partition(Arrival.LATE, date(2026, 1, 1), 7)
    with pytest.raises(ValueError, match=r"0\.\.7"):
        Partition(Arrival.LATE, date(2026, 1, 1), 8)
    with pytest.raises(ValueError, match=r"0\.\.63"):
        Partition(Arrival.LIVE, date(2026, 1, 1), 64)


def test_a_search_reads_late_days_from_the_day_after_its_first_to_365_after_its_last() -> None:
    ranges = day_ranges(date(2025, 1, 10), date(2025, 1, 20), today=date(2026, 6, 1))
    assert ranges == (
        DayRange(Arrival.LIVE, date(2025, 1, 10), date(2025, 1, 20)),
        DayRange(Arrival.LATE, date(2025, 1, 11), date(2026, 1, 20)),  # 365 days after 20 January
    )


def test_late_days_stop_at_today() -> None:
    ranges = day_ranges(date(2026, 5, 1), date(2026, 6, 1), today=date(2026, 6, 1))
    assert ranges[1] == DayRange(Arrival.LATE, date(2026, 5, 2), date(2026, 6, 1))
    [live] = day_ranges(date(2026, 6, 1), date(2026, 6, 1), today=date(2026, 6, 1))
    assert live.arrival is Arrival.LIVE  # nothing stored today can be late for today's captures


def test_a_read_ref_reaches_one_partition_and_one_read() -> None:
    ref = ReadRef(Partition(Arrival.LATE, date(2026, 1, 2), 5), "KENT-A2-001", "r:1.x-y")
    text = ref.encode()
    assert "KENT" not in text  # opaque
    assert ReadRef.decode(text) == ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        "r1.",
        "r2.bGl2ZXwyMDI2LTAxLTAyfDV8Q3xS",
        "r1." + "bGl2ZXwyMDI2LTAxLTAyfDk5fEN8Ug",  # live|2026-01-02|99|C|R: no bucket 99
        "r1.bm90IGEgcmVm",  # "not a ref"
        "r1.!!!",
    ],
)
def test_anything_else_is_not_a_read_ref(text: str) -> None:
    with pytest.raises(ValueError, match="not a read reference"):
        ReadRef.decode(text)
