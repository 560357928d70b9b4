"""One plan, two engines. The Athena statement parses as Trino and holds no value a caller sent
(sqlglot); both dialects come from the same plan with the same parameters; the Athena statement, run
as Athena would run it (parameters in place, then translated by sqlglot to DuckDB over the same rows
with Glue's zone-less timestamps), returns what the DuckDB statement returns; the Athena adapter makes
the calls Athena needs (moto records them: it runs no SQL); the DuckDB engine reads only the plan's
partitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pyarrow.fs as pafs
import pytest
import sqlglot
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from nas.adapters.athena import AthenaSearchEngine
from nas.adapters.duckdb_search import DuckDbSearchEngine
from nas.adapters.search import EngineState
from nas.domain.layout import vrm_bucket
from nas.domain.search import (
    ConvoyCriteria,
    Criteria,
    LocationCriteria,
    PartialCriteria,
    ReadHit,
    SearchPlan,
    SearchType,
    VrmCriteria,
    plan_search,
)
from nas.domain.search_sql import ATHENA, DUCKDB, READ_RESULT_COLUMNS, statement
from tests.searchdata import ESSEX_A, KENT_A, KENT_B, DirectoryS3, StoredRead, store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# Code constants the Athena text may hold; anything else in quotes would be a value in the SQL.
ALLOWED_LITERALS = {"live", "late", ",", "|", "second"}
CRITERIA: dict[str, Criteria] = {
    "vrm": VrmCriteria("AB12CDE"),
    "tolerant": VrmCriteria("AB12CDE", ocr_tolerant=True),
    "partial": PartialCriteria("AB1?C*"),
    "location": LocationCriteria((KENT_A.camera_id, KENT_B.camera_id)),
    "convoy": ConvoyCriteria("AB12CDE", within_s=120, min_sightings=2),
}


def plan_for(criteria: Criteria, days: float = 20) -> SearchPlan:
    return plan_search(criteria, window_from=NOW - timedelta(days=days), window_to=NOW, now=NOW)


@pytest.mark.parametrize("name", CRITERIA)
def test_the_athena_statement_is_trino_with_every_value_a_parameter(name: str) -> None:
    query = statement(plan_for(CRITERIA[name]), ATHENA)
    tree = sqlglot.parse_one(query.sql, read="trino")
    placeholders = list(tree.find_all(sqlglot.exp.Placeholder))
    assert len(placeholders) == len(query.parameters) == query.sql.count("?")
    literals = {node.this for node in tree.find_all(sqlglot.exp.Literal) if node.is_string}
    assert literals <= ALLOWED_LITERALS
    for parameter in query.parameters:
        value = str(parameter).strip("'")
        if len(value) >= 3:
            assert value not in query.sql, f"{value!r} is in the SQL text"


@pytest.mark.parametrize("name", CRITERIA)
def test_both_dialects_are_rendered_from_one_plan_with_the_same_parameters(name: str) -> None:
    plan = plan_for(CRITERIA[name])
    athena, local = statement(plan, ATHENA), statement(plan, DUCKDB)
    assert len(athena.parameters) == len(local.parameters)
    for in_athena, in_duckdb in zip(athena.parameters, local.parameters, strict=True):
        if isinstance(in_duckdb, int):
            assert in_athena == str(in_duckdb)
        elif in_duckdb[:4].isdigit() and "T" in in_duckdb:  # an instant: the same one, zone-less in Athena
            moment = datetime.fromisoformat(in_duckdb)
            assert in_athena == f"'{moment.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}'"
        else:
            assert in_athena == f"'{in_duckdb}'"
    # The statements differ only where the dialects do (docs in search_sql.py).
    assert athena.sql.count("SELECT") == local.sql.count("SELECT")


def test_athena_parameters_double_quotes_so_no_value_ends_its_literal() -> None:
    assert ATHENA.text("O'Brien') OR ('1'='1") == "'O''Brien'') OR (''1''=''1'"
    assert (
        sqlglot.parse_one(f"SELECT {ATHENA.text(chr(39) + ' OR 1=1 --')}", read="trino")
        .find(sqlglot.exp.Literal)
        .this
        == "' OR 1=1 --"
    )


# --- the Athena statement runs to the same rows -------------------------------------------------------


def sample_reads() -> list[StoredRead]:
    day = timedelta(days=1)
    target = [(NOW - 3 * day, KENT_A), (NOW - 2 * day, KENT_B), (NOW - day, ESSEX_A)]
    reads = [StoredRead(f"t{n}", "AB12CDE", at, cam) for n, (at, cam) in enumerate(target)]
    reads += [
        StoredRead(f"c{n}", "CV01AAA", at + timedelta(seconds=50), cam) for n, (at, cam) in enumerate(target)
    ]
    reads += [
        StoredRead("t0", "AB12CDE", target[0][0], KENT_A, stored_after=timedelta(days=2)),  # R-DUP
        StoredRead("twin", "A812C0E", NOW - timedelta(hours=5), KENT_B),
        StoredRead("other", "AB19CXE", NOW - timedelta(hours=4), ESSEX_A),
        StoredRead("old", "AB12CDE", NOW - 30 * day, KENT_A),
    ]
    return reads


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reads")
    store(DirectoryS3(root), "reads", sample_reads())
    return root


def athena_rows(plan: SearchPlan, engine: DuckDbSearchEngine) -> list[tuple[Any, ...]]:
    """The Athena statement as Athena runs it: each ? replaced by its literal, over the plan's rows
    with timestamps as Glue declares them (zone-less, UTC), translated to DuckDB by sqlglot."""
    query = statement(plan, ATHENA)
    sql = query.sql
    for literal in query.parameters:
        sql = sql.replace("?", str(literal), 1)
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.register("stored", engine.dataset(engine.files(plan.partitions())))
    connection.execute(
        "CREATE TABLE reads AS SELECT * REPLACE (captured_at::TIMESTAMP AS captured_at,"
        " ingested_at::TIMESTAMP AS ingested_at) FROM stored"
    )
    return connection.execute(sqlglot.transpile(sql, read="trino", write="duckdb")[0]).fetchall()


@pytest.mark.parametrize("name", CRITERIA)
def test_the_athena_statement_finds_what_the_duckdb_statement_finds(stored: Path, name: str) -> None:
    engine = DuckDbSearchEngine(pafs.LocalFileSystem(), str(stored))
    plan = plan_for(CRITERIA[name], days=31)
    local = [tuple(row) for row in engine_rows(engine, plan)]
    assert local, "the sample must give every search something to find"
    assert athena_rows(plan, engine) == local


def engine_rows(engine: DuckDbSearchEngine, plan: SearchPlan) -> list[tuple[Any, ...]]:
    query = statement(plan, DUCKDB)
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.register("reads", engine.dataset(engine.files(plan.partitions())))
    return connection.execute(query.sql, list(query.parameters)).fetchall()


def test_the_duckdb_engine_reads_only_the_plans_partitions(stored: Path) -> None:
    engine = DuckDbSearchEngine(pafs.LocalFileSystem(), str(stored))
    plan = plan_for(VrmCriteria("AB12CDE"), days=31)
    hits = engine.run(plan)
    assert [h.read_id for h in hits if isinstance(h, ReadHit)] == ["t2", "t1", "t0", "old"]
    live, late = f"vrm_bucket={vrm_bucket('A812C0E')}/", f"vrm_bucket={vrm_bucket('A812C0E') % 8}/"
    assert engine.last_files
    assert all((live if "arrival=live" in path else late) in path for path in engine.last_files)
    every_file = [str(p) for p in stored.rglob("*.parquet")]
    assert len(engine.last_files) < len(every_file)


# --- the Athena adapter's calls (moto runs no SQL) ----------------------------------------------------


@pytest.fixture
def athena(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("athena", region_name="eu-west-2")
        client.create_work_group(
            Name="nas-test-search",
            Configuration={"ResultConfiguration": {"OutputLocation": "s3://nas-test-results/results/"}},
        )
        boto3.client("s3", region_name="eu-west-2").create_bucket(
            Bucket="nas-test-results", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        yield client


def test_athena_starts_the_plans_statement_in_the_workgroup_with_its_parameters(athena: Any) -> None:
    engine = AthenaSearchEngine(athena, workgroup="nas-test-search", database="nas_test")
    plan = plan_for(VrmCriteria("AB12CDE"))
    execution_id = engine.start(plan, search_id="5f0e6a3c-0d2b-4c55-9a41-2b7c9d3e1f00")
    execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    expected = statement(plan, ATHENA)
    assert execution["Query"] == expected.sql
    assert "AB12CDE" not in execution["Query"]
    assert execution["ExecutionParameters"] == list(expected.parameters)
    assert "'AB12CDE'" in execution["ExecutionParameters"]
    assert execution["QueryExecutionContext"]["Database"] == "nas_test"
    assert execution["WorkGroup"] == "nas-test-search"


def test_athena_status_follows_the_execution_and_pages_parse_its_rows(athena: Any) -> None:
    engine = AthenaSearchEngine(athena, workgroup="nas-test-search", database="nas_test")
    header = {"Data": [{"VarCharValue": c} for c in READ_RESULT_COLUMNS]}
    row = {
        "Data": [
            {"VarCharValue": v}
            for v in (
                "r1",
                "AB12CDE",
                "1795435200123",
                "KENT-A2-001",
                "KENT",
                "51.2798",
                "1.0789",
                "N",
                "93",
                "live",
                "2026-11-23",
                "22",
                "true",
            )
        ]
    }
    no_direction = {
        "Data": [
            {"VarCharValue": v}
            for v in ("r2", "AB12CDE", "1795435100000", "KENT-A2-001", "KENT", "51.2798", "1.0789")
        ]
        + [{}, {}]
        + [{"VarCharValue": v} for v in ("late", "2026-11-24", "6", "false")]
    }
    backend = athena_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"]
    backend.query_results_queue.append(QueryResults(rows=[header, row, no_direction], column_info=[]))
    execution_id = engine.start(plan_for(VrmCriteria("AB12CDE")), search_id="a" * 36)
    states = [engine.status(execution_id).state for _ in range(3)]
    assert states[-1] is EngineState.SUCCEEDED
    page = engine.page(execution_id, SearchType.VRM, None)
    assert page.next_token is None
    first, second = page.hits
    assert isinstance(first, ReadHit)
    assert isinstance(second, ReadHit)
    assert (first.read_id, first.captured_at, first.confidence, first.lat, first.corrected) == (
        "r1",
        datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC),
        93,
        51.2798,
        True,
    )
    assert (second.direction, second.confidence, second.ref.partition.arrival.value, second.corrected) == (
        None,
        None,
        "late",
        False,
    )


def test_a_failed_athena_query_reports_why(athena: Any) -> None:
    engine = AthenaSearchEngine(athena, workgroup="nas-test-search", database="nas_test")
    execution_id = engine.start(plan_for(VrmCriteria("AB12CDE")), search_id="b" * 36)
    athena.stop_query_execution(QueryExecutionId=execution_id)
    status = engine.status(execution_id)
    assert (status.state, status.reason) == (EngineState.FAILED, "cancelled")
