"""Retro-hunt rules (issue 10, item 5): which stored reads alert, circulated as live alerts are
(R-CIRC), never for a white-listed VRM's bulk entry (R-WHITE), once each with the live alert's id
(R-DUP); the window and the why a hunt needs (R-REASON)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from nas.domain.errors import InvalidInput
from nas.domain.layout import Arrival, Partition, ReadRef
from nas.domain.models import VoiEntry, VoiSource, alert_id_for
from nas.domain.retro_hunt import HuntRequest, hunt_window, new_hunt, require_request, retro_alerts
from nas.domain.roles import Principal, Role
from nas.domain.search import Purpose, ReadHit
from nas.domain.voi import VoiDraft, new_entry

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
KENT_MANAGER = Principal.from_claims("vm.kent", [Role.VOI_MANAGER.value], "KENT")


def entry(created: datetime = NOW, **overrides: Any) -> VoiEntry:
    values: dict[str, Any] = {
        "vrm": "AB12CDE",
        "category": "stolen",
        "action": "stop",
        "priority": 1,
        "reason": "Reported stolen, PNC 24/123456A",
        "circulation": ("KENT",),
    } | overrides
    return new_entry(VoiDraft.model_validate(values), voi_id="v-1", principal=KENT_MANAGER, now=created)


def hit(read_id: str, lea: str = "KENT", *, hours_ago: float = 5, arrival: Arrival = Arrival.LIVE) -> ReadHit:
    camera = f"{lea}-0001"
    at = NOW - timedelta(hours=hours_ago)
    ref = ReadRef(Partition(arrival, date(2026, 11, 19), 3), camera, read_id)
    return ReadHit(read_id, "AB12CDE", at, camera, lea, 51.0, 1.0, "N", 90, ref)


def test_reads_from_circulated_leas_alert_with_the_live_alerts_id_flagged_retro() -> None:
    [alert] = retro_alerts([hit("r1"), hit("r2", "ESSEX")], entry(), white_listed=False, now=NOW)
    assert alert.read_id == "r1"
    assert alert.alert_id == alert_id_for("KENT-0001", "r1", "v-1")
    assert (alert.retro, alert.raised_at, alert.captured_at) == (True, NOW, NOW - timedelta(hours=5))
    assert (alert.owner_lea, alert.circulation, alert.category) == ("KENT", ("KENT",), "stolen")


def test_a_nationally_circulated_entry_alerts_on_every_leas_reads() -> None:
    alerts = retro_alerts(
        [hit("r1"), hit("r2", "ESSEX")], entry(circulation=("NATIONAL",)), white_listed=False, now=NOW
    )
    assert sorted(a.lea for a in alerts) == ["ESSEX", "KENT"]


def test_a_read_returned_twice_alerts_once() -> None:
    assert len(retro_alerts([hit("r1"), hit("r1")], entry(), white_listed=False, now=NOW)) == 1


def test_a_deleted_or_expired_entry_raises_nothing() -> None:
    assert retro_alerts([hit("r1")], None, white_listed=False, now=NOW) == []
    expired = entry(created=NOW - timedelta(days=57))
    assert retro_alerts([hit("r1")], expired, white_listed=False, now=NOW) == []


def test_the_white_list_suppresses_bulk_entries_only() -> None:
    dvla = entry().model_copy(update={"source": VoiSource.DVLA, "category": "no-tax"})
    assert retro_alerts([hit("r1")], dvla, white_listed=True, now=NOW) == []
    assert len(retro_alerts([hit("r1")], dvla, white_listed=False, now=NOW)) == 1
    assert len(retro_alerts([hit("r1")], entry(source="pnc"), white_listed=True, now=NOW)) == 1


def test_a_read_stored_late_makes_a_late_alert() -> None:
    [alert] = retro_alerts(
        [hit("r1", hours_ago=30, arrival=Arrival.LATE)], entry(), white_listed=False, now=NOW
    )
    assert alert.late


def test_the_window_is_the_days_before_the_request() -> None:
    assert hunt_window(NOW, 3) == (NOW - timedelta(days=3), NOW)
    hunt = new_hunt(
        entry(),
        HuntRequest(7, Purpose.CRIME, "KENT-2026-1"),
        hunt_id="h1",
        requested_by="vm.kent",
        requested_by_lea="KENT",
        now=NOW,
    )
    assert (hunt.window_from, hunt.window_to, hunt.expires_at) == (
        NOW - timedelta(days=7),
        NOW,
        NOW + timedelta(days=56),
    )
    assert len(hunt.reason) >= 10
    assert "v-1" in hunt.reason


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (HuntRequest(8, Purpose.CRIME, "KENT-1"), "retro_hunt_days"),
        (HuntRequest(0, Purpose.CRIME, "KENT-1"), "retro_hunt_days"),
        (HuntRequest(1, None, "KENT-1"), "purpose"),
        (HuntRequest(1, Purpose.CRIME, None), "case_ref"),
        (HuntRequest(1, Purpose.CRIME, "  "), "case_ref"),
    ],
)
def test_a_hunt_needs_1_to_7_days_a_purpose_and_a_case(request_: HuntRequest, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        require_request(request_)
    assert refused.value.field == field


def test_seven_days_with_a_purpose_and_a_case_is_accepted() -> None:
    assert require_request(HuntRequest(7, Purpose.TAX_DUTY, "KENT-1")) == (Purpose.TAX_DUTY, "KENT-1")
