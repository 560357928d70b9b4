"""R-AUDIT appends: concurrent writers spread over the day's chains lose nothing and every chain
verifies; a writer that loses a race waits briefly and moves to another chain; a put whose reply
was lost is recognised as the append's own; the append contract (StoreError when a record cannot
be stored) holds."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nas import catalogue
from nas.adapters import StoreConflict, StoreError, StoreRejected
from nas.adapters.audit import BACKOFF_BASE_S, BACKOFF_CAP_S, MAX_APPEND_ATTEMPTS, DynamoAuditTrail
from nas.adapters.dynamo import create_table, from_item, to_item
from nas.domain import audit
from nas.domain.audit import ChainId
from nas.domain.timefmt import iso_utc, utc_date
from nas.local.moto_server import MotoProcess, endpoint_url, free_port

REGION = "eu-west-2"
TABLE = "nas-test-audit"
THREADS = 16
APPENDS_PER_THREAD = 25
NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def event(n: int, at: datetime = NOON) -> dict[str, Any]:
    return {
        "at": iso_utc(at),
        "user": "op.kent",
        "groups": ["operator"],
        "status": 200,
        "request_id": f"r-{n}",
    }


class CountingClient:
    """A DynamoDB client that counts the calls an append makes (one per writer, like a Lambda)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions
        self.puts = 0
        self.queries = 0

    def put_item(self, **request: Any) -> Any:
        self.puts += 1
        return self._client.put_item(**request)

    def query(self, **request: Any) -> Any:
        self.queries += 1
        return self._client.query(**request)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto in its own process, requests serialised, as local mode runs it: conditional puts are
    atomic there, as in DynamoDB (moto in-process is not thread-safe)."""
    server = MotoProcess(free_port())
    server.start()
    try:
        yield endpoint_url(server.port)
    finally:
        server.stop()


def client_at(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_concurrent_appends_lose_nothing_and_every_chain_verifies(moto_server: str) -> None:
    create_table(client_at(moto_server), catalogue.AUDIT, TABLE)
    writers = [CountingClient(client_at(moto_server)) for _ in range(THREADS)]
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def write(n: int) -> None:
        trail = DynamoAuditTrail(writers[n], TABLE)  # type: ignore[arg-type]
        start.wait()
        for i in range(APPENDS_PER_THREAD):
            try:
                trail.append(event(n * APPENDS_PER_THREAD + i), NOON)
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(THREADS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began

    assert failures == []
    total = THREADS * APPENDS_PER_THREAD
    reader = DynamoAuditTrail(client_at(moto_server), TABLE)
    seen: Counter[str] = Counter()
    used = 0
    for chain in audit.chains_of(utc_date(NOON)):
        records = list(reader.records(chain))
        used += bool(records)
        result = audit.verify_records(chain, records)
        assert result.breaks == (), result.breaks
        seen.update(str(r.get("request_id")) for r in records)
    assert seen == Counter(f"r-{n}" for n in range(total))
    puts = sum(w.puts for w in writers)
    print(
        f"audit_appends_per_s={total / elapsed:.0f} audit_append_threads={THREADS}"
        f" audit_chains_used={used} audit_races_lost={puts - total}"
    )
    assert used > 1


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_table(client, catalogue.AUDIT, TABLE)
        yield client


class StaleHeadOnce(CountingClient):
    """Answers the first head read from before another writer's append: the race, made certain."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self._stale = True

    def query(self, **request: Any) -> Any:
        if self._stale and request.get("Limit") == 1:
            self._stale = False
            self.queries += 1
            return {"Items": []}
        return super().query(**request)


def test_a_writer_that_loses_a_race_waits_briefly_and_moves_to_another_chain(dynamodb: Any) -> None:
    DynamoAuditTrail(dynamodb, TABLE, pick_chain=lambda n: 0).append(event(1), NOON)
    late, waits = StaleHeadOnce(dynamodb), []
    trail = DynamoAuditTrail(late, TABLE, pick_chain=lambda n: 0, sleep=waits.append)  # type: ignore[arg-type]
    record = trail.append(event(2), NOON)
    assert (record.chain, record.seq) == (ChainId(utc_date(NOON), 1), 1)
    assert (late.queries, late.puts) == (2, 2)
    assert len(waits) == 1
    assert 0 <= waits[0] < BACKOFF_BASE_S


class ReplyLostOnce(CountingClient):
    """The first put is stored but its reply is lost, so botocore sends it again: the second
    answers that the position is taken (by this very record)."""

    def put_item(self, **request: Any) -> Any:
        if self.puts == 0:
            self._client.put_item(**request)
        return super().put_item(**request)


def test_a_put_stored_but_answered_as_taken_is_recognised_as_the_appends_own(dynamodb: Any) -> None:
    flaky = ReplyLostOnce(dynamodb)
    record = DynamoAuditTrail(flaky, TABLE, pick_chain=lambda n: 2).append(event(1), NOON)  # type: ignore[arg-type]
    assert (record.chain, record.seq) == (ChainId(utc_date(NOON), 2), 1)
    stored = dynamodb.scan(TableName=TABLE)["Items"]
    assert [from_item(i)["hash"] for i in stored] == [record.hash]


class AlwaysTaken(CountingClient):
    """Every position is always already taken by someone else's record."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.chains: list[str] = []

    def put_item(self, **request: Any) -> Any:
        self.puts += 1
        item = from_item(request["Item"])
        self.chains.append(item["chain_id"])
        held = to_item(item | {"hash": "f" * 64})
        raise self.exceptions.ConditionalCheckFailedException(
            {"Error": {"Code": "ConditionalCheckFailedException", "Message": "taken"}, "Item": held},
            "PutItem",
        )


def test_an_append_that_keeps_losing_gives_up_with_store_conflict_in_bounded_time(dynamodb: Any) -> None:
    busy, waits = AlwaysTaken(dynamodb), []
    with pytest.raises(StoreConflict):
        DynamoAuditTrail(busy, TABLE, sleep=waits.append).append(event(1), NOON)  # type: ignore[arg-type]
    assert busy.puts == MAX_APPEND_ATTEMPTS
    assert all(a != b for a, b in zip(busy.chains, busy.chains[1:], strict=False))  # a new chain each time
    assert sum(waits) < MAX_APPEND_ATTEMPTS * BACKOFF_CAP_S


def test_an_append_that_cannot_be_stored_raises_store_error(dynamodb: Any) -> None:
    trail = DynamoAuditTrail(dynamodb, TABLE)
    with pytest.raises(StoreRejected):
        trail.append(event(1) | {"result_count": 2.5}, NOON)
    with pytest.raises(StoreRejected):
        trail.append(event(1) | {"note": "free text"}, NOON)
    dynamodb.delete_table(TableName=TABLE)
    with pytest.raises(StoreError):
        trail.append(event(1), NOON + timedelta(seconds=1))
