"""The search plan (pure): partitions read per type, the R-RET-365 floor in the window and the
partitions listed, the request rules checked before any query (R-LIMIT, R-REASON, windows), and
location resolution."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from nas.domain.errors import InvalidInput
from nas.domain.layout import LATE_VRM_BUCKETS, VRM_BUCKETS, Arrival, vrm_bucket
from nas.domain.models import Camera, CameraSource
from nas.domain.policy import InvestigationLevel
from nas.domain.search import (
    FETCH_LIMIT,
    ConvoyCriteria,
    LocationCriteria,
    Near,
    PartialCriteria,
    Purpose,
    SearchRequest,
    VrmCriteria,
    Why,
    cameras_near,
    distance_m,
    parse_pattern,
    plan_search,
    require_criteria,
    require_reason,
    require_window,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WHY = Why(Purpose.CRIME, "Burglary enquiry, suspect vehicle", "KENT-2026-001234")


def test_a_90_day_vrm_search_reads_one_bucket_a_day_of_live_and_late_arrivals() -> None:
    plan = plan_search(VrmCriteria("AB12CDE"), window_from=NOW - timedelta(days=90), window_to=NOW, now=NOW)
    partitions = plan.partitions()
    bucket = vrm_bucket("A812C0E")
    assert {p.vrm_bucket for p in partitions if p.arrival is Arrival.LIVE} == {bucket}
    assert {p.vrm_bucket for p in partitions if p.arrival is Arrival.LATE} == {bucket % LATE_VRM_BUCKETS}
    live = sorted(p.day for p in partitions if p.arrival is Arrival.LIVE)
    late = sorted(p.day for p in partitions if p.arrival is Arrival.LATE)
    assert (live[0], live[-1], len(live)) == (date(2026, 8, 22), date(2026, 11, 20), 91)
    assert (late[0], late[-1], len(late)) == (date(2026, 8, 23), date(2026, 11, 20), 90)
    assert plan.limit == FETCH_LIMIT == 1001
    assert (plan.vrm, plan.vrm_canonical, plan.exact) == ("AB12CDE", "A812C0E", True)


def test_an_ocr_tolerant_search_reads_the_same_bucket_and_drops_the_exact_match() -> None:
    exact = plan_search(VrmCriteria("AB12CDE"), window_from=NOW - timedelta(days=3), window_to=NOW, now=NOW)
    tolerant = plan_search(
        VrmCriteria("A812C0E", ocr_tolerant=True), window_from=NOW - timedelta(days=3), window_to=NOW, now=NOW
    )
    assert exact.partitions() == tolerant.partitions()
    assert (tolerant.vrm_canonical, tolerant.exact) == ("A812C0E", False)


@pytest.mark.parametrize(
    "criteria",
    [PartialCriteria("AB1*"), LocationCriteria(("KENT-A2-001",)), ConvoyCriteria("AB12CDE")],
    ids=["partial", "location", "convoy"],
)
def test_searches_without_one_vrm_read_every_bucket(criteria: object) -> None:
    plan = plan_search(criteria, window_from=NOW - timedelta(days=2), window_to=NOW, now=NOW)  # type: ignore[arg-type]
    live = {p.vrm_bucket for p in plan.partitions() if p.arrival is Arrival.LIVE}
    late = {p.vrm_bucket for p in plan.partitions() if p.arrival is Arrival.LATE}
    assert (live, late) == (set(range(VRM_BUCKETS)), set(range(LATE_VRM_BUCKETS)))


def test_the_retention_floor_cuts_the_window_and_the_partitions_listed_whatever_the_request() -> None:
    plan = plan_search(VrmCriteria("AB12CDE"), window_from=NOW - timedelta(days=500), window_to=NOW, now=NOW)
    floor = NOW - timedelta(days=365)  # 2025-11-20 12:00, 365 days, not a calendar year
    assert plan.floor == floor == datetime(2025, 11, 20, 12, tzinfo=UTC)
    assert plan.window_from == floor
    assert min(p.day for p in plan.partitions()) == date(2025, 11, 20)


def test_a_window_wholly_beyond_retention_plans_nothing() -> None:
    plan = plan_search(
        VrmCriteria("AB12CDE"),
        window_from=NOW - timedelta(days=400),
        window_to=NOW - timedelta(days=366),
        now=NOW,
    )
    assert plan.empty
    assert plan.partitions() == ()


def test_a_window_ending_in_the_future_ends_now() -> None:
    plan = plan_search(
        VrmCriteria("AB12CDE"),
        window_from=NOW - timedelta(hours=1),
        window_to=NOW + timedelta(days=9),
        now=NOW,
    )
    assert plan.window_to == NOW


def test_a_convoy_reads_its_companions_only_inside_the_window() -> None:
    plan = plan_search(
        ConvoyCriteria("AB12CDE", 600, 3), window_from=NOW - timedelta(days=2), window_to=NOW, now=NOW
    )
    assert (plan.scan_from, plan.scan_to) == (plan.window_from, plan.window_to)
    assert plan.target_bucket == vrm_bucket("A812C0E")
    assert plan.target_day_ranges == plan.day_ranges


@pytest.mark.parametrize(
    ("raw", "normalised", "like"),
    [
        ("ab1?c*", "AB1?C*", "AB1_C%"),
        ("AB 1-2**C", "AB12*C", "AB12%C"),
        ("*ABC*", "*ABC*", "%ABC%"),
        ("??ABC", "??ABC", "__ABC"),
    ],
)
def test_a_partial_plate_is_normalised_and_becomes_a_like_pattern(
    raw: str, normalised: str, like: str
) -> None:
    criteria = parse_pattern(raw)
    assert (criteria.pattern, criteria.like) == (normalised, like)


@pytest.mark.parametrize(
    "raw",
    ["AB", "A?B?*", "**", "AB_C", "AB%C", "ÄBC", "ABCDEFGHIJK", "ABC??????????", "A'B;C"],
)
def test_a_partial_plate_outside_the_rules_is_invalid_naming_pattern(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_pattern(raw)
    assert refused.value.field == "pattern"


def request(criteria: object, hours: float, **kwargs: object) -> SearchRequest:
    return SearchRequest(
        criteria=criteria,  # type: ignore[arg-type]
        window_from=NOW - timedelta(hours=hours),
        window_to=NOW,
        level=InvestigationLevel.PRIORITY_VOLUME,
        why=WHY,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("criteria", "allowed_hours"),
    [
        (PartialCriteria("AB1*"), 31 * 24),
        (ConvoyCriteria("AB12CDE"), 31 * 24),
        (LocationCriteria(("C1",)), 24),
    ],
    ids=["partial-31-days", "convoy-31-days", "location-24-hours"],
)
def test_windows_are_limited_by_type_at_their_boundary(criteria: object, allowed_hours: int) -> None:
    require_window(request(criteria, allowed_hours), NOW)
    with pytest.raises(InvalidInput) as refused:
        require_window(request(criteria, allowed_hours + 1 / 3600), NOW)
    assert refused.value.field == "to"


def test_a_window_must_start_before_it_ends_and_not_in_the_future() -> None:
    backwards = SearchRequest(VrmCriteria("X"), NOW, NOW - timedelta(hours=1), InvestigationLevel.MAJOR, WHY)
    future = SearchRequest(
        VrmCriteria("X"), NOW + timedelta(seconds=1), NOW + timedelta(hours=1), InvestigationLevel.MAJOR, WHY
    )
    with pytest.raises(InvalidInput, match="after from"):
        require_window(backwards, NOW)
    with pytest.raises(InvalidInput, match="future"):
        require_window(future, NOW)


@pytest.mark.parametrize(
    ("why", "field"),
    [
        (Why(Purpose.CRIME, "too short", "C-1"), "reason"),
        (Why(Purpose.CRIME, "          x", "C-1"), "reason"),
        (Why(Purpose.CRIME, "long enough reason", "   "), "case_ref"),
    ],
)
def test_r_reason_needs_ten_characters_of_reason_and_a_case(why: Why, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        require_reason(why)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        (LocationCriteria(), "camera_ids"),
        (LocationCriteria(("C1",), Near(51.0, 1.0, 100)), "camera_ids"),
        (LocationCriteria(tuple(f"C{n}" for n in range(21))), "camera_ids"),
        (LocationCriteria(near=Near(51.0, 1.0, 2000.5)), "near.radius_m"),
        (ConvoyCriteria("AB12CDE", within_s=601), "within_s"),
    ],
)
def test_location_and_convoy_bounds(criteria: object, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        require_criteria(criteria)  # type: ignore[arg-type]
    assert refused.value.field == field


def camera(camera_id: str, lat: float, lon: float) -> Camera:
    return Camera(camera_id=camera_id, lea="KENT", lat=lat, lon=lon, source=CameraSource.STATIC, active=True)


def test_distance_is_great_circle_metres() -> None:
    # One minute of latitude is a nautical mile (1,852 m) to within a few metres.
    assert distance_m(51.0, 1.0, 51.0 + 1 / 60, 1.0) == pytest.approx(1853, abs=5)


def test_near_resolves_to_the_cameras_within_the_radius_nearest_first() -> None:
    cameras = [camera("far", 51.02, 1.0), camera("edge", 51.0, 1.0 + 0.0142), camera("close", 51.0005, 1.0)]
    # 0.0142° of longitude at 51° N is about 995 m; 0.02° of latitude about 2.2 km.
    assert cameras_near(cameras, Near(51.0, 1.0, 1000)) == ("close", "edge")
    assert cameras_near(cameras, Near(51.0, 1.0, 990)) == ("close",)


def test_near_with_more_than_20_cameras_or_none_is_invalid() -> None:
    crowded = [camera(f"c{n}", 51.0 + n * 1e-5, 1.0) for n in range(21)]
    with pytest.raises(InvalidInput) as too_many:
        cameras_near(crowded, Near(51.0, 1.0, 100))
    assert too_many.value.field == "near.radius_m"
    assert len(cameras_near(crowded[:20], Near(51.0, 1.0, 100))) == 20
    with pytest.raises(InvalidInput) as none:
        cameras_near(crowded, Near(52.0, 1.0, 100))
    assert none.value.field == "near"
