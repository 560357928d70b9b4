"""The runtime layer is built with pip, without Docker (infra/bundling.py)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest

from infra.bundling import PipLayerBundling, source_hash


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "src" / "nas"
    (root / "domain").mkdir(parents=True)
    (root / "cli").mkdir()
    (root / "simulator").mkdir()
    (root / "adapters").mkdir()
    (root / "__init__.py").write_text("")
    (root / "adapters" / "athena.py").write_text("ENGINE = 'athena'\n")
    (root / "adapters" / "duckdb_search.py").write_text("import duckdb\n")
    (root / "domain" / "rules.py").write_text("LIMIT = 1\n")
    (root / "cli" / "main.py").write_text("print('cli')\n")
    (root / "simulator" / "reads.py").write_text("print('simulator')\n")
    return root


def test_layer_holds_platform_wheels_and_the_package_without_the_cli_or_duckdb_engine(
    tmp_path: Path, package: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.17.0\n")  # a tiny pure wheel: proves the --platform install path
    out = tmp_path / "out"

    bundled = PipLayerBundling(requirements, package).try_bundle(
        str(out), cdk.BundlingOptions(image=cdk.DockerImage.from_registry("unused"))
    )

    assert bundled is True
    assert (out / "python" / "six.py").is_file()
    assert (out / "python" / "nas" / "domain" / "rules.py").read_text() == "LIMIT = 1\n"
    assert not (out / "python" / "nas" / "cli").exists()
    assert not (out / "python" / "nas" / "simulator").exists()
    assert (out / "python" / "nas" / "adapters" / "athena.py").is_file()
    assert not (out / "python" / "nas" / "adapters" / "duckdb_search.py").exists()  # Lambda uses Athena


def test_failed_install_fails_the_build(tmp_path: Path, package: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("this-package-does-not-exist-nas==0.0.1\n")
    with pytest.raises(Exception, match="returned non-zero exit status"):
        PipLayerBundling(requirements, package).try_bundle(
            str(tmp_path / "out"), cdk.BundlingOptions(image=cdk.DockerImage.from_registry("unused"))
        )


def test_source_hash_follows_shipped_files_only(tmp_path: Path, package: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.17.0\n")
    before = source_hash(requirements, package)

    (package / "cli" / "main.py").write_text("print('changed cli')\n")
    assert source_hash(requirements, package) == before  # the CLI is not in the layer

    (package / "domain" / "rules.py").write_text("LIMIT = 2\n")
    assert source_hash(requirements, package) != before

    changed = source_hash(requirements, package)
    requirements.write_text("six==1.16.0\n")
    assert source_hash(requirements, package) != changed
