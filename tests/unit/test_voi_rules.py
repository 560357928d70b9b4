"""Single-entry rules (R-VOI, R-VOI-28, R-VOI-56, R-CIRC): visibility, ownership, the clocks a
creation and a revision set, at their boundaries, and the revision history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from nas.domain.errors import AccessDenied
from nas.domain.models import VoiEntry
from nas.domain.roles import Principal, Role
from nas.domain.voi import (
    REVISIONS_KEPT,
    VoiChanges,
    VoiDraft,
    VoiRecord,
    entry_visible_to,
    new_entry,
    owner_for,
    require_may_change,
    revised,
)

KENT_MANAGER = Principal.from_claims("vm.kent", [Role.VOI_MANAGER.value], "KENT")
ESSEX_MANAGER = Principal.from_claims("vm.essex", [Role.VOI_MANAGER.value], "ESSEX")
NATIONAL_MANAGER = Principal.from_claims("vm.nat", [Role.VOI_MANAGER.value], "NATIONAL")
# 2024 is a leap year: 28 days from 10 February is 9 March, across 29 February.
CREATED = datetime(2024, 2, 10, 9, 30, tzinfo=UTC)


def draft(**overrides: Any) -> VoiDraft:
    values: dict[str, Any] = {
        "vrm": "ab12 cde",
        "source": "local",
        "category": "stolen",
        "action": "stop",
        "priority": 1,
        "reason": "Reported stolen, PNC 24/123456A",
        "pnc_ref": "24/123456A",
        "circulation": ("KENT",),
        "sensitive": False,
    }
    values.update(overrides)
    return VoiDraft.model_validate(values)


def entry(**overrides: Any) -> VoiEntry:
    made = new_entry(draft(), voi_id="v-1", principal=KENT_MANAGER, now=CREATED)
    return made.model_copy(update=overrides)


def test_a_new_entry_is_owned_by_the_managers_lea_and_due_for_review_in_28_days() -> None:
    made = new_entry(draft(), voi_id="v-1", principal=KENT_MANAGER, now=CREATED)
    assert (made.owner_lea, made.created_by, made.vrm) == ("KENT", "vm.kent", "AB12CDE")
    assert made.created_at == made.last_revised_at == CREATED
    assert made.review_due_at == datetime(2024, 3, 9, 9, 30, tzinfo=UTC)
    assert made.expires_at == datetime(2024, 4, 6, 9, 30, tzinfo=UTC)


def test_an_entry_is_live_until_the_instant_56_days_after_its_revision() -> None:
    made = entry()
    assert made.is_live(CREATED + timedelta(days=56) - timedelta(microseconds=1))
    assert not made.is_live(CREATED + timedelta(days=56))


def test_only_national_managers_name_another_owner() -> None:
    assert owner_for(NATIONAL_MANAGER, "GMP") == "GMP"
    assert owner_for(KENT_MANAGER, None) == "KENT"
    assert owner_for(KENT_MANAGER, "KENT") == "KENT"
    with pytest.raises(AccessDenied) as refused:
        owner_for(KENT_MANAGER, "ESSEX")
    assert refused.value.rule == "owner-lea-not-yours"


def test_bulk_sources_cannot_be_added_one_entry_at_a_time() -> None:
    with pytest.raises(AccessDenied) as refused:
        new_entry(draft(source="dvla"), voi_id="v-2", principal=KENT_MANAGER, now=CREATED)
    assert refused.value.rule == "source-is-a-bulk-list"


@pytest.mark.parametrize(
    ("circulation", "sensitive", "viewer", "visible"),
    [
        (("KENT",), False, "KENT", True),  # owner
        (("KENT",), False, "ESSEX", False),  # neither owner nor circulated
        (("KENT", "ESSEX"), False, "ESSEX", True),  # circulated
        (("NATIONAL",), False, "GMP", True),  # national circulation reaches every LEA
        (("KENT",), False, "NATIONAL", True),  # NATIONAL users see non-sensitive entries
        (("KENT",), True, "NATIONAL", False),  # ...but a sensitive one only if circulated to them
        (("NATIONAL",), True, "NATIONAL", True),
        (("KENT", "ESSEX"), True, "ESSEX", True),  # circulated LEAs see sensitive entries
        (("ESSEX",), True, "KENT", True),  # and so does the owner, circulated or not
        (("ESSEX",), True, "GMP", False),
    ],
)
def test_entry_visibility_follows_r_circ(
    circulation: tuple[str, ...], sensitive: bool, viewer: str, visible: bool
) -> None:
    assert entry_visible_to(viewer, entry(circulation=circulation, sensitive=sensitive)) is visible


def test_managers_change_only_their_lea_s_entries_national_any() -> None:
    kent_entry = entry()
    require_may_change(KENT_MANAGER, kent_entry)
    require_may_change(NATIONAL_MANAGER, kent_entry)
    with pytest.raises(AccessDenied) as refused:
        require_may_change(ESSEX_MANAGER, kent_entry)
    assert refused.value.rule == "voi-not-owner"


def changes(**overrides: Any) -> VoiChanges:
    values = draft().model_dump(include=set(VoiChanges.model_fields))
    values.update(overrides)
    return VoiChanges.model_validate(values)


def test_a_revision_restarts_both_clocks_and_records_what_changed() -> None:
    record = VoiRecord(entry=entry())
    at = CREATED + timedelta(days=27, hours=23)  # just before the review falls due
    after = revised(record, changes(priority=2, circulation=("KENT", "ESSEX")), user="vm.other", now=at)
    assert after.entry.last_revised_at == at
    assert after.entry.created_at == CREATED
    assert after.entry.review_due_at == at + timedelta(days=28)
    assert after.entry.expires_at == at + timedelta(days=56)
    assert after.version == record.version + 1
    [revision] = after.revisions
    assert revision.revised_by == "vm.other"
    assert {name: (c.before, c.after) for name, c in revision.changes.items()} == {
        "priority": (1, 2),
        "circulation": (["KENT"], ["KENT", "ESSEX"]),
    }


def test_a_revision_without_changes_is_a_review_that_still_restarts_the_clocks() -> None:
    at = CREATED + timedelta(days=40)
    after = revised(VoiRecord(entry=entry()), changes(), user="vm.kent", now=at)
    assert after.revisions[-1].changes == {}
    assert after.entry.review_due_at == at + timedelta(days=28)


def test_an_expired_entry_cannot_be_revised_back_to_life() -> None:
    with pytest.raises(ValueError, match="expired"):
        revised(VoiRecord(entry=entry()), changes(), user="vm.kent", now=CREATED + timedelta(days=56))


def test_history_keeps_the_last_revisions_and_counts_the_rest() -> None:
    record = VoiRecord(entry=entry())
    for day in range(1, REVISIONS_KEPT + 6):
        record = revised(
            record, changes(priority=1 + day % 3), user=f"u{day}", now=CREATED + timedelta(days=day)
        )
    assert len(record.revisions) == REVISIONS_KEPT
    assert record.revisions_omitted == 5
    assert record.revisions[-1].revised_by == f"u{REVISIONS_KEPT + 5}"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reason", "x" * 501),
        ("reason", "no"),
        ("circulation", ("NATIONAL", "KENT")),
        ("circulation", ("KENT", "KENT")),
        ("circulation", ("NOWHERE",)),
        ("pnc_ref", "12345"),
        ("priority", 4),
        ("category", "Stolen"),
        ("vrm", "ab-12-cde-fgh-ijk"),
    ],
)
def test_a_draft_breaking_a_field_rule_is_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        draft(**{field: value})
    assert field in str(refused.value)
