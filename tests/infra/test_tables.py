"""DynamoDB tables of the catalogue: keys, TTL (R-VOI-56), encryption, PITR, indexes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from nas import catalogue
from nas.domain.models import Alert
from tests.infra.conftest import resources, synth_stack


def table_for(template: Template, spec: catalogue.TableSpec) -> dict[str, Any]:
    key_schema = [{"AttributeName": spec.partition_key.name, "KeyType": "HASH"}]
    if spec.sort_key:
        key_schema.append({"AttributeName": spec.sort_key.name, "KeyType": "RANGE"})
    prefix = "Tables" + "".join(part.capitalize() for part in spec.logical_name.split("-"))
    matches = [
        t
        for lid, t in resources(template, "AWS::DynamoDB::Table").items()
        if lid.startswith(prefix) and t["Properties"]["KeySchema"] == key_schema
    ]
    assert len(matches) == 1, f"table {spec.logical_name} with key {key_schema} not found"
    return matches[0]


@pytest.mark.parametrize("spec", catalogue.TABLES, ids=lambda s: s.logical_name)
def test_table_is_on_demand_encrypted_and_recoverable(template: Template, spec: catalogue.TableSpec) -> None:
    props = table_for(template, spec)["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    assert props["SSESpecification"]["KMSMasterKeyId"]["Fn::GetAtt"][0].startswith("KeysTables")
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


@pytest.mark.parametrize("spec", catalogue.TABLES, ids=lambda s: s.logical_name)
def test_table_has_the_catalogued_indexes(template: Template, spec: catalogue.TableSpec) -> None:
    props = table_for(template, spec)["Properties"]
    indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {i.name for i in spec.indexes}
    for index in spec.indexes:
        assert indexes[index.name]["KeySchema"][0] == {
            "AttributeName": index.partition_key.name,
            "KeyType": "HASH",
        }


def test_voi_entries_expire_by_ttl_on_expires_at(template: Template) -> None:
    props = table_for(template, catalogue.VOI)["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["KeySchema"][0] == {"AttributeName": "vrm", "KeyType": "HASH"}


def test_idempotency_records_expire_on_the_powertools_attribute(template: Template) -> None:
    props = table_for(template, catalogue.IDEMPOTENCY)["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_audit_records_never_expire(template: Template) -> None:
    assert "TimeToLiveSpecification" not in table_for(template, catalogue.AUDIT)["Properties"]


def test_dev_stage_tables_may_be_deleted(template: Template) -> None:
    # cdk.json's dev stage sets retain_data false: no deletion protection there.
    for table in resources(template, "AWS::DynamoDB::Table").values():
        assert table["Properties"].get("DeletionProtectionEnabled") is False
        assert table["DeletionPolicy"] == "Delete"


def test_prod_stage_keeps_every_store(tmp_path: Path) -> None:
    stack = synth_stack(tmp_path, stage="prod")
    prod = Template.from_stack(stack)
    assert stack.termination_protection is True
    for table in resources(prod, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"
    for type_ in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Cognito::UserPool", "AWS::Logs::LogGroup"):
        for logical_id, resource in resources(prod, type_).items():
            assert resource["DeletionPolicy"] == "Retain", logical_id


def test_index_projections_follow_the_catalogue(template: Template) -> None:
    for spec in catalogue.TABLES:
        indexes = {
            i["IndexName"]: i
            for i in table_for(template, spec)["Properties"].get("GlobalSecondaryIndexes", [])
        }
        for index in spec.indexes:
            projection = indexes[index.name]["Projection"]
            if index.projection is None:
                assert projection == {"ProjectionType": "ALL"}
            else:
                assert projection == {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projection)}


def test_national_alert_index_is_sharded_and_keeps_the_alert_without_its_bookkeeping(
    template: Template,
) -> None:
    props = table_for(template, catalogue.ALERTS)["Properties"]
    indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    national = indexes["by-raised-day-shard"]
    assert [k["AttributeName"] for k in national["KeySchema"]] == ["raised_day_shard", "raised_at"]
    kept = set(national["Projection"]["NonKeyAttributes"])
    # The alert as raised (keys are always kept) and nothing of the outcome history or publishing.
    assert kept | {"alert_id", "raised_at"} == set(Alert.model_fields)
    assert not kept & {"outcome_history", "outcome_version", "outcome_note", "published", "publish_pending"}
    pending = indexes["by-publish-pending"]
    assert [k["AttributeName"] for k in pending["KeySchema"]] == ["publish_pending", "raised_at"]
    assert set(pending["Projection"]["NonKeyAttributes"]) == kept
