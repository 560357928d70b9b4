"""Athena over the stored reads: the Glue `reads` table (Parquet, partition projection of the layout
in `nas.domain.layout`: arrival, day, VRM bucket; no crawler) and a workgroup whose settings callers
cannot override."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.keys import Via, grant_via
from infra.nag import acknowledge, arn_in_finding
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
        self._reads_bucket = reads_bucket
        self._results_bucket = results_bucket
        self._key = results_key
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

    def grant_searches(self, grantee: iam.IGrantable) -> None:
        """What running searches needs (SPEC §4, SPEC §6), and nothing more: start, watch and page
        queries in the search workgroup; read the `reads` table's definition; read the Parquet under
        `reads/`; write and read Athena's output under `results/` and the kept rows under `searches/`
        of the results bucket; the storage key only through S3, which decrypts the reads and
        encrypts the results with it."""
        stack = cdk.Stack.of(self)
        workgroup_arn = stack.format_arn(
            service="athena", resource="workgroup", resource_name=self.workgroup.ref
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"],
            resource_arns=[workgroup_arn],
        )
        glue_arn = f"arn:{stack.partition}:glue:{stack.region}:{stack.account}"
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartition", "glue:GetPartitions"],
            resource_arns=[
                f"{glue_arn}:catalog",
                f"{glue_arn}:database/{self.database_name}",
                f"{glue_arn}:table/{self.database_name}/{catalogue.GLUE_READS_TABLE}",
            ],
        )
        reads, results = self._reads_bucket, self._results_bucket
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=[reads.arn_for_objects(f"{catalogue.READS_PREFIX}*")],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket"],
            resource_arns=[reads.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{catalogue.READS_PREFIX}*"]}},
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetBucketLocation"],
            resource_arns=[reads.bucket_arn, results.bucket_arn],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket", "s3:ListBucketMultipartUploads"],
            resource_arns=[results.bucket_arn],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "s3:GetObject",
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            resource_arns=[
                results.arn_for_objects(f"{catalogue.ATHENA_OUTPUT_PREFIX}*"),
                results.arn_for_objects(f"{catalogue.SEARCH_RESULTS_PREFIX}*"),
            ],
        )
        grant_via(self._key, grantee, Via.S3, "kms:Decrypt", "kms:GenerateDataKey")
        role = grantee.grant_principal
        if isinstance(role, iam.Role):
            reads_arn, results_arn = arn_in_finding(reads), arn_in_finding(results)
            for resource, reason in {
                f"{reads_arn}/{catalogue.READS_PREFIX}*": "Searches read the Parquet files Firehose names"
                " itself; limited to the reads/ prefix.",
                f"{results_arn}/{catalogue.ATHENA_OUTPUT_PREFIX}*": "Athena writes query output under"
                " generated names as the caller; limited to the results/ prefix.",
                f"{results_arn}/{catalogue.SEARCH_RESULTS_PREFIX}*": "Kept search rows, one object per"
                " search id; limited to the searches/ prefix (expired after a day).",
            }.items():
                acknowledge(role, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
