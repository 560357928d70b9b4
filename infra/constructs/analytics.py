"""Athena over the stored reads: the Glue `reads` table (Parquet, partition projection of the layout
in `nas.domain.layout`: arrival, day, VRM bucket; no crawler) and a workgroup whose settings callers
cannot override."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from nas import catalogue
from nas.domain.layout import VRM_BUCKETS, Arrival
from nas.domain.policy import SEARCH_RETENTION

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
# Projection stops one day past the 365-day search retention: partitions older than that are never
# even listed (R-RET-365 holds in the query plan, not only in the WHERE clause), and one day ahead
# covers the 5-minute clock allowance across midnight. Late reads' days (the day stored) are never
# earlier than their capture days, so the same range holds for both arrivals.
PROJECTION_RANGE = f"NOW-{SEARCH_RETENTION.days + 1}DAYS,NOW+1DAYS"
ARRIVAL, DAY, BUCKET = (
    catalogue.READ_ARRIVAL_PARTITION,
    catalogue.READ_DAY_PARTITION,
    catalogue.READ_BUCKET_PARTITION,
)
PROJECTION = {
    "projection.enabled": "true",
    f"projection.{ARRIVAL}.type": "enum",
    f"projection.{ARRIVAL}.values": ",".join(a.value for a in Arrival),
    f"projection.{DAY}.type": "date",
    f"projection.{DAY}.format": "yyyy-MM-dd",
    f"projection.{DAY}.range": PROJECTION_RANGE,
    f"projection.{DAY}.interval": "1",
    f"projection.{DAY}.interval.unit": "DAYS",
    f"projection.{BUCKET}.type": "integer",
    f"projection.{BUCKET}.range": f"0,{VRM_BUCKETS - 1}",
}
PARTITION_PATH = f"{ARRIVAL}=${{{ARRIVAL}}}/{DAY}=${{{DAY}}}/{BUCKET}=${{{BUCKET}}}/"


class Analytics(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        reads_bucket: s3.IBucket,
        results_bucket: s3.IBucket,
        results_key: kms.IKey,
        bytes_scanned_cutoff: int,
    ) -> None:
        super().__init__(scope, construct_id)
        account = cdk.Stack.of(self).account
        self.database_name = f"nas_{stage}"
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="NAS stored reads"
            ),
        )
        reads_location = f"s3://{reads_bucket.bucket_name}/{catalogue.READS_PREFIX}"
        self.reads_table = glue.CfnTable(
            self,
            "ReadsTable",
            catalog_id=account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=catalogue.GLUE_READS_TABLE,
                description="Camera reads (nas.read.v1 without images), one row per read",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "parquet",
                    "EXTERNAL": "TRUE",
                    **PROJECTION,
                    "storage.location.template": f"{reads_location}{PARTITION_PATH}",
                },
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name=name, type=type_)
                    for name, type_ in catalogue.READ_PARTITION_KEYS
                ],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=reads_location,
                    input_format=PARQUET_INPUT,
                    output_format=PARQUET_OUTPUT,
                    serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=PARQUET_SERDE),
                    columns=[
                        glue.CfnTable.ColumnProperty(name=name, type=type_)
                        for name, type_ in catalogue.READ_ROW_COLUMNS
                    ],
                ),
            ),
        )
        self.reads_table.node.add_dependency(self.database)

        self.workgroup = athena.CfnWorkGroup(
            self,
            "SearchWorkgroup",
            name=f"nas-{stage}-search",
            description="NAS searches: enforced settings, encrypted results, per-query scan cutoff",
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{results_bucket.bucket_name}/results/",
                    expected_bucket_owner=account,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=results_key.key_arn
                    ),
                    acl_configuration=athena.CfnWorkGroup.AclConfigurationProperty(
                        s3_acl_option="BUCKET_OWNER_FULL_CONTROL"
                    ),
                ),
            ),
        )
