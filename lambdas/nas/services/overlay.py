"""What a search must know besides the stored rows, gathered before it is planned: the corrections
that concern it (R-CORRECT) and the VRMs under a restriction in force (R-SAR). Both go into the plan's
predicates (`search.plan_search`), never into a filter after the query, so R-LIMIT counts rows the
caller may see.

Which corrections concern a search: for a VRM (and a convoy's target), the corrected reads now shown
as that VRM's look-alike class or stored under it (two index queries, whatever the window); for a
pattern, a location or a convoy's companions, the corrected reads captured on the window's days (one
query a day, 31 at most), kept when they could match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

from nas.adapters.corrections import CorrectionStore
from nas.adapters.subject_requests import RestrictionList
from nas.domain.corrections import Correction, Fix, fixes_of
from nas.domain.policy import retention_floor
from nas.domain.search import (
    FETCH_LIMIT,
    ConvoyCriteria,
    Criteria,
    LocationCriteria,
    PartialCriteria,
    SearchPlan,
    VrmCriteria,
    plan_search,
)
from nas.domain.vrm import canonical_vrm


def pattern_matcher(pattern: str) -> Callable[[str], bool]:
    """A partial plate (`?` one character, `*` any run; nothing else special) as a predicate."""
    regex = re.compile("".join("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern))
    return lambda vrm: regex.fullmatch(vrm) is not None


def window_days(window_from: datetime, window_to: datetime, now: datetime) -> list[date]:
    """The UTC capture days a search can return, within R-RET-365."""
    first = max(window_from, retention_floor(now)).date()
    last = min(window_to, now).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class SearchOverlay:
    def __init__(self, corrections: CorrectionStore, restrictions: RestrictionList) -> None:
        self._corrections = corrections
        self._restrictions = restrictions

    def fixes(
        self, criteria: Criteria, window_from: datetime, window_to: datetime, now: datetime
    ) -> tuple[Fix, ...]:
        found: list[Correction] = []
        if isinstance(criteria, VrmCriteria | ConvoyCriteria):
            found += self.of_vrm(criteria.vrm, exact=not getattr(criteria, "ocr_tolerant", False))
        if isinstance(criteria, PartialCriteria | LocationCriteria | ConvoyCriteria):
            day = self._corrections.captured_on(window_days(window_from, window_to, now))
            if isinstance(criteria, PartialCriteria):
                matches = pattern_matcher(criteria.pattern)
                day = [c for c in day if matches(c.vrm) or matches(c.stored_vrm)]
            elif isinstance(criteria, LocationCriteria):
                cameras = set(criteria.camera_ids)
                day = [c for c in day if c.camera_id in cameras]
            found += day
        return fixes_of(found)

    def of_vrm(self, vrm: str, *, exact: bool = True) -> list[Correction]:
        """Current corrections of reads shown as, or stored as, `vrm` (its look-alike class when not
        `exact`)."""
        canonical = canonical_vrm(vrm)
        found = self._corrections.shown_as(canonical) + self._corrections.stored_as(canonical)
        if exact:
            found = [c for c in found if vrm in (c.vrm, c.stored_vrm)]
        return found

    def restricted(self) -> tuple[str, ...]:
        return tuple(self._restrictions.restricted_vrms())

    def plan(
        self,
        criteria: Criteria,
        *,
        window_from: datetime,
        window_to: datetime,
        now: datetime,
        restrict: bool = True,
        limit: int = FETCH_LIMIT,
    ) -> SearchPlan:
        """The plan of a search with its overlays. `restrict=False` only for the data subject's own
        access export (R-SAR), which must list restricted reads too."""
        return plan_search(
            criteria,
            window_from=window_from,
            window_to=window_to,
            now=now,
            fixes=self.fixes(criteria, window_from, window_to, now),
            restricted=self.restricted() if restrict else (),
            limit=limit,
        )
