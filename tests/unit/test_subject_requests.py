"""Pure rules of data-subject requests (R-SAR): due dates one calendar month on (UK GDPR Art. 12(3)),
decisions made once with an exemption cited, and the coarse area an export shows (R-CAMERA)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from nas.domain.errors import Conflict, InvalidInput
from nas.domain.grid import OUTSIDE, easting_northing, grid_square
from nas.domain.subject_requests import (
    Decision,
    DecisionRequest,
    RequestKind,
    RequestStatus,
    SubjectRequest,
    due_date,
    entry_id,
    require_decision,
)


def at(day: str, time: str = "10:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}+00:00")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2026-03-15", "2026-04-15"),
        ("2027-01-31", "2027-02-28"),  # no 31 February: the month's last day
        ("2028-01-31", "2028-02-29"),  # a leap year
        ("2028-01-29", "2028-02-29"),
        ("2027-01-29", "2027-02-28"),
        ("2026-03-31", "2026-04-30"),
        ("2026-08-31", "2026-09-30"),
        ("2026-12-31", "2027-01-31"),  # across the year
        ("2026-12-15", "2027-01-15"),
        ("2028-02-29", "2028-03-29"),
    ],
)
def test_a_request_is_due_one_calendar_month_after_receipt(received: str, due: str) -> None:
    assert due_date(at(received)) == date.fromisoformat(due)


def test_the_due_date_counts_from_the_utc_day_of_receipt() -> None:
    assert due_date(datetime.fromisoformat("2027-01-31T23:30:00-01:00")) == date(2027, 3, 1)


def request(kind: RequestKind = RequestKind.ACCESS, **changes: object) -> SubjectRequest:
    base = SubjectRequest(
        request_id="r-1",
        kind=kind,
        vrm="AB12CDE",
        received_at=at("2026-11-02"),
        due=date(2026, 12, 2),
        requester_ref="SAR-2026-0042",
        notes="",
        created_by="dora",
        created_at=at("2026-11-02"),
        entry_salt="00" * 32,
    )
    return SubjectRequest(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})  # type: ignore[arg-type]


def test_an_open_request_past_its_due_date_is_overdue_and_a_decided_one_is_not() -> None:
    assert not request().overdue(at("2026-12-02", "23:59:59"))
    assert request().overdue(at("2026-12-03", "00:00:00"))
    assert not request(status=RequestStatus.DECIDED).overdue(at("2027-01-01"))


def test_refusing_or_granting_in_part_cites_an_exemption() -> None:
    for decision in (Decision.REFUSED, Decision.PARTLY):
        with pytest.raises(InvalidInput) as refused:
            require_decision(request(), DecisionRequest(decision, "Crime and taxation exemption applies"))
        assert refused.value.field == "exemption"
    require_decision(
        request(), DecisionRequest(Decision.REFUSED, "Prejudice to an enquiry", "DPA 2018 Sch 2 p2")
    )


def test_a_request_is_decided_once() -> None:
    with pytest.raises(Conflict):
        require_decision(
            request(status=RequestStatus.DECIDED), DecisionRequest(Decision.GRANTED, "All in order")
        )


def test_only_a_rectification_names_reads_to_correct_and_granting_one_must() -> None:
    with pytest.raises(InvalidInput):
        require_decision(
            request(RequestKind.RECTIFICATION), DecisionRequest(Decision.GRANTED, "Plate misread")
        )
    with pytest.raises(InvalidInput):
        require_decision(
            request(RequestKind.ACCESS),
            DecisionRequest(Decision.GRANTED, "All in order", corrections=(("e-" + "0" * 24, "AB12CDF"),)),
        )


def test_only_an_erasure_granted_in_part_withholds_reads_and_it_must_name_some() -> None:
    entry = "e-" + "0" * 24
    part = DecisionRequest(Decision.PARTLY, "Some reads are trial evidence", "DPA 2018 s47(2)")
    with pytest.raises(InvalidInput) as unnamed:
        require_decision(request(RequestKind.ERASURE), part)
    assert unnamed.value.field == "withheld"
    require_decision(request(RequestKind.ERASURE), replace(part, withheld=(entry,)))
    for kind, decided in (
        (RequestKind.ERASURE, DecisionRequest(Decision.GRANTED, "All in order", withheld=(entry,))),
        (RequestKind.ACCESS, replace(part, withheld=(entry,))),
    ):
        with pytest.raises(InvalidInput) as misplaced:
            require_decision(request(kind), decided)
        assert misplaced.value.field == "withheld"


def test_entry_ids_hide_the_read_and_differ_between_requests() -> None:
    first = entry_id("00" * 32, "KENT-A2-001", "r1")
    assert first.startswith("e-")
    assert "KENT" not in first
    assert first != entry_id("11" * 32, "KENT-A2-001", "r1")
    assert first == entry_id("00" * 32, "KENT-A2-001", "r1")


@pytest.mark.parametrize(
    ("lat", "lon", "square"),
    [
        (51.5014, -0.1419, "TQ27"),  # Buckingham Palace, TQ 290 795
        (51.2798, 1.0789, "TR15"),  # Canterbury, TR 15
        (55.9533, -3.1883, "NT27"),  # Edinburgh, NT 25 73
        (50.0657, -5.7132, "SW32"),  # Land's End, SW 34 25
    ],
)
def test_a_point_is_shown_as_its_10_km_national_grid_square(lat: float, lon: float, square: str) -> None:
    assert grid_square(lat, lon) == square


def test_the_projection_matches_the_os_worked_example_within_the_datum_shift() -> None:
    # OS guide, annex C worked example: 52°39'27.2531"N 1°43'4.5177"E (OSGB36) is E 651409.903,
    # N 313177.270. Unshifted, the projection alone reproduces it to the millimetre.
    easting, northing = easting_northing(52 + 39 / 60 + 27.2531 / 3600, 1 + 43 / 60 + 4.5177 / 3600)
    assert (round(easting, 1), round(northing, 1)) == (651409.9, 313177.3)


def test_a_point_off_the_grid_or_unknown_has_no_square() -> None:
    assert grid_square(40.0, -20.0) == OUTSIDE
    assert grid_square(None, None) == OUTSIDE
