"""The runtime and erasure layers are built with pip, without Docker (infra/bundling.py)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest

from infra.bundling import LAMBDA_PLATFORM, LAMBDA_PLATFORM_2_28, PipLayerBundling, source_hash


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


LAMBDA_UNZIPPED_LIMIT = 262_144_000
"""Lambda's limit on a function and its layers, unzipped (250 MiB)."""
EM_AARCH64 = 183


def unpacked_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_the_erasure_layer_holds_aarch64_pyarrow_and_fits_beside_the_runtime_layer(tmp_path: Path) -> None:
    """Builds both real layers (pip, from its cache after the first run) and prints their sizes."""
    from infra.constructs.erasure import ERASURE_LAYER_DIR
    from infra.constructs.runtime import LAYER_DIR, RUNTIME_PACKAGE_DIR

    options = cdk.BundlingOptions(image=cdk.DockerImage.from_registry("unused"))
    erasure, runtime = tmp_path / "erasure", tmp_path / "runtime"
    assert PipLayerBundling(
        ERASURE_LAYER_DIR / "requirements.txt", None, (LAMBDA_PLATFORM, LAMBDA_PLATFORM_2_28)
    ).try_bundle(str(erasure), options)
    assert PipLayerBundling(LAYER_DIR / "requirements.txt", RUNTIME_PACKAGE_DIR).try_bundle(
        str(runtime), options
    )

    assert (erasure / "python" / "pyarrow" / "parquet" / "__init__.py").is_file()
    assert not (erasure / "python" / "nas").exists()  # the runtime layer carries the package
    [library] = list((erasure / "python" / "pyarrow").glob("libarrow.so.*[0-9]"))[:1]
    machine = int.from_bytes(library.read_bytes()[18:20], "little")  # ELF e_machine
    assert machine == EM_AARCH64
    sizes = {"erasure": unpacked_bytes(erasure), "runtime": unpacked_bytes(runtime)}
    print(f"erasure_layer_bytes={sizes['erasure']} runtime_layer_bytes={sizes['runtime']}")
    assert sum(sizes.values()) < LAMBDA_UNZIPPED_LIMIT
