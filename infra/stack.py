"""The NAS stack of one stage: composes the capability constructs and wires names into the code."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import LOG_RETENTION_CHOICES, StageConfig
from infra.constructs.accounts import AccountHygiene
from infra.constructs.alerting import Alerting
from infra.constructs.analytics import Analytics
from infra.constructs.api import API_STAGE, Api
from infra.constructs.audit import AuditDigests
from infra.constructs.console import Console
from infra.constructs.erasure import Erasure
from infra.constructs.evidence import ReadEvidence
from infra.constructs.identity import Identity
from infra.constructs.ingest import Ingest
from infra.constructs.keys import KEY_TABLE_ITEMS, Keys, Via, grant_via
from infra.constructs.monitoring import Monitoring
from infra.constructs.pipeline import Pipeline
from infra.constructs.retention import RetentionCheck
from infra.constructs.retro_hunt import RetroHunts
from infra.constructs.runtime import LambdaRuntime
from infra.constructs.statistics import DailyStatistics
from infra.constructs.storage import Storage
from infra.constructs.tables import Tables, grant_index_queries, grant_item_updates, grant_items
from infra.constructs.voi import Voi
from infra.nag import acknowledge, arn_in_finding
from nas import catalogue
from nas.adapters.import_files import INCOMING_PREFIX, REJECTS_PREFIX
from nas.console import CONSOLE_PATH

LOG_RETENTION = {
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
}
assert set(LOG_RETENTION) == set(LOG_RETENTION_CHOICES)


class NasStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=config.account, region=config.region),
            description=f"NAS National ANPR Service, stage {config.stage}",
            termination_protection=config.retain_data,
        )
        removal = cdk.RemovalPolicy.RETAIN if config.retain_data else cdk.RemovalPolicy.DESTROY
        log_retention = LOG_RETENTION[config.log_retention_days]

        self.keys = Keys(self, "Keys", removal_policy=removal)
        self.ingest = Ingest(
            self,
            "Ingest",
            key=self.keys.stream,
            shards=config.shards if config.stream_mode == "provisioned" else None,
            warm_throughput_mibps=config.stream_warm_throughput_mibps,
        )
        self.storage = Storage(self, "Storage", key=self.keys.storage, removal_policy=removal)
        self.tables = Tables(self, "Tables", key=self.keys.tables, removal_policy=removal)
        self.identity = Identity(self, "Identity", removal_policy=removal)
        self.analytics = Analytics(
            self,
            "Analytics",
            stage=config.stage,
            reads_bucket=self.storage.reads,
            results_bucket=self.storage.athena_results,
            results_key=self.keys.storage,
            bytes_scanned_cutoff=config.athena_bytes_scanned_cutoff,
        )
        self.runtime = LambdaRuntime(
            self, "Runtime", stage=config.stage, logs_key=self.keys.logs, log_retention=log_retention
        )
        api_function = self._api_function(config)
        self.read_evidence = ReadEvidence(
            self,
            "ReadEvidence",
            api_function=api_function,
            tables=self.tables,
            reads_bucket=self.storage.reads,
            evidence_bucket=self.storage.evidence,
            storage_key=self.keys.storage,
        )
        self.api = Api(
            self,
            "Api",
            handler=api_function,
            user_pool=self.identity.user_pool,
            allowed_cidrs=config.api_allowed_cidrs,
            rate_limit_per_s=config.api_rate_limit_per_s,
            burst_limit=config.api_burst_limit,
            waf_rate_limit_per_5min=config.waf_rate_limit_per_5min,
            logs_key=self.keys.logs,
            log_retention=log_retention,
        )
        self.console = Console(
            self,
            "Console",
            rest_api=self.api.rest_api,
            stage_name=API_STAGE,
            request_validator=self.api.validator,
            app_client=self.identity.app_client,
            tile_url=config.console_tile_url,
            upload_bucket=self.storage.imports,
            access_logs=self.storage.access_logs,
            logs_key=self.keys.logs,
            log_retention=log_retention,
            removal_policy=removal,
        )

        self.alerting = Alerting(self, "Alerting", key=self.keys.alerts, mdt_leas=config.mdt_leas)
        self.pipeline = Pipeline(
            self,
            "Pipeline",
            runtime=self.runtime,
            stream=self.ingest.stream,
            tables=self.tables,
            reads_bucket=self.storage.reads,
            quarantine_bucket=self.storage.quarantine,
            storage_key=self.keys.storage,
            stream_key=self.keys.stream,
            tables_key=self.keys.tables,
            queues_key=self.keys.queues,
            logs_key=self.keys.logs,
            log_retention=log_retention,
            alert_bus=self.alerting.bus,
            analytics=self.analytics,
            match_reserved_concurrency=config.match_concurrency,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            key=self.keys.operations,
            stream=self.ingest.stream,
            match=self.pipeline.match,
            archive=self.pipeline.archive,
            match_service=self.pipeline.match_service,
            archive_service=self.pipeline.archive_service,
            failure_queue=self.pipeline.failures,
            alert_delivery_failures=self.alerting.delivery_failures,
            read_rows_delivery_stream_name=self.pipeline.read_rows.ref,
        )

        self.erasure = Erasure(
            self,
            "Erasure",
            runtime=self.runtime,
            api_function=api_function,
            tables=self.tables,
            reads_bucket=self.storage.reads,
            storage_key=self.keys.storage,
            tables_key=self.keys.tables,
            queues_key=self.keys.queues,
            alarm_topic=self.monitoring.topic,
        )

        self.audit = AuditDigests(
            self,
            "Audit",
            runtime=self.runtime,
            audit_table=self.tables.table(catalogue.AUDIT),
            evidence_bucket=self.storage.evidence,
            storage_key=self.keys.storage,
            tables_key=self.keys.tables,
            retention_days=config.audit_digest_retention_days,
            removal_policy=removal,
            verifiers=[api_function],
            alarm_topic=self.monitoring.topic,
        )

        self.account_hygiene = AccountHygiene(
            self,
            "Accounts",
            runtime=self.runtime,
            user_pool=self.identity.user_pool,
            accounts_table=self.tables.table(catalogue.ACCOUNTS),
            reviews_table=self.tables.table(catalogue.ACCOUNT_REVIEWS),
            audit_table=self.tables.table(catalogue.AUDIT),
            tables_key=self.keys.tables,
            alarm_topic=self.monitoring.topic,
        )
        self.retention = RetentionCheck(
            self,
            "Retention",
            runtime=self.runtime,
            buckets={
                catalogue.Bucket.READS: self.storage.reads,
                catalogue.Bucket.QUARANTINE: self.storage.quarantine,
                catalogue.Bucket.EVIDENCE: self.storage.evidence,
                catalogue.Bucket.IMPORTS: self.storage.imports,
            },
            audit_table=self.tables.table(catalogue.AUDIT),
            storage_key=self.keys.storage,
            tables_key=self.keys.tables,
            # Statements are evidence like the audit digests, and are locked as long.
            lock_days=config.audit_digest_retention_days,
            removal_policy=removal,
            readers=[api_function],
            alarm_topic=self.monitoring.topic,
        )
        self.voi = Voi(
            self,
            "Voi",
            runtime=self.runtime,
            table=self.tables.table(catalogue.VOI),
            imports_bucket=self.storage.imports,
            storage_key=self.keys.storage,
            tables_key=self.keys.tables,
            queues_key=self.keys.queues,
            logs_key=self.keys.logs,
            log_retention=log_retention,
            alert_bus=self.alerting.bus,
            alarm_topic=self.monitoring.topic,
        )
        self.statistics = DailyStatistics(
            self,
            "Statistics",
            runtime=self.runtime,
            analytics=self.analytics,
            quarantine_bucket=self.storage.quarantine,
            evidence_bucket=self.storage.evidence,
            alerts_table=self.tables.table(catalogue.ALERTS),
            audit_table=self.tables.table(catalogue.AUDIT),
            voi_table=self.tables.table(catalogue.VOI),
            storage_key=self.keys.storage,
            tables_key=self.keys.tables,
            readers=[api_function],
            alarm_topic=self.monitoring.topic,
        )

        self.retro_hunts = RetroHunts(
            self,
            "RetroHunts",
            runtime=self.runtime,
            tables=self.tables,
            tables_key=self.keys.tables,
            queues_key=self.keys.queues,
            analytics=self.analytics,
            alert_bus=self.alerting.bus,
            alarm_topic=self.monitoring.topic,
        )
        self.retro_hunts.grant_requests(api_function)

        self._pre_token_trigger()

        cdk.Tags.of(self).add("service", "nas")
        cdk.Tags.of(self).add("stage", config.stage)
        cdk.Tags.of(self).add("data-classification", "official-sensitive")
        self._outputs()

    def _api_function(self, config: StageConfig) -> lambda_.Function:
        audit = self.tables.table(catalogue.AUDIT)
        alerts = self.tables.table(catalogue.ALERTS)
        accounts = self.tables.table(catalogue.ACCOUNTS)
        reviews = self.tables.table(catalogue.ACCOUNT_REVIEWS)
        searches = self.tables.table(catalogue.SEARCHES)
        authorisations = self.tables.table(catalogue.AUTHORISATIONS)
        cameras = self.tables.table(catalogue.CAMERAS)
        voi = self.tables.table(catalogue.VOI)
        imports = self.storage.imports
        user_pool = self.identity.user_pool
        function = self.runtime.function(
            "Api",
            handler="handlers.api.lambda_handler",
            description="NAS REST API (SPEC §6)",
            environment={
                catalogue.AUDIT.env_var: audit.table_name,
                catalogue.ALERTS.env_var: alerts.table_name,
                catalogue.ACCOUNTS.env_var: accounts.table_name,
                catalogue.ACCOUNT_REVIEWS.env_var: reviews.table_name,
                catalogue.VOI.env_var: voi.table_name,
                catalogue.Bucket.IMPORTS.env_var: imports.bucket_name,
                catalogue.USER_POOL_ENV: user_pool.user_pool_id,
                catalogue.SEARCHES.env_var: searches.table_name,
                catalogue.AUTHORISATIONS.env_var: authorisations.table_name,
                catalogue.CAMERAS.env_var: cameras.table_name,
                catalogue.Bucket.READS.env_var: self.storage.reads.bucket_name,
                catalogue.Bucket.ATHENA_RESULTS.env_var: self.storage.athena_results.bucket_name,
                catalogue.SEARCH_ENGINE_ENV: "athena",
                catalogue.ATHENA_WORKGROUP_ENV: self.analytics.workgroup.ref,
                catalogue.GLUE_DATABASE_ENV: self.analytics.database_name,
            },
            reserved_concurrency=config.api_reserved_concurrency,
        )
        # R-AUDIT: append (conditional put) and read the chains; no update or delete (the table's
        # resource policy refuses them to everyone anyway). Digests: granted by `AuditDigests`.
        grant_items(audit, function, "dynamodb:PutItem", "dynamodb:Query")
        grant_index_queries(audit, catalogue.AUDIT, function)
        # Alerts: list by LEA/day, read one, record an outcome (R-HIT); the update may write the
        # outcome attributes and nothing else of an alert.
        grant_items(alerts, function, "dynamodb:GetItem")
        grant_item_updates(
            alerts, function, (catalogue.ALERT_KEY_ATTRIBUTE, *catalogue.ALERT_OUTCOME_ATTRIBUTES)
        )
        # The listing indexes; the sparse index of unpublished alerts is the publish sweeper's.
        grant_index_queries(
            alerts, catalogue.ALERTS, function, excluding=(catalogue.ALERT_PUBLISH_PENDING_INDEX,)
        )
        # R-ACCOUNT: is the caller disabled (every request); an admin disables a leaver: the account
        # item, then Cognito itself (no new tokens) and a global sign-out (no refresh).
        grant_items(
            accounts,
            function,
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        )
        user_pool.grant(function, "cognito-idp:AdminDisableUser", "cognito-idp:AdminUserGlobalSignOut")
        # GET /admin/accounts (users, their groups and sign-ins) and reinstatement; reviews are read,
        # listed soonest due first (by-state) and decided (UpdateItem), never opened or deleted.
        user_pool.grant(
            function,
            "cognito-idp:ListUsers",
            "cognito-idp:ListUsersInGroup",
            "cognito-idp:AdminListGroupsForUser",
            "cognito-idp:AdminListUserAuthEvents",
            "cognito-idp:AdminEnableUser",
        )
        grant_items(reviews, function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        grant_index_queries(reviews, catalogue.ACCOUNT_REVIEWS, function)
        # Searches: a record per search (completion attributes only updated), the caller's list by
        # index; authorisations granted, read, listed, revoked (revocation attributes only); the
        # camera registry scanned for `near` searches; Athena and its stores (`grant_searches`).
        grant_items(searches, function, "dynamodb:PutItem", "dynamodb:GetItem")
        grant_item_updates(
            searches, function, (catalogue.SEARCH_KEY_ATTRIBUTE, *catalogue.SEARCH_COMPLETION_ATTRIBUTES)
        )
        grant_index_queries(searches, catalogue.SEARCHES, function)
        grant_items(authorisations, function, "dynamodb:PutItem", "dynamodb:GetItem")
        grant_item_updates(
            authorisations,
            function,
            (catalogue.AUTHORISATION_KEY_ATTRIBUTE, *catalogue.AUTHORISATION_REVOCATION_ATTRIBUTES),
        )
        grant_index_queries(authorisations, catalogue.AUTHORISATIONS, function)
        grant_items(cameras, function, "dynamodb:Scan")
        self.analytics.grant_searches(function)
        # VOI (R-VOI): entries by key, by VRM and through the indexes; a change is one transaction of
        # puts, updates and deletes over entry, match item and directory shard; list buckets and the
        # state item read; import records created and read.
        grant_items(
            voi,
            function,
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )
        grant_index_queries(voi, catalogue.VOI, function)
        # R-VOI-BULK: the presigned PUT of an upload and GET of a rejects CSV are signed by this role,
        # so it may put under incoming/ and get under rejects/, and nothing else of the bucket.
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["s3:PutObject"],
            resource_arns=[imports.arn_for_objects(f"{INCOMING_PREFIX}*")],
        )
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["s3:GetObject"],
            resource_arns=[imports.arn_for_objects(f"{REJECTS_PREFIX}*")],
        )
        grant_via(self.keys.storage, function, Via.S3, "kms:Decrypt", "kms:GenerateDataKey")
        grant_via(self.keys.tables, function, Via.DYNAMODB, *KEY_TABLE_ITEMS)
        imports_arn = arn_in_finding(imports)
        assert function.role is not None
        for prefix, reason in (
            (
                INCOMING_PREFIX,
                "Presigned uploads go to incoming/<import id>.csv; the API signs PUTs there only.",
            ),
            (
                REJECTS_PREFIX,
                "Presigned downloads of rejects/<import id>.csv; the API signs GETs there only.",
            ),
        ):
            acknowledge(function.role, f"AwsSolutions-IAM5[Resource::{imports_arn}/{prefix}*]", reason)
        return function

    def _pre_token_trigger(self) -> None:
        """R-ROLE in Cognito itself: no token for a user in `admin` and any other group."""
        function = self.runtime.function(
            "PreToken",
            handler="handlers.pre_token.lambda_handler",
            description="NAS Cognito pre-token-generation: refuse admin accounts in other groups",
            environment={},
            memory_size=256,
            timeout_seconds=5,
        )
        self.identity.user_pool.add_trigger(cognito.UserPoolOperation.PRE_TOKEN_GENERATION, function)

    def _outputs(self) -> None:
        outputs = {
            "ApiUrl": self.api.rest_api.url,
            "ConsoleUrl": f"{self.api.rest_api.url}{CONSOLE_PATH}/",
            "UserPoolId": self.identity.user_pool.user_pool_id,
            "AppClientId": self.identity.app_client.user_pool_client_id,
            "ReadStreamName": self.ingest.stream.stream_name,
            "SearchWorkgroup": self.analytics.workgroup.ref,
            "AlertBusName": self.alerting.bus.event_bus_name,
            "ReadRowsDeliveryStream": self.pipeline.read_rows.ref,
            "ConsumerFailureQueueUrl": self.pipeline.failures.queue_url,
            "AlarmTopicArn": self.monitoring.topic.topic_arn,
            # What `nas audit verify --signing-key` and auditors verify digest signatures with.
            "AuditSigningKeyArn": self.audit.signing_key.key_arn,
            # What auditors verify retention statements with (R-RET-367).
            "RetentionSigningKeyArn": self.retention.signing_key.key_arn,
            "VoiImportStateMachineArn": self.voi.state_machine.state_machine_arn,
            "RetroHuntDeadLetterQueueUrl": self.retro_hunts.dead_letters.queue_url,
        }
        outputs.update(
            {f"Bucket{b.name.title().replace('_', '')}": self._bucket_name(b) for b in catalogue.Bucket}
        )
        for name, value in outputs.items():
            cdk.CfnOutput(self, name, value=value)

    def _bucket_name(self, bucket: catalogue.Bucket) -> str:
        by_bucket = {
            catalogue.Bucket.READS: self.storage.reads,
            catalogue.Bucket.QUARANTINE: self.storage.quarantine,
            catalogue.Bucket.EVIDENCE: self.storage.evidence,
            catalogue.Bucket.ATHENA_RESULTS: self.storage.athena_results,
            catalogue.Bucket.IMPORTS: self.storage.imports,
        }
        return by_bucket[bucket].bucket_name
