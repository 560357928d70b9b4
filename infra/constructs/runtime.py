"""The runtime layer (third-party packages plus the `nas` package) and the one way this app makes a
Python Lambda function: arm64, the layer, JSON logs to an encrypted group of its own that only it
may write, X-Ray tracing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import LAMBDA_PYTHON_VERSION, PipLayerBundling, source_hash
from infra.nag import acknowledge
from nas import catalogue

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = PROJECT_ROOT / "lambdas"
RUNTIME_PACKAGE_DIR = LAMBDAS_DIR / "nas"
LAYER_DIR = PROJECT_ROOT / "layers" / "runtime"
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_12
assert PYTHON_RUNTIME.name == f"python{LAMBDA_PYTHON_VERSION}", "layer and functions must share a Python"


class LambdaRuntime(Construct):
    """Shared by every function of the stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self._stage = stage
        self._logs_key = logs_key
        self._log_retention = log_retention
        requirements = LAYER_DIR / "requirements.txt"
        self.layer = lambda_.LayerVersion(
            self,
            "RuntimeLayer",
            description="NAS runtime: powertools, pydantic and the nas package",
            compatible_runtimes=[PYTHON_RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            code=lambda_.Code.from_asset(
                str(LAYER_DIR),
                asset_hash_type=cdk.AssetHashType.CUSTOM,
                asset_hash=source_hash(requirements, RUNTIME_PACKAGE_DIR),
                bundling=cdk.BundlingOptions(
                    # Never pulled: local bundling always succeeds or raises (no Docker here).
                    image=cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
                    # jsii hands try_bundle one options struct; its Protocol stub spells keywords.
                    local=PipLayerBundling(requirements, RUNTIME_PACKAGE_DIR),  # type: ignore[arg-type]
                ),
            ),
        )
        # Only the thin handlers: everything they import is in the layer.
        self._handler_code = lambda_.Code.from_asset(
            str(LAMBDAS_DIR), exclude=["nas", "*.egg-info", "**/__pycache__"]
        )

    @staticmethod
    def service_name(construct_id: str) -> str:
        """The function's powertools service: its logs' `service` key and its metrics' dimension."""
        return f"nas-{construct_id.lower()}"

    def function(
        self,
        construct_id: str,
        *,
        handler: str,
        description: str,
        environment: dict[str, str],
        memory_size: int = 512,
        timeout_seconds: int = 29,  # API Gateway gives up at 29 s
        reserved_concurrency: int | None = None,
        extra_layers: Sequence[lambda_.ILayerVersion] = (),
    ) -> lambda_.Function:
        scope = Construct(self, construct_id)
        log_group = logs.LogGroup(
            scope,
            "Logs",
            encryption_key=self._logs_key,
            retention=self._log_retention,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # The function's own role, rather than CDK's default with the AWS-managed basic execution
        # policy, which lets a function write to every log group of the account. Named as CDK names
        # a function's own role, so role and policy keep their logical ids' prefix
        # (`Runtime<Name>FunctionServiceRole…`).
        role = iam.Role(
            scope,
            "FunctionServiceRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"NAS {construct_id} function: its own log group, tracing, its grants",
        )
        # The group exists (created above), so no logs:CreateLogGroup; the Lambda service writes
        # the function's output through this role into streams of this group only.
        log_group.grant(role, "logs:CreateLogStream", "logs:PutLogEvents")
        function = lambda_.Function(
            scope,
            "Function",
            description=description,
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=self._handler_code,
            layers=[self.layer, *extra_layers],
            memory_size=memory_size,
            timeout=cdk.Duration.seconds(timeout_seconds),
            reserved_concurrent_executions=reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                catalogue.STAGE_ENV: self._stage,
                catalogue.SERVICE_ENV: self.service_name(construct_id),
                "POWERTOOLS_METRICS_NAMESPACE": catalogue.METRICS_NAMESPACE,
                **environment,
            },
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to Python 3.12, the interpreter the test suite and local mode run on, so what is"
            " tested is what runs; raised together with the test interpreter (docs/decisions.md).",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.",
        )
        return function
