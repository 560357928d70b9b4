"""`nas voi`'s pieces that need no service: the progress bars and the row count the import
request announces (which the load holds the file to)."""

from __future__ import annotations

import io
from pathlib import Path

from nas.cli.progress import ProgressBar
from nas.cli.voi import count_rows
from nas.domain.voi_lists import LIST_COLUMNS, ListSource, RowParser, split_lines


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_redraws_in_place_on_a_terminal_and_prints_once_elsewhere() -> None:
    ticks = iter([0.0, 0.05, 0.2, 0.4])
    terminal = Terminal()
    bar = ProgressBar(terminal, "load", 1_000, "rows", monotonic=lambda: next(ticks))
    for done in (100, 200, 500, 1_000):
        bar.update(done)
    bar.finish()
    frames = terminal.getvalue().split("\r")[1:]
    assert len(frames) == 4  # 0.05 s after the first draw is too soon for another
    assert frames[-1] == "load [##############################] 100% 1,000 rows/1,000 rows\n"
    assert frames[1] == "load [###############...............]  50% 500 rows/1,000 rows"

    piped = io.StringIO()
    bar = ProgressBar(piped, "upload", 2_500_000, "B")
    bar.update(1_000_000)
    bar.finish(2_500_000)
    assert piped.getvalue() == "upload [##############################] 100% 2.5 MB/2.5 MB\n"


def test_the_announced_row_count_is_what_the_load_counts(tmp_path: Path) -> None:
    body = (
        ",".join(LIST_COLUMNS) + "\r\n"
        "AB12CDE,no-tax,report,3,Untaxed,,NATIONAL,false\r\n"
        "\r\n"
        "   \n"
        "not,a,row\n" + "X" * 5000 + "\n"
        "CD34EFG,no-tax,report,3,Untaxed,,NATIONAL,false"
    )
    path = tmp_path / "list.csv"
    path.write_text(body)
    data = path.read_bytes()
    header_end = data.index(b"\n") + 1
    lines = list(split_lines([data[header_end:]], limit=len(data), skip_first=False))
    counted = sum(1 for line in lines if line is None or line.rstrip(b"\r").strip())
    assert count_rows(path) == counted == 4
    parser = RowParser(ListSource.DVLA, LIST_COLUMNS)
    assert sum(1 for line in lines if line and line.strip() and not hasattr(parser.parse(line), "field")) == 2
