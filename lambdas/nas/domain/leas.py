"""Approved organisations (R-READ `lea`): the project's copy of the 2025 DPIA Appendix 1 list."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

NATIONAL = "NATIONAL"
"""Scope of national users and national circulation; not an organisation, so not in the list."""


@cache
def lea_codes() -> frozenset[str]:
    with resources.files("nas.domain").joinpath("data/leas.csv").open(encoding="utf-8") as fh:
        return frozenset(row["code"] for row in csv.DictReader(fh))


def is_lea(code: str) -> bool:
    return code in lea_codes()
