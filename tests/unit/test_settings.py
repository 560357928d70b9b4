"""Runtime settings: every store is found through the environment variable the catalogue names."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from nas import catalogue
from nas.settings import RuntimeSettings, SettingsError, settings


def environ(**extra: str) -> dict[str, str]:
    return {catalogue.STAGE_ENV: "dev", **extra}


@pytest.mark.parametrize("spec", catalogue.TABLES, ids=lambda spec: spec.logical_name)
def test_each_table_is_read_from_its_catalogue_env_var(spec: catalogue.TableSpec) -> None:
    loaded = RuntimeSettings.from_environ(environ(**{spec.env_var: f"nas-dev-{spec.logical_name}-A1B2"}))
    assert loaded.table(spec) == f"nas-dev-{spec.logical_name}-A1B2"


@pytest.mark.parametrize("bucket", list(catalogue.Bucket), ids=lambda bucket: bucket.value)
def test_each_bucket_is_read_from_its_catalogue_env_var(bucket: catalogue.Bucket) -> None:
    loaded = RuntimeSettings.from_environ(environ(**{bucket.env_var: f"nas-dev-{bucket.value}-c3d4"}))
    assert loaded.bucket(bucket) == f"nas-dev-{bucket.value}-c3d4"


def test_stage_service_and_stream_are_read() -> None:
    loaded = RuntimeSettings.from_environ(
        environ(**{catalogue.SERVICE_ENV: "nas-api", catalogue.READ_STREAM_ENV: "nas-dev-reads-E5F6"})
    )
    assert (loaded.stage, loaded.service, loaded.read_stream) == ("dev", "nas-api", "nas-dev-reads-E5F6")


def test_optional_settings_have_defaults() -> None:
    loaded = RuntimeSettings.from_environ(environ())
    assert loaded.service == "nas"
    assert loaded.read_stream is None


def test_tables_of_other_functions_are_not_mixed_up() -> None:
    loaded = RuntimeSettings.from_environ(
        environ(**{catalogue.VOI.env_var: "voi-table", catalogue.ALERTS.env_var: "alerts-table"})
    )
    assert loaded.table(catalogue.VOI) == "voi-table"
    assert loaded.table(catalogue.ALERTS) == "alerts-table"


def test_missing_table_raises_naming_its_env_var() -> None:
    loaded = RuntimeSettings.from_environ(environ(**{catalogue.VOI.env_var: "voi-table"}))
    with pytest.raises(SettingsError, match=re.escape(catalogue.AUDIT.env_var)):
        loaded.table(catalogue.AUDIT)


def test_missing_bucket_raises_naming_its_env_var() -> None:
    loaded = RuntimeSettings.from_environ(environ(**{catalogue.Bucket.READS.env_var: "reads-bucket"}))
    with pytest.raises(SettingsError, match=re.escape(catalogue.Bucket.QUARANTINE.env_var)):
        loaded.bucket(catalogue.Bucket.QUARANTINE)


@pytest.mark.parametrize("stage", ["", "Prod", "1dev", "dev_1", "dev env", "a" * 33])
def test_invalid_stage_is_refused(stage: str) -> None:
    with pytest.raises(ValidationError):
        RuntimeSettings.from_environ({catalogue.STAGE_ENV: stage})


def test_missing_stage_is_refused() -> None:
    with pytest.raises(ValidationError):
        RuntimeSettings.from_environ({})


@pytest.mark.parametrize("stage", ["dev", "prod", "pr-123", "a" * 32])
def test_valid_stage_is_accepted(stage: str) -> None:
    assert RuntimeSettings.from_environ({catalogue.STAGE_ENV: stage}).stage == stage


def test_settings_reads_the_process_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalogue.STAGE_ENV, "test")
    monkeypatch.setenv(catalogue.SEARCHES.env_var, "searches-table")
    settings.cache_clear()
    try:
        assert settings().table(catalogue.SEARCHES) == "searches-table"
        monkeypatch.setenv(catalogue.SEARCHES.env_var, "changed")
        assert settings().table(catalogue.SEARCHES) == "searches-table"
    finally:
        settings.cache_clear()
