"""What the api may do for read views, corrections, preservations and data-subject requests
(`infra/constructs/evidence.py`): images read by range under images/ only, preserved copies written
under a legal hold and never deleted, released copies expired by a tagged lifecycle rule, record tables
that refuse deletes to everyone, and updates limited to the attributes the adapters send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Match, Template
from moto import mock_aws

from nas import catalogue
from nas.adapters.dynamo import create_table
from nas.adapters.preservations import DynamoPreservationStore
from nas.adapters.subject_requests import DynamoSubjectRequestStore
from nas.domain.preservations import Preservation, SourceSearch
from nas.domain.subject_requests import RequestKind, Restriction, SubjectRequest
from tests.infra.conftest import as_list, granted, one_resource, render, sent_attributes, statements
from tests.infra.test_tables import table_for

API_POLICY = "RuntimeApiFunctionServiceRoleDefaultPolicy"


def test_the_api_reads_images_only_from_packs_and_never_lists_or_writes_them(template: Template) -> None:
    allowed = granted(template, API_POLICY)
    on_images = {(a, r) for a, r in allowed if r.startswith("StorageReads.Arn/images")}
    assert on_images == {("s3:GetObject", "StorageReads.Arn/images/*")}


def test_preserved_copies_are_written_under_a_legal_hold_and_never_deleted(template: Template) -> None:
    allowed = granted(template, API_POLICY)
    on_evidence = {(a, r) for a, r in allowed if r.startswith("StorageEvidence.Arn/preservations")}
    assert on_evidence == {
        (action, "StorageEvidence.Arn/preservations/*")
        for action in (
            "s3:PutObject",
            "s3:PutObjectLegalHold",
            "s3:GetObjectLegalHold",
            "s3:PutObjectTagging",
            "s3:PutObjectVersionTagging",
        )
    }
    assert not [(a, r) for a, r in allowed if r.startswith("StorageEvidence") and a.startswith("s3:Delete")]
    assert not [(a, r) for a, r in allowed if a == "s3:BypassGovernanceRetention"]
    [listing] = [
        s
        for s in statements(template, API_POLICY)
        if as_list(s["Action"]) == ["s3:ListBucketVersions"] and "preservations/*" in str(s.get("Condition"))
    ]
    assert render(listing["Resource"]) == "StorageEvidence.Arn"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["preservations/*"]}}


def test_the_evidence_bucket_is_object_locked_and_expires_only_released_preservations(
    template: Template,
) -> None:
    name, value = catalogue.PRESERVATION_RELEASED_TAG
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "ObjectLockEnabled": True,
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Id": "expire-released-preservations",
                                "Prefix": catalogue.PRESERVATIONS_PREFIX,
                                "TagFilters": [{"Key": name, "Value": value}],
                                "ExpirationInDays": 1,
                                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                                "Status": "Enabled",
                            }
                        )
                    ]
                )
            },
        },
    )
    evidence = one_resource(template, "AWS::S3::Bucket", "StorageEvidence")["Properties"]
    # Nothing but released preservations expires there: audit digests and statements stay locked.
    for rule in evidence["LifecycleConfiguration"]["Rules"]:
        assert "ExpirationInDays" not in rule or rule.get("TagFilters")


@pytest.mark.parametrize(
    "spec", [catalogue.CORRECTIONS, catalogue.PRESERVATIONS, catalogue.SUBJECT_REQUESTS], ids=str
)
def test_records_of_what_was_done_refuse_item_deletes_to_everyone(template: Template, spec: Any) -> None:
    policy = table_for(template, spec)["Properties"]["ResourcePolicy"]["PolicyDocument"]
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert set(as_list(statement["Action"])) == set(catalogue.DELETE_DENIED_ACTIONS)


def test_the_api_function_names_the_new_stores(template: Template) -> None:
    variables = one_resource(template, "AWS::Lambda::Function", "RuntimeApiFunction")["Properties"][
        "Environment"
    ]["Variables"]
    assert render(variables[catalogue.CORRECTIONS.env_var]) == "TablesCorrections"
    assert render(variables[catalogue.PRESERVATIONS.env_var]) == "TablesPreservations"
    assert render(variables[catalogue.SUBJECT_REQUESTS.env_var]) == "TablesSubjectRequests"
    assert render(variables[catalogue.VOI.env_var]) == "TablesVoi"
    assert render(variables[catalogue.Bucket.EVIDENCE.env_var]) == "StorageEvidence"


def test_the_api_tables_for_corrections_preservations_and_requests(template: Template) -> None:
    allowed = granted(template, API_POLICY)

    def on(prefix: str) -> set[tuple[str, str]]:
        return {(a, r) for a, r in allowed if r.startswith(prefix)}

    assert on("TablesCorrections") == {
        ("dynamodb:PutItem", "TablesCorrections.Arn"),
        ("dynamodb:BatchGetItem", "TablesCorrections.Arn"),
        ("dynamodb:Query", "TablesCorrections.Arn"),
        *{("dynamodb:Query", f"TablesCorrections.Arn/index/{i.name}") for i in catalogue.CORRECTIONS.indexes},
    }
    # A correction's new VRM is looked up as matching would (the VOI routes' own grants: test_voi.py).
    assert {("dynamodb:BatchGetItem", "TablesVoi.Arn"), ("dynamodb:GetItem", "TablesVoi.Arn")} <= on(
        "TablesVoi"
    )
    assert ("dynamodb:Query", "TablesAlerts.Arn/index/by-vrm") in allowed
    for table in ("TablesPreservations", "TablesSubjectRequests", "TablesCorrections"):
        assert not [a for a, _ in on(table) if a in ("dynamodb:DeleteItem", "dynamodb:BatchWriteItem")]


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
        create_table(client, catalogue.PRESERVATIONS, "preservations")
        create_table(client, catalogue.SUBJECT_REQUESTS, "requests")
        sent: list[dict[str, Any]] = []
        client.meta.events.register(
            "provide-client-params.dynamodb.UpdateItem", lambda params, **_: sent.append(dict(params))
        )
        yield client, sent


def test_every_preservation_and_request_update_the_api_sends_is_one_its_policy_allows(
    template: Template, recorded_updates: tuple[Any, list[dict[str, Any]]]
) -> None:
    client, sent = recorded_updates
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    preservations = DynamoPreservationStore(client, "preservations")
    preservations.put(
        Preservation(
            preservation_id="p-1",
            case_ref="KENT-1",
            reason="CPIA: trial evidence",
            created_by="olly",
            created_lea="KENT",
            created_at=at,
            search=SourceSearch("s-1", "crime", "Burglary enquiry", "KENT-1"),
            reads=(),
        )
    )
    preservations.release("p-1", at=at, by="olly", reason="Case closed, no further action")
    requests = DynamoSubjectRequestStore(client, "requests")
    request = SubjectRequest(
        request_id="r-1",
        kind=RequestKind.RESTRICTION,
        vrm="AB12CDE",
        received_at=at,
        due=at.date(),
        requester_ref="SAR-1",
        notes="",
        created_by="dora",
        created_at=at,
        entry_salt="00" * 32,
    )
    requests.put_new(request)
    restricted = requests.update(
        SubjectRequest(
            **{**{f: getattr(request, f) for f in request.__slots__}, "restriction": Restriction(True)}
        )  # type: ignore[arg-type]
    )
    requests.update(
        SubjectRequest(
            **{
                **{f: getattr(restricted, f) for f in restricted.__slots__},  # type: ignore[arg-type]
                "restriction": Restriction(False, lifted_at=at, lifted_by="dora", lift_reason="Verified now"),
            }
        )
    )
    assert len(sent) == 3
    assert sent_attributes(sent[0]) <= update_attributes(template, "TablesPreservations")
    for request_sent in sent[1:]:
        assert sent_attributes(request_sent) <= update_attributes(template, "TablesSubjectRequests")
