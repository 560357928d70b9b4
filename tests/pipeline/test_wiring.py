"""The consumers' AWS clients: explicit timeouts and standard retries, so match answers within its
two seconds instead of waiting on botocore's 60 s default read timeout."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config

from nas.pipeline.wiring import build_archive_service, build_match_service
from nas.settings import settings
from tests.pipeline.conftest import PipelineAccount


class RecordingClients:
    def __init__(self) -> None:
        self.configs: dict[str, Config] = {}

    def __call__(self, service: str, config: Config) -> Any:
        import boto3

        self.configs[service] = config
        return boto3.client(service, config=config)


def test_match_clients_connect_within_a_second_answer_within_two_and_retry_in_standard_mode(
    account: PipelineAccount,
) -> None:
    clients = RecordingClients()
    build_match_service(settings(), clients)
    assert set(clients.configs) == {"dynamodb", "events"}
    for config in clients.configs.values():
        assert config.connect_timeout <= 1
        assert config.read_timeout <= 2
        assert config.retries == {"mode": "standard", "total_max_attempts": 3}


@pytest.mark.parametrize("service", ["dynamodb", "s3", "firehose"])
def test_archive_clients_have_explicit_timeouts_and_standard_retries(
    account: PipelineAccount, service: str
) -> None:
    clients = RecordingClients()
    build_archive_service(settings(), clients)
    config = clients.configs[service]
    assert config.read_timeout < 60  # botocore's default would hold a batch for a minute per call
    assert config.retries["mode"] == "standard"
