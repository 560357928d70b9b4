"""The API as a fuzzer meets it: schemathesis generates requests from the served OpenAPI document
(valid, boundary and invalid ones) and sends them through the local gateway with real ID tokens of
several groups. The run must end with no server error, no undocumented status or content type, and
no response that breaks its documented schema.

`positive_data_acceptance` is left out: some rules are beyond a JSON schema (a `since` at most 31
days back, a page token the API issued), so a schema-valid request may still rightly be a 400.

`make test` runs a short, seeded pass per group; `make fuzz` runs the long one (NAS_FUZZ_EXAMPLES,
NAS_FUZZ_PHASES)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nas.local.moto_server import free_port
from nas.local.runtime import LocalMode, LocalOptions
from tests.local.conftest import Clock, Local

# Each group's token fuzzes the operations its group may use (any other answers 403 before input is
# read; tests/api check that), plus /openapi.json and /health, so the short run spends its requests
# where the code differs. `make fuzz` sends every group at every operation (NAS_FUZZ_ALL_PATHS=1).
# The admin run goes last: it may disable any account it finds listed, another group's included.
GROUPS: dict[str, str] = {
    "operator": r"^/(alerts|voi)",
    "auditor": r"^/(audit|reports)",
    "analyst": r"^/reports/daily",
    "investigator": r"^/(searches|authorisations|reads)",
    "senior-investigator": r"^/(preservations|reads)",
    "authoriser": r"^/authorisations",
    "voi-manager": r"^/voi",
    "dpo": r"^/(subject-requests|reports/retention)",
    # Last: its fuzzing disables whatever user names it generates (demo users included, once seen in
    # GET /admin/accounts), and a later group could then not sign in.
    "admin": r"^/admin",
}
ALL_PATHS = os.environ.get("NAS_FUZZ_ALL_PATHS") == "1"
EXAMPLES = int(os.environ.get("NAS_FUZZ_EXAMPLES", "8"))
PHASES = os.environ.get("NAS_FUZZ_PHASES", "examples,coverage,fuzzing")
SEED = int(os.environ.get("NAS_FUZZ_SEED", "20261130"))
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """A local mode of its own: the fuzzer may disable accounts or fill the audit trail."""
    config_path = tmp_path_factory.mktemp("fuzz") / ".nas-local.json"
    clock = Clock()
    mode = LocalMode(
        LocalOptions(
            aws_port=free_port(),
            api_port=free_port(),
            demo=True,
            simulator=False,
            config_path=config_path,
            flush_interval_s=1.0,
            clock=clock,
            # moto lists a bucket's every object version whatever the prefix: digests written every
            # 30 s for minutes would slow each evidence-bucket read the fuzzer makes.
            audit_digest_interval_s=3600.0,
        )
    )
    config = mode.start()
    try:
        yield Local(mode, config, config_path, clock)
    finally:
        mode.stop()


@pytest.mark.parametrize("group", GROUPS)
def test_schemathesis_finds_no_server_error_and_no_undocumented_status(
    fuzzed: Local, group: str, tmp_path: Path
) -> None:
    token = fuzzed.id_token(group)
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{fuzzed.config['api_url']}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--phases",
        PHASES,
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--no-color",
        *([] if ALL_PATHS else ["--include-path-regex", f"{GROUPS[group]}|^/openapi.json$|^/health$"]),
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
    summary = "\n".join(done.stdout.splitlines()[-60:])
    assert done.returncode == 0, f"schemathesis found failures as {group}:\n{summary}"
    assert " generated" in done.stdout
