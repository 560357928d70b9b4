"""`make bench-voi`: a 1,000,000-row DVLA list imported into `nas local`, then the same list with 1 %
of its rows changed imported again (R-VOI-BULK).

Each import is `nas voi import` as a NATIONAL voi-manager runs it: the request through the local
gateway and API, the upload to the presigned URL (moto), the load by local mode's runner (the same
step handler the state machine runs in AWS), and the CLI's polling until the import succeeded.
Generating the files is not timed. Figures print as name=value.

Targets (issue 10): voi_import_s <= 60, voi_reimport_s <= 60, voi_import_peak_rss_mib <= 500 (the
local-mode process, which runs the import; moto's own process is reported beside it).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import random
import resource
import string
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from nas.cli.main import main as nas
from nas.domain.voi_lists import LIST_COLUMNS
from nas.local.moto_server import free_port
from nas.local.runtime import LocalMode, LocalOptions

REASONS = (
    "Untaxed since the last licence expired",
    "Vehicle licence revoked",
    "SORN declared, seen in use",
    "Untaxed, keeper notified",
)


def uk_vrm(rng: random.Random) -> str:
    letters = string.ascii_uppercase
    return (
        "".join(rng.choices(letters, k=2))
        + f"{rng.randrange(2, 75):02d}"
        + "".join(rng.choices(letters, k=3))
    )


def write_list(path: Path, vrms: list[str], *, seed: int, changed: float = 0.0) -> int:
    """Writes the list; `changed` of its rows get another reason (the re-import's changed rows)."""
    rng = random.Random(seed)
    changed_rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        rows = csv.writer(fh, lineterminator="\n")
        rows.writerow(LIST_COLUMNS)
        for index, vrm in enumerate(vrms):
            reason = REASONS[index % len(REASONS)]
            if changed and rng.random() < changed:
                reason = "Untaxed, second reminder sent"
                changed_rows += 1
            rows.writerow((vrm, "no-tax", "report", 3, reason, "", "NATIONAL", "false"))
    return changed_rows


def write_lists(first: Path, second: Path, rows: int, seed: int, changed: float) -> tuple[int, int]:
    """The list, and the same list with `changed` of its rows changed: (rows, rows changed)."""
    rng = random.Random(seed)
    vrms = list({uk_vrm(rng): None for _ in range(int(rows * 1.1))})[:rows]
    write_list(first, vrms, seed=seed)
    return len(vrms), write_list(second, vrms, seed=seed + 1, changed=changed)


def moto_peak_mib(mode: LocalMode) -> float:
    moto = getattr(mode, "_moto", None)
    process = getattr(moto, "_process", None)
    if process is None:
        return 0.0
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_import(config: Path, token: Path, csv: Path) -> tuple[float, str]:
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = nas(
            [
                "voi",
                "import",
                str(csv),
                "--source",
                "dvla",
                "--config",
                str(config),
                "--token-file",
                str(token),
            ]
        )
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"import failed ({status}):\n{out.getvalue()}\n{err.getvalue()[-2000:]}")
    return elapsed, out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        first, second = work / "dvla-1.csv", work / "dvla-2.csv"
        # Written by a child process, so this one (which runs local mode) never holds the VRMs.
        with ProcessPoolExecutor(max_workers=1) as pool:
            rows, changed = pool.submit(
                write_lists, first, second, args.rows, args.seed, args.changed
            ).result()
        file_bytes = first.stat().st_size
        config, token = work / ".nas-local.json", work / "token"
        mode = LocalMode(
            LocalOptions(
                aws_port=free_port(), api_port=free_port(), demo=True, simulator=False, config_path=config
            )
        )
        mode.start()
        try:
            [manager] = [u for u in mode.config["demo"]["other_users"] if u["group"] == "voi-manager"]
            login = ["login", "--config", str(config), "--username", manager["username"]]
            login += ["--password", manager["password"], "--token-file", str(token)]
            with contextlib.redirect_stdout(io.StringIO()):
                nas(login)
            import_s, first_report = run_import(config, token, first)
            reimport_s, second_report = run_import(config, token, second)
            peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
            moto_mib = moto_peak_mib(mode)
        finally:
            mode.stop()
    figures = {
        "voi_import_rows": rows,
        "voi_import_file_mib": f"{file_bytes / 2**20:.0f}",
        "voi_import_s": f"{import_s:.1f}",
        "voi_import_counts": first_report.splitlines()[0].removeprefix("status=succeeded").strip(),
        "voi_reimport_changed_rows": changed,
        "voi_reimport_s": f"{reimport_s:.1f}",
        "voi_reimport_counts": second_report.splitlines()[0].removeprefix("status=succeeded").strip(),
        "voi_import_peak_rss_mib": f"{peak_mib:.0f}",
        "moto_peak_rss_mib": f"{moto_mib:.0f}",
    }
    for name, value in figures.items():
        print(f"{name}={value}")
    met = import_s <= 60 and reimport_s <= 60 and peak_mib <= 500
    print(f"targets_met={str(met).lower()}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
