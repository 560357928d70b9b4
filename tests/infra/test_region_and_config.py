"""R-UK and the stage settings read from context."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.config import RegionNotAllowed, StageConfig
from infra.stack import NasStack
from tests.infra.conftest import synth_stack


def test_stack_is_pinned_to_london(stack: NasStack) -> None:
    assert stack.region == "eu-west-2"


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "eu-central-2"])
def test_synthesis_for_another_region_fails_naming_r_uk(tmp_path: Path, region: str) -> None:
    with pytest.raises(RegionNotAllowed, match=r"R-UK: every NAS resource must be in eu-west-2 \(London\)"):
        synth_stack(tmp_path, region=region)


def test_stage_overrides_come_from_cdk_json_and_the_command_line() -> None:
    context = {
        "stage": "prod",
        "stages": {"prod": {"retain_data": True, "log_retention_days": 400}},
        "api_allowed_cidrs": "192.0.2.0/24,198.51.100.0/24",
    }
    config = StageConfig.from_context(context)
    assert config.stage == "prod"
    assert config.retain_data is True
    assert config.api_allowed_cidrs == ("192.0.2.0/24", "198.51.100.0/24")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"api_allowed_cidrs": ["10.0.0.1/8"]}, "api_allowed_cidrs"),  # host bits set
        ({"api_allowed_cidrs": ["2001:db8::/32"]}, "api_allowed_cidrs"),
        ({"stage": "Prod!"}, "stage"),
        ({"log_retention_days": 45}, "log_retention_days"),
        ({"account": "12345"}, "account"),
        ({"api_reserved_concurrency": 0}, "api_reserved_concurrency"),
        ({"api_reserved_concurrency": "many"}, "api_reserved_concurrency"),
        ({"unknown_setting": 1, "stages": {"dev": {"unknown_setting": 1}}}, "unknown_setting"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(override: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        StageConfig.from_context({"stage": "dev", **override})


def test_api_reserved_concurrency_defaults_to_the_stages_burst_limit() -> None:
    assert StageConfig.from_context({"stage": "prod"}).api_reserved_concurrency == 400
    assert StageConfig.from_context({"stage": "prod", "api_burst_limit": 250}).api_reserved_concurrency == 250
    from_cli = StageConfig.from_context({"stage": "prod", "api_burst_limit": "250"})  # `-c` gives strings
    assert from_cli.api_reserved_concurrency == 250


def test_api_reserved_concurrency_can_be_set_per_stage_and_on_the_command_line() -> None:
    context = {"stage": "prod", "stages": {"prod": {"api_reserved_concurrency": 300}}}
    assert StageConfig.from_context(context).api_reserved_concurrency == 300
    override = {**context, "api_reserved_concurrency": "120"}
    assert StageConfig.from_context(override).api_reserved_concurrency == 120
