"""R-READ, R-LATE, R-QUARANTINE: one Kinesis record's bytes become an accepted read or a reason code
naming the offending fields."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas.domain.errors import ReadRejected
from nas.domain.models import OVERVIEW_IMAGE_MAX_BYTES, PLATE_IMAGE_MAX_BYTES, CameraSource, Read
from nas.domain.policy import Timeliness
from nas.domain.reads import (
    BEYOND_RETENTION,
    CLOCK_FAULT,
    INVALID_FIELDS,
    NOT_AN_OBJECT,
    NOT_JSON,
    AcceptedRead,
    parse_read,
)

MakeRead = Callable[..., dict[str, Any]]
REASONS = {NOT_JSON, NOT_AN_OBJECT, INVALID_FIELDS, CLOCK_FAULT, BEYOND_RETENTION}
READ_FIELDS = sorted(field.alias or name for name, field in Read.model_fields.items())


def encode(record: object) -> bytes:
    return json.dumps(record).encode("utf-8")


def rejected(data: bytes, now: datetime) -> ReadRejected:
    with pytest.raises(ReadRejected) as caught:
        parse_read(data, now=now)
    return caught.value


# --- accepted reads -------------------------------------------------------------------------------


def test_valid_read_is_accepted_with_normalised_vrm_and_utc_time(make_read: MakeRead, now: datetime) -> None:
    result = parse_read(encode(make_read(vrm="ab12 cde", captured_at="2024-05-30T12:59:00+01:00")), now=now)

    assert isinstance(result, AcceptedRead)
    assert result.read.vrm == "AB12CDE"
    assert result.read.captured_at == datetime(2024, 5, 30, 11, 59, tzinfo=UTC)
    assert result.read.captured_at.utcoffset() == timedelta(0)
    assert result.read.read_id == "r-0001"
    assert result.read.camera_id == "KENT-CAM-0042"
    assert result.read.lea == "KENT"
    assert result.read.source is CameraSource.STATIC
    assert result.timeliness is Timeliness.LIVE
    assert result.raises_live_alerts


@pytest.mark.parametrize(
    ("captured_at", "expected_utc"),
    [
        ("2024-05-30T11:59:00Z", datetime(2024, 5, 30, 11, 59, tzinfo=UTC)),
        ("2024-05-30t11:59:00z", datetime(2024, 5, 30, 11, 59, tzinfo=UTC)),
        ("2024-05-30T11:59:00+00:00", datetime(2024, 5, 30, 11, 59, tzinfo=UTC)),
        ("2024-05-30T06:29:00-05:30", datetime(2024, 5, 30, 11, 59, tzinfo=UTC)),
        ("2024-05-30T00:30:00+02:00", datetime(2024, 5, 29, 22, 30, tzinfo=UTC)),
        ("2024-05-30T11:59:00.5Z", datetime(2024, 5, 30, 11, 59, 0, 500000, tzinfo=UTC)),
        ("2024-05-30T11:59:00.123456Z", datetime(2024, 5, 30, 11, 59, 0, 123456, tzinfo=UTC)),
        # Nine digits: truncated to microseconds, not rounded (…789 would round up to …457).
        ("2024-05-30T11:59:00.123456789Z", datetime(2024, 5, 30, 11, 59, 0, 123456, tzinfo=UTC)),
    ],
)
def test_captured_at_is_stored_in_utc(
    make_read: MakeRead, now: datetime, captured_at: str, expected_utc: datetime
) -> None:
    read = parse_read(encode(make_read(captured_at=captured_at)), now=now).read
    assert read.captured_at == expected_utc
    assert read.captured_at.utcoffset() == timedelta(0)


def test_optional_fields_are_accepted_and_images_decoded(
    make_read: MakeRead, now: datetime, jpeg_b64: Callable[[int], str]
) -> None:
    plate, overview = jpeg_b64(3000), jpeg_b64(25000)
    record = make_read(
        source="mobile",
        location={"lat": 51.2787, "lon": 1.0805},
        direction="NE",
        lane=2,
        confidence=87,
        plate_image=plate,
        overview_image=overview,
    )

    read = parse_read(encode(record), now=now).read

    assert read.location is not None
    assert (read.location.lat, read.location.lon) == (51.2787, 1.0805)
    assert read.direction == "NE"
    assert (read.lane, read.confidence) == (2, 87)
    assert read.plate_image == base64.b64decode(plate)
    assert read.overview_image == base64.b64decode(overview)


@pytest.mark.parametrize("source", ["static", "moveable", "multi-lane", "cctv", "covert"])
def test_non_mobile_reads_need_no_location(make_read: MakeRead, now: datetime, source: str) -> None:
    assert parse_read(encode(make_read(source=source)), now=now).read.location is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lane", 1),
        ("lane", 20),
        ("confidence", 0),
        ("confidence", 100),
        ("location", {"lat": 90, "lon": 180}),
        ("location", {"lat": -90.0, "lon": -180.0}),
        ("read_id", "a" * 64),
        ("read_id", "A.b_c:d-9"),
        ("vrm", "A"),
        ("vrm", "ABCDE 12345"),
    ],
)
def test_boundary_values_are_accepted(make_read: MakeRead, now: datetime, field: str, value: object) -> None:
    assert isinstance(parse_read(encode(make_read(**{field: value})), now=now), AcceptedRead)


# --- rejected fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        pytest.param("colour", "red", "colour", id="unknown-field"),
        pytest.param("schema_", "nas.read.v1", "schema_", id="python-name-of-schema"),
        pytest.param("lane", True, "lane", id="bool-lane"),
        pytest.param("lane", 1.5, "lane", id="float-lane"),
        pytest.param("confidence", "5", "confidence", id="string-confidence"),
        pytest.param("vrm", 12345, "vrm", id="int-vrm"),
        pytest.param("vrm", "AB.12", "vrm", id="vrm-with-dot"),
        pytest.param("vrm", "ABCDE123456", "vrm", id="vrm-11-chars"),
        pytest.param("captured_at", 1717070340, "captured_at", id="epoch-number"),
        pytest.param("location", [51.5, 0.1], "location", id="location-array"),
        pytest.param("location", {"lat": "51.5", "lon": 0.1}, "location.lat", id="string-lat"),
        pytest.param(
            "location", {"lat": 51.5, "lon": 0.1, "alt": 3}, "location.alt", id="unknown-location-field"
        ),
        pytest.param("lane", 0, "lane", id="lane-0"),
        pytest.param("lane", 21, "lane", id="lane-21"),
        pytest.param("confidence", -1, "confidence", id="confidence-minus-1"),
        pytest.param("confidence", 101, "confidence", id="confidence-101"),
        pytest.param("location", {"lat": 90.000001, "lon": 0}, "location.lat", id="lat-above-90"),
        pytest.param("location", {"lat": -90.000001, "lon": 0}, "location.lat", id="lat-below-minus-90"),
        pytest.param("location", {"lat": 0, "lon": 180.000001}, "location.lon", id="lon-above-180"),
        pytest.param("location", {"lat": 0, "lon": -180.000001}, "location.lon", id="lon-below-minus-180"),
        pytest.param("lea", "XXXX", "lea", id="unknown-lea"),
        pytest.param("lea", "kent", "lea", id="lea-wrong-case"),
        pytest.param("lea", "NATIONAL", "lea", id="national-is-not-an-organisation"),
        pytest.param("schema", "nas.read.v2", "schema", id="wrong-schema"),
        pytest.param("source", "fixed", "source", id="unknown-source"),
        pytest.param("direction", "n", "direction", id="direction-lower-case"),
        pytest.param("direction", "NNE", "direction", id="direction-not-a-compass-point"),
        pytest.param("read_id", "", "read_id", id="read-id-empty"),
        pytest.param("read_id", "a" * 65, "read_id", id="read-id-65-chars"),
        pytest.param("read_id", "r 1", "read_id", id="read-id-space"),
        pytest.param("read_id", "r/1", "read_id", id="read-id-slash"),
        pytest.param("read_id", "r-1\n", "read_id", id="read-id-trailing-newline"),
        pytest.param("read_id", "r\u00e9", "read_id", id="read-id-non-ascii"),
        pytest.param("camera_id", "a" * 65, "camera_id", id="camera-id-65-chars"),
    ],
)
def test_invalid_field_is_rejected_naming_it(
    make_read: MakeRead, now: datetime, field: str, value: object, named: str
) -> None:
    error = rejected(encode(make_read(**{field: value})), now)
    assert error.reason == INVALID_FIELDS
    assert error.fields == (named,)


@pytest.mark.parametrize("field", ["schema", "read_id", "vrm", "captured_at", "camera_id", "lea", "source"])
def test_missing_required_field_is_rejected_naming_it(make_read: MakeRead, now: datetime, field: str) -> None:
    record = make_read()
    del record[field]
    error = rejected(encode(record), now)
    assert error.reason == INVALID_FIELDS
    assert error.fields == (field,)


def test_every_offending_field_is_named(make_read: MakeRead, now: datetime) -> None:
    error = rejected(encode(make_read(lane=0, confidence=101, lea="XXXX")), now)
    assert error.reason == INVALID_FIELDS
    assert set(error.fields) == {"lane", "confidence", "lea"}


def test_rejection_serialises_to_json_for_the_quarantine_store(make_read: MakeRead, now: datetime) -> None:
    error = rejected(encode(make_read(lane=0)), now)
    body = json.loads(json.dumps(error.as_dict()))
    assert body["reason"] == INVALID_FIELDS
    assert [problem["field"] for problem in body["problems"]] == ["lane"]
    assert all(problem["message"] for problem in body["problems"])


@pytest.mark.parametrize("explicit_null", [pytest.param(False, id="absent"), pytest.param(True, id="null")])
def test_mobile_read_without_location_is_rejected_naming_location(
    make_read: MakeRead, now: datetime, explicit_null: bool
) -> None:
    record = make_read(source="mobile")
    if explicit_null:
        record["location"] = None
    error = rejected(encode(record), now)
    assert error.reason == INVALID_FIELDS
    assert error.fields == ("location",)


@pytest.mark.parametrize(
    "captured_at",
    [
        pytest.param("2024-05-30T11:59:00", id="naive"),
        pytest.param("2024-05-30T11:59:00.123", id="naive-with-fraction"),
        pytest.param("2024-05-30", id="date-only"),
        pytest.param("2024-05-30T11:59Z", id="no-seconds"),
        pytest.param("2024-05-30T11:59:00+0100", id="offset-without-colon"),
        pytest.param("2024-05-30T11:59:00+01", id="offset-hours-only"),
        pytest.param("2024-05-30T11:59:00.Z", id="empty-fraction"),
        pytest.param("2024-05-30T11:59:00.1234567890Z", id="ten-fraction-digits"),
        pytest.param("30/05/2024 11:59:00Z", id="day-first"),
        pytest.param("Thu, 30 May 2024 11:59:00 GMT", id="http-date"),
        pytest.param("1717070340", id="epoch-string"),
        pytest.param("2024-02-30T11:59:00Z", id="no-such-day"),
        pytest.param("2024-05-30T24:00:00Z", id="hour-24"),
        pytest.param("2024-05-30T11:59:60Z", id="leap-second"),
        pytest.param("2024-05-30T11:59:00+24:00", id="offset-out-of-range"),
        pytest.param("0001-01-01T00:00:00+01:00", id="before-year-1-in-utc"),
        pytest.param("9999-12-31T23:59:59-01:00", id="after-year-9999-in-utc"),
        pytest.param("\u0662\u0660\u0662\u0664-05-30T11:59:00Z", id="non-ascii-digits"),
        pytest.param(" 2024-05-30T11:59:00Z", id="leading-space"),
    ],
)
def test_timestamp_that_is_not_rfc3339_with_offset_is_rejected(
    make_read: MakeRead, now: datetime, captured_at: str
) -> None:
    error = rejected(encode(make_read(captured_at=captured_at)), now)
    assert error.reason == INVALID_FIELDS
    assert error.fields == ("captured_at",)


# --- images ---------------------------------------------------------------------------------------

IMAGE_LIMITS = [("plate_image", PLATE_IMAGE_MAX_BYTES), ("overview_image", OVERVIEW_IMAGE_MAX_BYTES)]


@pytest.mark.parametrize(("field", "limit"), IMAGE_LIMITS)
def test_image_of_exactly_the_limit_is_accepted(
    make_read: MakeRead, now: datetime, jpeg_b64: Callable[[int], str], field: str, limit: int
) -> None:
    read = parse_read(encode(make_read(**{field: jpeg_b64(limit)})), now=now).read
    assert len(getattr(read, field)) == limit


@pytest.mark.parametrize(("field", "limit"), IMAGE_LIMITS)
def test_image_over_the_limit_is_rejected(
    make_read: MakeRead, now: datetime, jpeg_b64: Callable[[int], str], field: str, limit: int
) -> None:
    error = rejected(encode(make_read(**{field: jpeg_b64(limit + 1)})), now)
    assert error.reason == INVALID_FIELDS
    assert error.fields == (field,)


@pytest.mark.parametrize("field", ["plate_image", "overview_image"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("not base64!", id="not-base64"),
        pytest.param("/9j/4A", id="missing-padding"),
        pytest.param("/9j/\n4AAA", id="line-break"),
        pytest.param("/9j_4AAA", id="url-safe-alphabet"),
        pytest.param("\u00ff\u00d8\u00ff", id="non-ascii"),
        pytest.param(base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode(), id="png"),
        pytest.param(base64.b64encode(b"GIF89a" + b"\x00" * 32).decode(), id="gif"),
        pytest.param("", id="empty"),
        pytest.param(12345, id="number"),
    ],
)
def test_image_that_is_not_base64_jpeg_is_rejected(
    make_read: MakeRead, now: datetime, field: str, value: object
) -> None:
    error = rejected(encode(make_read(**{field: value})), now)
    assert error.reason == INVALID_FIELDS
    assert error.fields == (field,)


# --- whole-record failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"", NOT_JSON, id="empty"),
        pytest.param(b"not json", NOT_JSON, id="text"),
        pytest.param(b'{"schema": "nas.read.v1",', NOT_JSON, id="truncated"),
        pytest.param(b'{"schema": "nas.read.v1"} x', NOT_JSON, id="trailing-garbage"),
        pytest.param(b'{"vrm": "AB\xff12"}', NOT_JSON, id="invalid-utf8-in-string"),
        pytest.param(b"\xff\xfe{\x00}\x00", NOT_JSON, id="utf16"),
        pytest.param(b"[]", NOT_AN_OBJECT, id="array"),
        pytest.param(b'[{"schema": "nas.read.v1"}]', NOT_AN_OBJECT, id="array-of-object"),
        pytest.param(b'"nas.read.v1"', NOT_AN_OBJECT, id="string"),
        pytest.param(b"42", NOT_AN_OBJECT, id="number"),
        pytest.param(b"null", NOT_AN_OBJECT, id="null"),
    ],
)
def test_record_that_is_not_a_json_object_is_rejected(data: bytes, reason: str, now: datetime) -> None:
    error = rejected(data, now)
    assert error.reason == reason
    assert error.fields == ("$",)


# --- R-LATE and R-RET-365 at their boundaries -----------------------------------------------------
# The service clock below is 2024-05-30T12:00:00Z. 2024 is a leap year, so 365 days back is 2023-05-31.

LATE_NOW = datetime(2024, 5, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("captured_at", "timeliness"),
    [
        pytest.param("2024-05-30T12:05:00Z", Timeliness.LIVE, id="exactly-5-minutes-ahead"),
        pytest.param("2024-05-30T13:05:00+01:00", Timeliness.LIVE, id="exactly-5-minutes-ahead-with-offset"),
        pytest.param("2024-05-30T12:00:00Z", Timeliness.LIVE, id="now"),
        pytest.param("2024-05-29T12:00:00Z", Timeliness.LIVE, id="exactly-24-hours-old"),
        pytest.param("2024-05-29T11:59:59.999999Z", Timeliness.LATE, id="24-hours-and-1us-old"),
        pytest.param("2023-05-31T12:00:00Z", Timeliness.LATE, id="exactly-365-days-old"),
    ],
)
def test_reads_are_classified_in_time(make_read: MakeRead, captured_at: str, timeliness: Timeliness) -> None:
    result = parse_read(encode(make_read(captured_at=captured_at)), now=LATE_NOW)
    assert result.timeliness is timeliness
    assert result.raises_live_alerts is (timeliness is Timeliness.LIVE)


@pytest.mark.parametrize(
    ("captured_at", "reason"),
    [
        pytest.param("2024-05-30T12:05:00.000001Z", CLOCK_FAULT, id="5-minutes-and-1us-ahead"),
        pytest.param(
            "2024-05-30T11:05:00.000001-01:00", CLOCK_FAULT, id="5-minutes-and-1us-ahead-with-offset"
        ),
        pytest.param("2025-05-30T12:00:00Z", CLOCK_FAULT, id="a-year-ahead"),
        pytest.param("2023-05-31T11:59:59.999999Z", BEYOND_RETENTION, id="365-days-and-1us-old"),
        pytest.param("2023-05-30T12:00:00Z", BEYOND_RETENTION, id="one-calendar-year-old-across-29-february"),
        pytest.param("0001-01-01T00:00:00Z", BEYOND_RETENTION, id="year-1"),
    ],
)
def test_reads_outside_the_window_are_rejected(make_read: MakeRead, captured_at: str, reason: str) -> None:
    error = rejected(encode(make_read(captured_at=captured_at)), LATE_NOW)
    assert error.reason == reason
    assert error.fields == ("captured_at",)


# --- properties: whatever the bytes, a read or a reason ------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=20,
)


def assert_read_or_reason(data: bytes, now: datetime) -> None:
    """The contract of parse_read: an AcceptedRead that keeps the R-READ invariants, or ReadRejected
    with a known reason naming at least one field; any other exception fails the test."""
    result: AcceptedRead | ReadRejected
    try:
        result = parse_read(data, now=now)
    except ReadRejected as error:
        result = error
    if isinstance(result, ReadRejected):
        assert result.reason in REASONS
        assert result.problems
    else:
        assert isinstance(result, AcceptedRead)
        assert re.fullmatch(r"[A-Z0-9]{1,10}", result.read.vrm)
        assert result.read.captured_at.utcoffset() == timedelta(0)
        assert result.timeliness in {Timeliness.LIVE, Timeliness.LATE}


@settings(max_examples=200, deadline=None)
@given(data=st.binary())
def test_arbitrary_bytes_give_a_read_or_a_reason(data: bytes, now: datetime) -> None:
    assert_read_or_reason(data, now)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from([*READ_FIELDS, "unexpected"]), value=json_values)
def test_a_valid_read_with_one_field_replaced_gives_a_read_or_a_reason(
    make_read: MakeRead, now: datetime, field: str, value: object
) -> None:
    assert_read_or_reason(encode(make_read(**{field: value})), now)


@settings(max_examples=200, deadline=None)
@given(record=st.dictionaries(st.one_of(st.sampled_from(READ_FIELDS), st.text()), json_values))
def test_arbitrary_objects_give_a_read_or_a_reason(record: dict[str, object], now: datetime) -> None:
    assert_read_or_reason(encode(record), now)
