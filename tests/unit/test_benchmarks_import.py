"""The benchmarks run outside `make test` (`make bench`, `bench-*`, `cost`), so nothing else notices
when a module they use moves: each must at least import against the code as it is (`make cost` once
failed on a class moved between adapters)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize("module", sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem != "__init__"))
def test_the_benchmark_imports_against_the_current_code(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    try:
        importlib.import_module(module)
    finally:
        sys.modules.pop(module, None)
