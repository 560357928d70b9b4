"""A one-line text progress bar for the command line: redrawn in place on a terminal, printed once
at the end otherwise (so logs and pipes get one line, not thousands)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 30
MIN_INTERVAL_S = 0.1


def _amount(value: int, unit: str) -> str:
    if unit == "B":
        return f"{value / 1_000_000:,.1f} MB"
    return f"{value:,} {unit}"


class ProgressBar:
    def __init__(
        self,
        out: TextIO,
        label: str,
        total: int,
        unit: str,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = out
        self._label = label
        self._total = max(0, total)
        self._unit = unit
        self._monotonic = monotonic
        self._drawn_at = -1e18
        self._done = 0
        self._live = bool(getattr(out, "isatty", lambda: False)())

    def render(self, done: int) -> str:
        done = max(0, min(done, self._total)) if self._total else done
        share = done / self._total if self._total else 1.0
        filled = round(share * WIDTH)
        bar = "#" * filled + "." * (WIDTH - filled)
        total = f"/{_amount(self._total, self._unit)}" if self._total else ""
        return f"{self._label} [{bar}] {share:4.0%} {_amount(done, self._unit)}{total}"

    def update(self, done: int) -> None:
        self._done = done
        now = self._monotonic()
        if self._live and now - self._drawn_at >= MIN_INTERVAL_S:
            self._out.write("\r" + self.render(done))
            self._out.flush()
            self._drawn_at = now

    def finish(self, done: int | None = None) -> None:
        final = self.render(self._done if done is None else done)
        self._out.write(("\r" if self._live else "") + final + "\n")
        self._out.flush()
