"""R-VOI, R-CIRC, R-ALERT, R-DUP, R-AUTHZ and R-ROLE records. The models are strict, so string input
goes through `model_validate_json`, as it does at the API and in the pipeline."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from nas.domain.errors import AccessDenied
from nas.domain.models import Alert, Authorisation, Read, VoiAction, VoiEntry, VoiSource
from nas.domain.policy import InvestigationLevel, require_lookback
from nas.domain.reads import problems_of
from nas.domain.roles import Principal, Role

MakeRead = Callable[..., dict[str, Any]]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def refused_fields[M: BaseModel](model: type[M], record: dict[str, Any]) -> tuple[str, ...]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps(record))
    return tuple(problem.field for problem in problems_of(caught.value))


# --- R-VOI ----------------------------------------------------------------------------------------


def voi_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "voi_id": "voi-0001",
        "vrm": "ab12 cde",
        "source": "pnc",
        "category": "stolen",
        "action": "stop",
        "priority": 1,
        "reason": "Reported stolen, PNC 24/123456A",
        "pnc_ref": "24/123456A",
        "circulation": ["KENT", "ESSEX"],
        "owner_lea": "KENT",
        "sensitive": False,
        "created_by": "vic.voimanager",
        "created_at": "2024-02-01T09:00:00Z",
        "last_revised_at": "2024-02-01T10:00:00Z",
        "review_due_at": "2024-02-29T10:00:00Z",
        "expires_at": "2024-03-28T10:00:00Z",
    }
    record.update(overrides)
    return record


def voi(**overrides: Any) -> VoiEntry:
    return VoiEntry.model_validate_json(json.dumps(voi_record(**overrides)))


def test_valid_voi_entry() -> None:
    entry = voi()
    assert entry.vrm == "AB12CDE"
    assert entry.source is VoiSource.PNC
    assert entry.action is VoiAction.STOP
    assert entry.circulation == ("KENT", "ESSEX")
    assert entry.review_due_at == utc(2024, 2, 29, 10)
    assert entry.expires_at == utc(2024, 3, 28, 10)


def test_voi_dates_given_with_an_offset_are_the_same_instants() -> None:
    entry = voi(
        last_revised_at="2024-02-01T11:00:00+01:00",
        review_due_at="2024-02-29T10:00:00Z",
        expires_at="2024-03-28T05:00:00-05:00",
    )
    assert entry.expires_at == utc(2024, 3, 28, 10)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param(
            {"review_due_at": "2024-03-01T10:00:00Z"}, "review_due_at", id="review-a-calendar-month-later"
        ),
        pytest.param({"review_due_at": "2024-02-29T10:00:00.000001Z"}, "review_due_at", id="review-1us-late"),
        pytest.param({"expires_at": "2024-03-29T10:00:00Z"}, "expires_at", id="expiry-57-days"),
        pytest.param({"expires_at": "2024-03-28T09:59:59.999999Z"}, "expires_at", id="expiry-1us-early"),
        pytest.param({"last_revised_at": "2024-02-02T10:00:00Z"}, "review_due_at", id="clocks-not-reset"),
        pytest.param(
            {"created_at": "2024-02-01T10:00:00.000001Z"}, "last_revised_at", id="revised-before-created"
        ),
        pytest.param({"circulation": ["NATIONAL", "KENT"]}, "circulation", id="national-mixed-with-lea"),
        pytest.param({"circulation": ["KENT", "XXXX"]}, "circulation.1", id="unknown-lea-in-circulation"),
        pytest.param({"circulation": []}, "circulation", id="empty-circulation"),
        pytest.param({"owner_lea": "XXXX"}, "owner_lea", id="unknown-owner"),
        pytest.param({"priority": 0}, "priority", id="priority-0"),
        pytest.param({"priority": 4}, "priority", id="priority-4"),
        pytest.param({"priority": "1"}, "priority", id="priority-string"),
        pytest.param({"source": "interpol"}, "source", id="unknown-source"),
        pytest.param({"action": "arrest"}, "action", id="unknown-action"),
        pytest.param({"pnc_ref": "123456"}, "pnc_ref", id="malformed-pnc-ref"),
        pytest.param({"vrm": "AB.12"}, "vrm", id="invalid-vrm"),
        pytest.param({"created_at": "2024-02-01T09:00:00"}, "created_at", id="naive-created-at"),
        pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    ],
)
def test_invalid_voi_entry_is_refused_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    assert refused_fields(VoiEntry, voi_record(**overrides)) == (field,)


@pytest.mark.parametrize("priority", [1, 2, 3])
def test_voi_priorities_one_to_three(priority: int) -> None:
    assert voi(priority=priority).priority == priority


def test_voi_is_live_until_expires_at() -> None:
    entry = voi()
    assert entry.is_live(utc(2024, 3, 28, 9, 59, 59, 999999))
    assert not entry.is_live(utc(2024, 3, 28, 10))


@pytest.mark.parametrize(
    ("circulation", "lea", "circulated"),
    [
        pytest.param(["NATIONAL"], "KENT", True, id="national-reaches-kent"),
        pytest.param(["NATIONAL"], "PSNI", True, id="national-reaches-psni"),
        pytest.param(["KENT", "ESSEX"], "KENT", True, id="listed-lea"),
        pytest.param(["KENT", "ESSEX"], "ESSEX", True, id="other-listed-lea"),
        pytest.param(["KENT", "ESSEX"], "SURREY", False, id="unlisted-lea"),
        pytest.param(["KENT"], "NATIONAL", False, id="national-is-not-a-listed-lea"),
    ],
)
def test_circulated_to(circulation: list[str], lea: str, circulated: bool) -> None:
    assert voi(circulation=circulation).circulated_to(lea) is circulated


# --- R-ALERT / R-DUP ------------------------------------------------------------------------------


@pytest.fixture
def read_of(make_read: MakeRead) -> Callable[..., Read]:
    def make(**overrides: Any) -> Read:
        return Read.model_validate_json(json.dumps(make_read(**overrides)))

    return make


RAISED_AT = utc(2024, 5, 30, 12)


def test_raise_for_copies_read_and_entry_fields_without_images(
    read_of: Callable[..., Read], jpeg_b64: Callable[[int], str]
) -> None:
    read = read_of(plate_image=jpeg_b64(100), overview_image=jpeg_b64(200))
    entry = voi(sensitive=True)

    alert = Alert.raise_for(read, entry, RAISED_AT)

    assert (alert.read_id, alert.camera_id, alert.lea, alert.vrm) == (
        "r-0001",
        "KENT-CAM-0042",
        "KENT",
        "AB12CDE",
    )
    assert alert.captured_at == utc(2024, 5, 30, 11, 59)
    assert (alert.voi_id, alert.source, alert.category, alert.action) == (
        "voi-0001",
        VoiSource.PNC,
        "stolen",
        VoiAction.STOP,
    )
    assert (alert.priority, alert.owner_lea, alert.circulation, alert.sensitive) == (
        1,
        "KENT",
        ("KENT", "ESSEX"),
        True,
    )
    assert alert.raised_at == RAISED_AT
    assert alert.outcome is None
    assert not alert.late
    assert "image" not in alert.model_dump_json()
    assert uuid.UUID(alert.alert_id).version == 5


def test_alert_id_is_deterministic_for_the_same_read_and_entry(read_of: Callable[..., Read]) -> None:
    first = Alert.raise_for(read_of(), voi(), RAISED_AT)
    redelivered = Alert.raise_for(read_of(), voi(), RAISED_AT + timedelta(seconds=30))
    assert first.alert_id == redelivered.alert_id


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(("CAM-1", "r-1", "voi-1"), ("CAM-2", "r-1", "voi-1"), id="same-read-id-other-camera"),
        pytest.param(("CAM-1", "r-1", "voi-1"), ("CAM-1", "r-2", "voi-1"), id="other-read-id"),
        pytest.param(("CAM-1", "r-1", "voi-1"), ("CAM-1", "r-1", "voi-2"), id="other-entry"),
        pytest.param(("AB", "C", "voi-1"), ("A", "BC", "voi-1"), id="fields-do-not-run-together"),
    ],
)
def test_alert_id_differs_for_another_read_or_entry(
    read_of: Callable[..., Read], first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    first_id, second_id = (
        Alert.raise_for(read_of(camera_id=camera, read_id=read_id), voi(voi_id=voi_id), RAISED_AT).alert_id
        for camera, read_id, voi_id in (first, second)
    )
    assert first_id != second_id


def test_alert_round_trips_through_json(read_of: Callable[..., Read]) -> None:
    alert = Alert.raise_for(read_of(), voi(), RAISED_AT)
    assert Alert.model_validate_json(alert.model_dump_json()) == alert


def test_alert_with_a_wrong_alert_id_is_refused(read_of: Callable[..., Read]) -> None:
    record = json.loads(Alert.raise_for(read_of(), voi(), RAISED_AT).model_dump_json())
    other = json.loads(Alert.raise_for(read_of(read_id="r-0002"), voi(), RAISED_AT).model_dump_json())
    record["alert_id"] = other["alert_id"]
    assert refused_fields(Alert, record) == ("alert_id",)


@pytest.mark.parametrize(
    ("captured_at", "late"),
    [
        pytest.param("2024-05-29T12:00:00Z", False, id="exactly-24h-before-raised"),
        pytest.param("2024-05-29T11:59:59.999999Z", True, id="24h-and-1us-before-raised"),
        pytest.param("2024-01-01T00:00:00Z", True, id="months-before-raised"),
        pytest.param("2024-05-30T12:10:00Z", False, id="captured-after-raised"),
    ],
)
def test_alert_is_flagged_late_for_reads_older_than_24_hours(
    read_of: Callable[..., Read], captured_at: str, late: bool
) -> None:
    assert Alert.raise_for(read_of(captured_at=captured_at), voi(), RAISED_AT).late is late


def test_alert_lateness_is_judged_at_the_reads_arrival_when_known(read_of: Callable[..., Read]) -> None:
    read = read_of(captured_at="2024-05-29T12:00:00Z")
    assert Alert.raise_for(read, voi(), RAISED_AT + timedelta(minutes=1)).late is True
    on_arrival = Alert.raise_for(read, voi(), RAISED_AT + timedelta(minutes=1), arrived_at=RAISED_AT)
    assert on_arrival.late is False


def test_alert_for_a_read_more_than_365_days_old_is_still_late(read_of: Callable[..., Read]) -> None:
    alert = Alert.raise_for(read_of(captured_at="2023-05-30T12:00:00Z"), voi(), RAISED_AT)
    assert alert.late is True


def test_raised_at_with_an_offset_is_stored_in_utc(read_of: Callable[..., Read]) -> None:
    alert = Alert.raise_for(read_of(), voi(), datetime(2024, 5, 30, 13, tzinfo=timezone(timedelta(hours=1))))
    assert alert.raised_at == RAISED_AT
    assert alert.raised_at.utcoffset() == timedelta(0)


def test_naive_raised_at_is_refused(read_of: Callable[..., Read]) -> None:
    record = Alert.raise_for(read_of(), voi(), RAISED_AT).model_dump()
    assert Alert.model_validate(record).raised_at == RAISED_AT
    record["raised_at"] = datetime(2024, 5, 30, 12)
    with pytest.raises(ValidationError) as caught:
        Alert.model_validate(record)
    assert [problem.field for problem in problems_of(caught.value)] == ["raised_at"]


def test_raise_for_refuses_a_naive_raised_at(read_of: Callable[..., Read]) -> None:
    # TypeError today: capture_timeliness compares it with the aware captured_at before validation.
    with pytest.raises((TypeError, ValueError)):
        Alert.raise_for(read_of(), voi(), datetime(2024, 5, 30, 12))


# --- R-AUTHZ --------------------------------------------------------------------------------------


def authorisation_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "authorisation_id": "az-0001",
        "grantee": "ivy.investigator",
        "granted_by": "sam.superintendent",
        "case_ref": "KENT-2024-000123",
        "investigation_level": "serious-complex",
        "max_lookback_days": 200,
        "granted_at": "2024-05-01T09:00:00Z",
        "expires_at": "2024-05-31T09:00:00Z",
        "granted_by_lea": "KENT",
        "reason": "Operation Kestrel: pattern of thefts since January",
    }
    record.update(overrides)
    return record


def authorisation(**overrides: Any) -> Authorisation:
    return Authorisation.model_validate_json(json.dumps(authorisation_record(**overrides)))


def test_valid_authorisation_of_exactly_30_days() -> None:
    grant = authorisation()
    assert grant.expires_at == utc(2024, 5, 31, 9)
    assert grant.investigation_level is InvestigationLevel.SERIOUS_COMPLEX


@pytest.mark.parametrize("days", [1, 365])
def test_max_lookback_days_from_1_to_365(days: int) -> None:
    assert authorisation(max_lookback_days=days).max_lookback_days == days


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"granted_by": "ivy.investigator"}, "grantee", id="self-authorisation"),
        pytest.param({"investigation_level": "priority-volume"}, "investigation_level", id="priority-volume"),
        pytest.param({"reason": "because"}, "reason", id="reason-too-short"),
        pytest.param({"revoked_at": "2024-05-02T09:00:00Z"}, "revoked_by", id="revoked-by-nobody"),
        pytest.param({"expires_at": "2024-05-31T09:00:00.000001Z"}, "expires_at", id="30-days-and-1us"),
        pytest.param({"expires_at": "2024-06-30T09:00:00Z"}, "expires_at", id="two-months"),
        pytest.param({"expires_at": "2024-05-01T09:00:00Z"}, "expires_at", id="expires-when-granted"),
        pytest.param({"expires_at": "2024-04-30T09:00:00Z"}, "expires_at", id="expires-before-granted"),
        pytest.param({"max_lookback_days": 0}, "max_lookback_days", id="lookback-0"),
        pytest.param({"max_lookback_days": 366}, "max_lookback_days", id="lookback-366"),
        pytest.param({"investigation_level": "minor"}, "investigation_level", id="unknown-level"),
        pytest.param({"case_ref": "x"}, "case_ref", id="case-ref-too-short"),
        pytest.param({"case_ref": "KENT 2024"}, "case_ref", id="case-ref-space"),
        pytest.param({"grantee": ""}, "grantee", id="empty-grantee"),
    ],
)
def test_invalid_authorisation_is_refused_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    assert refused_fields(Authorisation, authorisation_record(**overrides)) == (field,)


def test_as_live_carries_the_facts_the_lookback_rule_needs() -> None:
    live = authorisation(granted_at="2024-05-01T10:00:00+01:00", expires_at="2024-05-20T09:00:00Z").as_live()
    assert live.grantee == "ivy.investigator"
    assert live.granted_by == "sam.superintendent"
    assert live.case_ref == "KENT-2024-000123"
    assert live.investigation_level is InvestigationLevel.SERIOUS_COMPLEX
    assert live.max_lookback == timedelta(days=200)
    assert live.valid_from == utc(2024, 5, 1, 9)
    assert live.expires_at == utc(2024, 5, 20, 9)


def test_a_stored_authorisation_extends_a_search_lookback_until_revoked() -> None:
    principal = Principal.from_claims("ivy.investigator", ["investigator"], "KENT")
    grant = authorisation()

    def check(reaches_back_to: datetime, stored: Authorisation) -> None:
        require_lookback(
            principal=principal,
            level=InvestigationLevel.SERIOUS_COMPLEX,
            case_ref="KENT-2024-000123",
            reaches_back_to=reaches_back_to,
            now=utc(2024, 5, 30),
            authorisation_named=True,
            authorisation=stored.as_live(),
        )

    check(utc(2023, 11, 12), grant)  # 200 days before 2024-05-30, across 29 February
    revoked = authorisation(revoked_at="2024-05-29T09:00:00Z", revoked_by="sam.superintendent")
    with pytest.raises(AccessDenied) as denied:
        check(utc(2023, 11, 12), revoked)
    assert denied.value.rule == "authorisation-not-valid"


# --- R-ROLE ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "groups",
    [
        pytest.param(["admin", "investigator"], id="admin-and-investigator"),
        pytest.param(["operator", "admin"], id="operator-and-admin"),
        pytest.param(["admin", *[role.value for role in Role if role is not Role.ADMIN]], id="admin-and-all"),
        pytest.param(["admin", "some-other-group"], id="admin-and-unknown-group"),
    ],
)
def test_admin_in_another_group_is_refused(groups: list[str]) -> None:
    with pytest.raises(AccessDenied) as denied:
        Principal.from_claims("ada.admin", groups, "NATIONAL")
    assert denied.value.rule == "admin-not-exclusive"


def test_admin_alone_is_accepted() -> None:
    principal = Principal.from_claims("ada.admin", ["admin"], "NATIONAL")
    assert principal.roles == frozenset({Role.ADMIN})
    assert principal.user == "ada.admin"


def test_unknown_groups_are_ignored() -> None:
    principal = Principal.from_claims(
        "ivy", ["investigator", "Investigator", "superuser", "us-east-1_pool_Google"], "KENT"
    )
    assert principal.roles == frozenset({Role.INVESTIGATOR})
    assert not principal.has_any({Role.ADMIN, Role.SENIOR_INVESTIGATOR})
    assert principal.has_any({Role.INVESTIGATOR, Role.SENIOR_INVESTIGATOR})


@pytest.mark.parametrize("lea", ["XXXX", "kent", "", "national"])
def test_unknown_lea_is_refused(lea: str) -> None:
    with pytest.raises(AccessDenied) as denied:
        Principal.from_claims("ivy", ["investigator"], lea)
    assert denied.value.rule == "unknown-lea"


@pytest.mark.parametrize(("lea", "national"), [("NATIONAL", True), ("KENT", False), ("PSNI", False)])
def test_known_lea_or_national_is_accepted(lea: str, national: bool) -> None:
    principal = Principal.from_claims("aud", ["auditor"], lea)
    assert principal.lea == lea
    assert principal.is_national is national


def test_a_read_with_images_round_trips_through_json(
    read_of: Callable[..., Read], jpeg_b64: Callable[[int], str]
) -> None:
    read = read_of(plate_image=jpeg_b64(3000), overview_image=jpeg_b64(25000))
    assert read.plate_image is not None
    assert Read.model_validate_json(read.model_dump_json(by_alias=True)) == read
