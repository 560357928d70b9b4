"""The read-row contract between archive, Firehose and Athena: the Glue columns (the schema Firehose
converts with and Athena reads), local mode's Parquet schema and `catalogue.READ_ROW_COLUMNS` are one
list, and every field archive sends is a column or a partition key, since Firehose's conversion drops
fields the Glue table lacks without a word. Derived from the catalogue: adding a column keeps these
true as long as every part follows it."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
from aws_cdk.assertions import Template

from nas import catalogue
from nas.adapters.cameras import InMemoryCameraRegistry
from nas.adapters.firehose import InMemoryRowSink
from nas.adapters.objects import InMemoryObjectStore
from nas.local import demo
from nas.local.sink import READ_ROW_SCHEMA
from nas.pipeline.archive import ArchiveService
from nas.pipeline.records import StreamRecord
from nas.simulator import ReadGenerator
from tests.infra.conftest import one_resource

# The Parquet type Firehose writes for each Glue type (and local mode's sink writes alike).
PARQUET_OF_GLUE = {
    "string": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "double": pa.float64(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
}


def glue_table(template: Template) -> dict[str, Any]:
    table: dict[str, Any] = one_resource(template, "AWS::Glue::Table", "AnalyticsReadsTable")["Properties"][
        "TableInput"
    ]
    return table


def rows_archive_sends(n: int = 200) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    generator = ReadGenerator(demo.CAMERAS, [], random.Random(8), lambda: now)
    rows = InMemoryRowSink()
    ArchiveService(
        cameras=InMemoryCameraRegistry(demo.CAMERAS),
        objects=InMemoryObjectStore(),
        rows=rows,
        reads_bucket="reads",
        quarantine_bucket="quarantine",
    ).process(
        [
            StreamRecord(str(i), r.partition_key, "shardId-000000000000", r.data, now)
            for i, r in enumerate(generator.next_record() for _ in range(n))
        ],
        now=now,
    )
    return [orjson.loads(row) for row in rows.rows]


def test_glue_columns_the_local_parquet_schema_and_the_catalogue_are_one_list(template: Template) -> None:
    glue = [(c["Name"], c["Type"]) for c in glue_table(template)["StorageDescriptor"]["Columns"]]
    assert glue == list(catalogue.READ_ROW_COLUMNS)
    local = [(field.name, field.type) for field in READ_ROW_SCHEMA]
    assert local == [(name, PARQUET_OF_GLUE[type_]) for name, type_ in catalogue.READ_ROW_COLUMNS]


def test_every_field_archive_sends_is_a_column_or_a_partition_key(template: Template) -> None:
    table = glue_table(template)
    columns = {c["Name"] for c in table["StorageDescriptor"]["Columns"]}
    partitions = {p["Name"] for p in table["PartitionKeys"]}
    rows = rows_archive_sends()
    sent = {key for row in rows for key in row}
    assert sent - columns - partitions == set()  # nothing Firehose would drop without a word
    assert columns <= sent  # and every column is sent (None where absent)
    assert all(set(row) == sent for row in rows)


def test_partition_keys_firehose_extracts_are_fields_archive_sends(template: Template) -> None:
    stream = one_resource(template, "AWS::KinesisFirehose::DeliveryStream", "PipelineReadRows")["Properties"]
    processors = stream["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"]["Processors"]
    [extraction] = [p for p in processors if p["Type"] == "MetadataExtraction"]
    query = next(
        p["ParameterValue"]
        for p in extraction["Parameters"]
        if p["ParameterName"] == "MetadataExtractionQuery"
    )
    partitions = {p["Name"] for p in glue_table(template)["PartitionKeys"]}
    sent = {key for row in rows_archive_sends(20) for key in row}
    for partition in partitions:
        assert f".{partition}" in query
        assert partition in sent


def test_the_glue_table_is_updated_before_the_archive_function(template: Template) -> None:
    archive = one_resource(template, "AWS::Lambda::Function", "RuntimeArchiveFunction")
    glue = [
        lid for lid in template.find_resources("AWS::Glue::Table") if lid.startswith("AnalyticsReadsTable")
    ]
    assert set(glue) <= set(archive.get("DependsOn", []))
