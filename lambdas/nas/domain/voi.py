"""VOI management rules (R-VOI, R-VOI-28, R-VOI-56, R-VOI-DEL, R-CIRC): who may see or change a
single entry, how a manager's draft becomes an entry, and how a revision changes one. Pure: callers
pass `now` and the principal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nas.domain import policy
from nas.domain.errors import AccessDenied
from nas.domain.leas import NATIONAL
from nas.domain.models import (
    Circulation,
    PncRef,
    VoiAction,
    VoiCategory,
    VoiEntry,
    VoiPriority,
    VoiReason,
    VoiSource,
    check_circulation,
)
from nas.domain.retro_hunt import RetroHunt
from nas.domain.roles import Principal
from nas.domain.timefmt import iso_utc
from nas.domain.types import LeaOrNational, Vrm
from nas.domain.voi_lists import ListGeneration

SINGLE_SOURCES = frozenset({VoiSource.LOCAL, VoiSource.PNC})
"""Sources of entries made one at a time through the API; DVLA and MIB come only as bulk lists."""
REVISIONS_KEPT = 20
"""Revisions kept on an entry (newest last); older ones are counted, so an entry item stays small
however often it is revised."""
CHANGEABLE_FIELDS = ("category", "action", "priority", "reason", "pnc_ref", "circulation", "sensitive")


class VoiChanges(BaseModel):
    """What a manager sets on an entry, at creation or in a revision (a revision replaces them all)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: VoiCategory
    action: VoiAction
    priority: VoiPriority
    reason: VoiReason
    pnc_ref: PncRef | None = None
    circulation: Circulation
    sensitive: bool = False

    @model_validator(mode="after")
    def _circulation(self) -> VoiChanges:
        check_circulation(self.circulation)
        return self


class VoiDraft(VoiChanges):
    """A new single entry as a manager asks for it; `owner_lea` only for NATIONAL managers."""

    vrm: Vrm
    source: VoiSource = VoiSource.LOCAL
    owner_lea: LeaOrNational | None = None


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    before: Any
    after: Any


class Revision(BaseModel):
    """Who revised an entry, when, and what changed (nothing, when the revision was a review)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    revised_by: str
    revised_at: str
    changes: dict[str, FieldChange]


class VoiRecord(BaseModel):
    """A single entry as stored: the entry, its revision history and its write version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entry: VoiEntry
    revisions: tuple[Revision, ...] = ()
    revisions_omitted: Annotated[int, Field(ge=0)] = 0
    version: Annotated[int, Field(ge=0)] = 0
    retro_hunt: RetroHunt | None = None
    """The entry's latest retro-hunt, where the service looked it up (never stored with the entry)."""


def entry_visible_to(user_lea: str, entry: VoiEntry) -> bool:
    """R-CIRC for entries: users of the owner LEA and of the circulated LEAs (every LEA for national
    circulation), and NATIONAL users; a sensitive entry only to its owner and circulated LEAs (so
    NATIONAL users see it only when it is circulated nationally or owned nationally)."""
    if user_lea == entry.owner_lea or entry.circulated_to(user_lea):
        return True
    return user_lea == NATIONAL and not entry.sensitive


def require_may_change(principal: Principal, entry: VoiEntry) -> None:
    """Managers change only the entries their LEA owns; NATIONAL managers any they can see."""
    if principal.lea != NATIONAL and principal.lea != entry.owner_lea:
        raise AccessDenied("voi-not-owner", f"only {entry.owner_lea} (or NATIONAL) managers may change it")


def owner_for(principal: Principal, requested: str | None) -> str:
    """The owner of a new entry: the manager's own LEA; NATIONAL managers may name another."""
    if requested is None or requested == principal.lea:
        return principal.lea
    if principal.lea != NATIONAL:
        raise AccessDenied("owner-lea-not-yours", "only NATIONAL managers may set owner_lea")
    return requested


def new_entry(draft: VoiDraft, *, voi_id: str, principal: Principal, now: datetime) -> VoiEntry:
    """The entry a draft makes: owned per `owner_for`, created and revised now, its review due in
    28 days and its expiry in 56 (R-VOI-28, R-VOI-56)."""
    if draft.source not in SINGLE_SOURCES:
        names = ", ".join(sorted(s.value for s in SINGLE_SOURCES))
        raise AccessDenied(
            "source-is-a-bulk-list", f"{draft.source} entries come from imports; single: {names}"
        )
    return VoiEntry(
        voi_id=voi_id,
        vrm=draft.vrm,
        source=draft.source,
        owner_lea=owner_for(principal, draft.owner_lea),
        created_by=principal.user,
        created_at=now,
        last_revised_at=now,
        review_due_at=policy.voi_review_due_at(now),
        expires_at=policy.voi_expires_at(now),
        **_fields(draft),
    )


def _fields(changes: VoiChanges) -> dict[str, Any]:
    return {name: getattr(changes, name) for name in CHANGEABLE_FIELDS}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value.value if hasattr(value, "value") else value


def revised(record: VoiRecord, changes: VoiChanges, *, user: str, now: datetime) -> VoiRecord:
    """R-VOI-28/56: a revision replaces the changeable fields and restarts both clocks from `now`; the
    history records who, when and each field's before and after (none when it was a review). The
    entry must still be live: an expired entry is gone, not revivable."""
    entry = record.entry
    if not entry.is_live(now):
        raise ValueError("an expired entry cannot be revised")
    before, after = _fields_of(entry), _fields(changes)
    diff = {
        name: FieldChange(before=_plain(before[name]), after=_plain(after[name]))
        for name in CHANGEABLE_FIELDS
        if before[name] != after[name]
    }
    # Validated again as a whole: the rules of an entry hold after the change too.
    updated = VoiEntry.model_validate(
        {
            **entry.model_dump(),
            **after,
            "last_revised_at": now,
            "review_due_at": policy.voi_review_due_at(now),
            "expires_at": policy.voi_expires_at(now),
        }
    )
    history = [*record.revisions, Revision(revised_by=user, revised_at=iso_utc(now), changes=diff)]
    omitted = record.revisions_omitted + max(0, len(history) - REVISIONS_KEPT)
    return VoiRecord(
        entry=updated,
        revisions=tuple(history[-REVISIONS_KEPT:]),
        revisions_omitted=omitted,
        version=record.version + 1,
    )


def _fields_of(entry: VoiEntry) -> Mapping[str, Any]:
    return {name: getattr(entry, name) for name in CHANGEABLE_FIELDS}


@dataclass(frozen=True, slots=True)
class ReviewReminder:
    """R-VOI-28: what one owner LEA's managers are told each day (`nas.voi.review-due.v1`)."""

    owner_lea: str
    overdue: int
    voi_ids: tuple[str, ...]
    lists: tuple[ListGeneration, ...]
    as_of: datetime
