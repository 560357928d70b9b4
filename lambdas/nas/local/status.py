"""`make local`'s one live line: reads a second, alerts raised, reads quarantined by reason, how far
the consumers are behind the stream, rows stored and records set aside, refreshed in place (rich)
instead of a log line per batch (those go to `.nas-local.log`)."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from nas.local.poller import Consumer
from nas.pipeline.archive import ArchiveResult
from nas.pipeline.match import MatchResult

RATE_WINDOW_S = 5.0
REFRESH_PER_S = 2


class PipelineTally:
    """Counts from each invocation's result (registered as the handlers' result observers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.alerts = 0
        self.quarantined: Counter[str] = Counter()

    def matched(self, result: MatchResult) -> None:
        with self._lock:
            self.alerts += len(result.alerts_raised)

    def archived(self, result: ArchiveResult) -> None:
        with self._lock:
            self.quarantined.update(result.quarantined)

    def snapshot(self) -> tuple[int, Counter[str]]:
        with self._lock:
            return self.alerts, Counter(self.quarantined)


class StatusLine:
    """The line's text from the tally, the consumers' counters and the rows stored."""

    def __init__(
        self,
        tally: PipelineTally,
        consumers: dict[str, Consumer],
        rows_stored: Callable[[], int],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tally = tally
        self._consumers = consumers
        self._rows_stored = rows_stored
        self._monotonic = monotonic
        self._samples: deque[tuple[float, int]] = deque()

    def text(self) -> str:
        stats = {name: consumer.stats.snapshot() for name, consumer in self._consumers.items()}
        read = stats.get("match", {}).get("processed", 0)
        now = self._monotonic()
        self._samples.append((now, read))
        while len(self._samples) > 1 and now - self._samples[0][0] > RATE_WINDOW_S:
            self._samples.popleft()
        first_at, first_read = self._samples[0]
        rate = (read - first_read) / (now - first_at) if now > first_at else 0.0
        alerts, quarantined = self._tally.snapshot()
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in quarantined.most_common())
        behind_s = max((s.get("behind_ms", 0) for s in stats.values()), default=0) / 1000
        set_aside = sum(s.get("set_aside", 0) for s in stats.values())
        parts = [
            f"reads {rate:,.0f}/s",
            f"alerts {alerts:,}",
            f"quarantined {sum(quarantined.values()):,}" + (f" ({reasons})" if reasons else ""),
            f"lag {behind_s:.1f} s",
            f"rows stored {self._rows_stored():,}",
        ]
        if set_aside:
            parts.append(f"set aside {set_aside:,} (nas replay failures)")
        return " · ".join(parts)


class LiveStatus:
    """Redraws the status line in place on a terminal until stopped."""

    def __init__(self, line: StatusLine, out: TextIO) -> None:
        self._line = line
        self._live = Live(
            self._render(),
            console=Console(file=out),
            refresh_per_second=REFRESH_PER_S,
            transient=False,
            auto_refresh=False,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status", daemon=True)

    def start(self) -> None:
        self._live.start()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1 / REFRESH_PER_S):
            self._live.update(self._render(), refresh=True)

    def _render(self) -> Text:
        # One line whatever the terminal's width: what does not fit is cut with an ellipsis.
        return Text(self._line.text(), no_wrap=True, overflow="ellipsis")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._live.update(self._render(), refresh=True)
        self._live.stop()
