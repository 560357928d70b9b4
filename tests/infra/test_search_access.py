"""What the api function may do to run searches (SPEC §4, §6): Athena in the search workgroup only,
the Glue reads table's definition, the Parquet under reads/, Athena's output and the kept rows in the
results bucket, the storage key only through S3; the searches and authorisations tables with
attribute-limited updates, replayed against the requests the adapters really send."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template
from moto import mock_aws

from nas import catalogue
from nas.adapters.authorisations import DynamoAuthorisationStore
from nas.adapters.dynamo import create_table
from nas.adapters.searches import DynamoSearchStore
from nas.domain.models import Authorisation
from nas.domain.policy import InvestigationLevel
from nas.domain.search import Purpose, SearchRecord, SearchStatus, SearchType, Why
from tests.infra.conftest import as_list, granted, one_resource, render, sent_attributes, statements

API_POLICY = "RuntimeApiFunctionServiceRoleDefaultPolicy"


def test_api_runs_athena_queries_in_the_search_workgroup_only(template: Template) -> None:
    athena = {(a, r) for a, r in granted(template, API_POLICY) if a.startswith("athena:")}
    assert {a for a, _ in athena} == {
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
    }
    [workgroup] = {r for _, r in athena}
    assert workgroup.endswith(":workgroup/AnalyticsSearchWorkgroup")


def test_api_reads_only_the_glue_definition_of_the_reads_table(template: Template) -> None:
    glue = {(a, r) for a, r in granted(template, API_POLICY) if a.startswith("glue:")}
    assert {a for a, _ in glue} == {
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:GetPartition",
        "glue:GetPartitions",
    }
    resources = {r for _, r in glue}
    assert any(r.endswith(":catalog") for r in resources)
    assert any(r.endswith("database/nas_dev") for r in resources)
    assert any(r.endswith("table/nas_dev/reads") for r in resources)
    assert len(resources) == 3


def test_api_reads_parquet_under_reads_and_writes_only_results_and_kept_rows(template: Template) -> None:
    allowed = granted(template, API_POLICY)
    on_reads = {(a, r) for a, r in allowed if r.startswith("StorageReads")}
    assert on_reads == {
        ("s3:GetObject", "StorageReads.Arn/reads/*"),
        ("s3:ListBucket", "StorageReads.Arn"),
        ("s3:GetBucketLocation", "StorageReads.Arn"),
    }
    [listing] = [
        s
        for s in statements(template, API_POLICY)
        if as_list(s["Action"]) == ["s3:ListBucket"] and render(s["Resource"]) == "StorageReads.Arn"
    ]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["reads/*"]}}
    writes = {r for a, r in allowed if a == "s3:PutObject"}
    # Beside the search results, only the presigned upload of a VOI list (R-VOI-BULK) is a put.
    assert writes == {
        "StorageAthenaResults.Arn/results/*",
        "StorageAthenaResults.Arn/searches/*",
        "StorageImports.Arn/incoming/*",
    }
    assert not [r for a, r in allowed if a.startswith("s3:Delete")]


def test_api_uses_the_storage_key_only_through_s3(template: Template) -> None:
    [statement] = [
        s
        for s in statements(template, API_POLICY)
        if "kms:GenerateDataKey" in as_list(s["Action"]) and render(s["Resource"]).startswith("KeysStorage")
    ]
    assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert "s3.eu-west-2" in render(statement["Condition"]["StringEquals"]["kms:ViaService"])


def test_api_function_environment_names_the_search_stores(template: Template) -> None:
    variables = one_resource(template, "AWS::Lambda::Function", "RuntimeApiFunction")["Properties"][
        "Environment"
    ]["Variables"]
    assert variables[catalogue.SEARCH_ENGINE_ENV] == "athena"
    assert render(variables[catalogue.ATHENA_WORKGROUP_ENV]) == "AnalyticsSearchWorkgroup"
    assert variables[catalogue.GLUE_DATABASE_ENV] == "nas_dev"
    assert render(variables[catalogue.SEARCHES.env_var]) == "TablesSearches"
    assert render(variables[catalogue.AUTHORISATIONS.env_var]) == "TablesAuthorisations"
    assert render(variables[catalogue.Bucket.ATHENA_RESULTS.env_var]) == "StorageAthenaResults"


def test_api_tables_for_searches_and_authorisations(template: Template) -> None:
    allowed = granted(template, API_POLICY)
    assert {(a, r) for a, r in allowed if r.startswith("TablesSearches")} == {
        ("dynamodb:PutItem", "TablesSearches.Arn"),
        ("dynamodb:GetItem", "TablesSearches.Arn"),
        ("dynamodb:UpdateItem", "TablesSearches.Arn"),
        ("dynamodb:Query", "TablesSearches.Arn/index/by-user"),
    }
    assert {(a, r) for a, r in allowed if r.startswith("TablesAuthorisations")} == {
        ("dynamodb:PutItem", "TablesAuthorisations.Arn"),
        ("dynamodb:GetItem", "TablesAuthorisations.Arn"),
        ("dynamodb:UpdateItem", "TablesAuthorisations.Arn"),
        ("dynamodb:Query", "TablesAuthorisations.Arn/index/by-grantee"),
        ("dynamodb:Query", "TablesAuthorisations.Arn/index/by-granted-by"),
    }
    assert ("dynamodb:Scan", "TablesCameras.Arn") in allowed


def update_attributes(template: Template, table: str) -> set[str]:
    [statement] = [
        s
        for s in statements(template, API_POLICY)
        if "dynamodb:UpdateItem" in as_list(s["Action"]) and render(s["Resource"]) == f"{table}.Arn"
    ]
    return set(statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"])


@pytest.fixture
def recorded_updates() -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        create_table(client, catalogue.SEARCHES, "searches")
        create_table(client, catalogue.AUTHORISATIONS, "authorisations")
        sent: list[dict[str, Any]] = []
        client.meta.events.register(
            "provide-client-params.dynamodb.UpdateItem", lambda params, **_: sent.append(dict(params))
        )
        yield client, sent


def test_every_search_and_authorisation_update_the_api_sends_is_one_its_policy_allows(
    template: Template, recorded_updates: tuple[Any, list[dict[str, Any]]]
) -> None:
    client, sent = recorded_updates
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    searches = DynamoSearchStore(client, "searches")
    record = SearchRecord(
        search_id="s-1",
        user="ivy",
        created_at=at,
        search_type=SearchType.VRM,
        criteria={"vrm": "AB12CDE"},
        window_from=at - timedelta(days=1),
        window_to=at,
        level=InvestigationLevel.PRIORITY_VOLUME,
        why=Why(Purpose.CRIME, "Burglary enquiry", "KENT-1"),
        authorisation_id=None,
        status=SearchStatus.RUNNING,
        engine="athena",
        execution_id="q-1",
    )
    searches.put(record)
    searches.complete(replace(record, status=SearchStatus.FAILED, failure="HIVE_BAD_DATA", completed_at=at))
    authorisations = DynamoAuthorisationStore(client, "authorisations")
    authorisations.put(
        Authorisation(
            authorisation_id="a-1",
            grantee="ivy",
            granted_by="sam",
            granted_by_lea="KENT",
            case_ref="KENT-1",
            investigation_level=InvestigationLevel.MAJOR,
            max_lookback_days=200,
            granted_at=at,
            expires_at=at + timedelta(days=7),
            reason="Operation Kestrel thefts",
        )
    )
    authorisations.revoke("a-1", by="sam", at=at)
    search_update, revocation = sent
    assert sent_attributes(search_update) <= update_attributes(template, "TablesSearches")
    assert sent_attributes(revocation) <= update_attributes(template, "TablesAuthorisations")
    assert not {"user", "criteria", "reason"} & update_attributes(template, "TablesSearches")
    assert not {"grantee", "max_lookback_days", "expires_at"} & update_attributes(
        template, "TablesAuthorisations"
    )
