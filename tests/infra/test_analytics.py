"""Glue `reads` table with partition projection, and the Athena search workgroup."""

from __future__ import annotations

from aws_cdk.assertions import Template

from nas import catalogue
from tests.infra.conftest import one_resource


def test_reads_table_projects_arrival_day_and_vrm_bucket_partitions(template: Template) -> None:
    table = one_resource(template, "AWS::Glue::Table", "AnalyticsReadsTable")["Properties"]["TableInput"]
    params = table["Parameters"]
    assert table["Name"] == "reads"
    assert table["PartitionKeys"] == [
        {"Name": "arrival", "Type": "string"},
        {"Name": "day", "Type": "string"},
        {"Name": "vrm_bucket", "Type": "int"},
    ]
    assert params["projection.enabled"] == "true"
    assert (params["projection.arrival.type"], params["projection.arrival.values"]) == ("enum", "live,late")
    assert params["projection.day.type"] == "date"
    assert params["projection.day.format"] == "yyyy-MM-dd"
    # R-RET-365 in the partitions listed: nothing older than 366 days is ever projected.
    assert params["projection.day.range"] == "NOW-366DAYS,NOW+1DAYS"
    assert (params["projection.vrm_bucket.type"], params["projection.vrm_bucket.range"]) == (
        "integer",
        "0,63",
    )
    assert "reads/arrival=${arrival}/day=${day}/vrm_bucket=${vrm_bucket}/" in str(
        params["storage.location.template"]
    )
    descriptor = table["StorageDescriptor"]
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == list(catalogue.READ_ROW_COLUMNS)
    assert ("vrm_canonical", "string") in catalogue.READ_ROW_COLUMNS


def test_reads_table_has_no_image_bytes_column(template: Template) -> None:
    table = one_resource(template, "AWS::Glue::Table", "AnalyticsReadsTable")["Properties"]["TableInput"]
    types = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert "binary" not in types.values()
    assert {"plate_image_key", "plate_image_offset", "plate_image_length"} <= set(types)


def test_workgroup_enforces_encrypted_results_and_a_scan_cutoff(template: Template) -> None:
    config = one_resource(template, "AWS::Athena::WorkGroup", "AnalyticsSearchWorkgroup")["Properties"][
        "WorkGroupConfiguration"
    ]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 200 * 1024**3
    assert config["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    result = config["ResultConfiguration"]
    assert result["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert result["EncryptionConfiguration"]["KmsKey"]["Fn::GetAtt"][0].startswith("KeysStorage")
    assert "StorageAthenaResults" in str(result["OutputLocation"])
