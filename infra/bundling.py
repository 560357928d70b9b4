"""Builds the runtime layer with pip on the build machine: no Docker (DEVELOPERS.md).

pip fetches manylinux wheels for the Lambda platform (`--platform`, `--only-binary`), so the layer is
right for arm64 Lambda whatever machine synthesises it. The NAS runtime package is copied beside the
dependencies, so functions import `nas` from /opt/python.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import jsii

LAMBDA_PYTHON_VERSION = "3.12"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_PLATFORM_2_28 = "manylinux_2_28_aarch64"
"""Also right for Lambda's Python 3.12 runtime (Amazon Linux 2023, glibc 2.34); the only aarch64
wheels of pyarrow 21 and later (the erasure layer)."""
# Not shipped: the CLI, local mode and the camera simulator run on people's machines, never in Lambda,
# and so does the DuckDB search engine (Lambda searches with Athena; duckdb is not in the layer).
EXCLUDED_FROM_LAYER = ("cli", "local", "simulator", "duckdb_search.py", "__pycache__")


def source_hash(requirements: Path, package_dir: Path | None) -> str:
    """Hash of what goes into the layer, so the asset (and the layer version) changes only when the
    requirements or the package change."""
    digest = hashlib.sha256(requirements.read_bytes())
    if package_dir is None:
        return digest.hexdigest()
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and not set(path.relative_to(package_dir).parts) & set(EXCLUDED_FROM_LAYER):
            digest.update(str(path.relative_to(package_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundling:
    def __init__(
        self,
        requirements: Path,
        package_dir: Path | None,
        platforms: tuple[str, ...] = (LAMBDA_PLATFORM,),
    ) -> None:
        """`package_dir` is copied beside the packages (None: packages only, as the erasure layer)."""
        self._requirements = requirements
        self._package_dir = package_dir
        self._platforms = platforms

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        target = Path(output_dir) / "python"
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--requirement",
                str(self._requirements),
                "--target",
                str(target),
                *(arg for platform in self._platforms for arg in ("--platform", platform)),
                "--implementation",
                "cp",
                "--python-version",
                LAMBDA_PYTHON_VERSION,
                "--only-binary=:all:",
                "--no-compile",
            ],
            check=True,
        )
        if self._package_dir is None:
            return True
        shutil.copytree(
            self._package_dir,
            target / self._package_dir.name,
            ignore=shutil.ignore_patterns(*EXCLUDED_FROM_LAYER, "*.pyc"),
            dirs_exist_ok=True,
        )
        return True
