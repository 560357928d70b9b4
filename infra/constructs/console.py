"""The console (R-NET, R-UK): its built assets in an S3 bucket in the stage's region, deployed by
CDK, and served at `/console/` by the stage's own REST API through an S3 integration, so the same
WAF allow-list covers it and no CloudFront or third-party host is involved. The asset methods need
no token (the app signs in first, against the user pool); every data call the app then makes goes
through the Cognito-authorised routes like any other client's. Each asset carries the console's
security headers, the Content-Security-Policy among them. The VOI screen uploads a list file
straight to the imports bucket through the presigned PUT the API hands out (R-VOI-BULK): the policy
allows that bucket's regional origin, and the bucket's CORS rule allows PUT from the API's origin
only."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.constructs.storage import INCOMPLETE_UPLOAD_DAYS, NONCURRENT_VERSION_DAYS
from infra.nag import acknowledge, arn_in_finding
from nas import console

CONSOLE_DIST = Path(__file__).resolve().parents[2] / "console" / "dist"
ASSET_PARAMETER = "asset"
NOT_FOUND = '{"error": {"code": "not-found", "message": "no such console asset"}}'
UNAVAILABLE = (
    '{"error": {"code": "store-unavailable", "message": "the console could not be read; try again"}}'
)


def static_value(value: str) -> str:
    """An API Gateway static mapping value: the text between one pair of single quotes. Quotes
    inside (the CSP's 'self') are kept as they are; only the outer pair delimits."""
    return f"'{value}'"


class Console(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigw.RestApi,
        stage_name: str,
        request_validator: apigw.IRequestValidator,
        app_client: cognito.IUserPoolClient,
        tile_url: str,
        upload_bucket: s3.Bucket,
        access_logs: s3.IBucket,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
        dist: Path = CONSOLE_DIST,
    ) -> None:
        super().__init__(scope, construct_id)
        built_index = dist / console.INDEX_FILE
        if not built_index.is_file():
            raise FileNotFoundError(f"{built_index} is missing: build the console first (make console)")

        # The console's own code and settings, no personal data: S3-managed keys, which API
        # Gateway's S3 integration reads with no KMS grant or per-request KMS call
        # (docs/decisions.md).
        self.bucket = s3.Bucket(
            self,
            "Assets",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{console.CONSOLE_PATH}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="remove-replaced-assets",
                    noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(INCOMPLETE_UPLOAD_DAYS),
                ),
                s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
            ],
            removal_policy=removal_policy,
            auto_delete_objects=False,
        )
        self.deployment = self._deployment(
            dist,
            built_index.read_text(encoding="utf-8"),
            rest_api=rest_api,
            stage_name=stage_name,
            app_client=app_client,
            tile_url=tile_url,
            logs_key=logs_key,
            log_retention=log_retention,
        )
        stack = cdk.Stack.of(self)
        self.upload_origin = console.bucket_origin(upload_bucket.bucket_name, stack.region)
        # The page is served by the API, so its origin is the API's; only it may PUT to the bucket
        # from a browser (the presigned signature still decides what each PUT may write).
        self.api_origin = f"https://{rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"
        upload_bucket.add_cors_rule(
            allowed_methods=[s3.HttpMethods.PUT],
            allowed_origins=[self.api_origin],
            allowed_headers=["content-type"],
            max_age=600,
        )
        self.methods = self._methods(rest_api, request_validator, tile_url, self.upload_origin)

    def _deployment(
        self,
        dist: Path,
        built_index: str,
        *,
        rest_api: apigw.RestApi,
        stage_name: str,
        app_client: cognito.IUserPoolClient,
        tile_url: str,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> s3deploy.BucketDeployment:
        """CDK's bucket deployment: a Lambda of CDK's own copies the zipped assets (no Docker: the
        directory is zipped at synth, the handler and its AWS CLI layer ship inside aws-cdk-lib),
        with a role and log group of this stack, as every function here has."""
        log_group = logs.LogGroup(
            self,
            "DeployLogs",
            encryption_key=logs_key,
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            "DeployRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies the built console into its bucket at deployment",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        config = console.config_document(
            api_url=rest_api.url,
            cognito_endpoint=console.COGNITO_ENDPOINT,
            app_client_id=app_client.user_pool_client_id,
            tile_url=tile_url,
        )
        deployment = s3deploy.BucketDeployment(
            self,
            "Deploy",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(dist), exclude=[console.INDEX_FILE, console.CONFIG_FILE]),
                s3deploy.Source.data(
                    console.INDEX_FILE,
                    console.index_html(built_index, f"/{stage_name}/{console.CONSOLE_PATH}/"),
                ),
                s3deploy.Source.json_data(console.CONFIG_FILE, config),
            ],
            prune=True,
            role=role,
            log_group=log_group,
            memory_limit=256,
        )
        stack = cdk.Stack.of(self)
        staged = (
            f"arn:<AWS::Partition>:s3:::cdk-{cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER}"
            f"-assets-<AWS::AccountId>-{stack.region}/*"
        )
        for finding, reason in {
            f"Resource::{arn_in_finding(self.bucket)}/*": "The deployment syncs the whole console bucket"
            " (it writes every asset and prunes removed ones); the bucket holds nothing else.",
            f"Resource::{staged}": "CDK's bucket deployment reads its staged asset zip from the bootstrap"
            " asset bucket, whose object keys are content hashes.",
            "Action::s3:GetObject*": "CDK's grant for reading the staged asset and the console bucket.",
            "Action::s3:GetBucket*": "CDK's grant for reading the staged asset and the console bucket.",
            "Action::s3:List*": "CDK's bucket deployment lists the console bucket to prune removed assets.",
            "Action::s3:DeleteObject*": "CDK's bucket deployment deletes assets a new build no longer has.",
            "Action::s3:Abort*": "CDK's bucket deployment may abort its own multipart uploads.",
        }.items():
            acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):  # CDK's singleton handler
                acknowledge(
                    child,
                    "AwsSolutions-L1",
                    "CDK's bucket deployment handler pins its own Python runtime and AWS CLI layer;"
                    " it runs only during CloudFormation deployments and never handles personal data.",
                )
        return deployment

    def _methods(
        self, rest_api: apigw.RestApi, validator: apigw.IRequestValidator, tile_url: str, upload_origin: str
    ) -> list[apigw.Method]:
        reader = iam.Role(
            self,
            "ReadRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="Lets the API's /console/ methods read the console's assets",
        )
        # GetObject only: without ListBucket a missing key is a 403 from S3, answered as a 404.
        reader.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[self.bucket.arn_for_objects("*")])
        )
        acknowledge(
            reader,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(self.bucket)}/*]",
            "The /console/{asset} method reads whichever asset is asked for; the bucket holds only the"
            " console's own built files.",
        )
        headers = console.security_headers(tile_url, upload_origin=upload_origin)
        ok_parameters = {
            "method.response.header.Content-Type": "integration.response.header.Content-Type",
            **{f"method.response.header.{name}": static_value(value) for name, value in headers.items()},
        }
        error_parameters = {"method.response.header.Content-Type": static_value("application/json")}

        def integration(key: str, request_parameters: dict[str, str]) -> apigw.AwsIntegration:
            return apigw.AwsIntegration(
                service="s3",
                integration_http_method="GET",
                path=f"{self.bucket.bucket_name}/{key}",
                options=apigw.IntegrationOptions(
                    credentials_role=reader,
                    request_parameters=request_parameters,
                    integration_responses=[
                        apigw.IntegrationResponse(status_code="200", response_parameters=ok_parameters),
                        apigw.IntegrationResponse(
                            status_code="404",
                            selection_pattern=r"4\d{2}",
                            response_parameters=error_parameters,
                            response_templates={"application/json": NOT_FOUND},
                        ),
                        apigw.IntegrationResponse(
                            status_code="503",
                            selection_pattern=r"5\d{2}",
                            response_parameters=error_parameters,
                            response_templates={"application/json": UNAVAILABLE},
                        ),
                    ],
                ),
            )

        method_responses = [
            apigw.MethodResponse(status_code="200", response_parameters=dict.fromkeys(ok_parameters, True)),
            apigw.MethodResponse(
                status_code="404", response_parameters=dict.fromkeys(error_parameters, True)
            ),
            apigw.MethodResponse(
                status_code="503", response_parameters=dict.fromkeys(error_parameters, True)
            ),
        ]
        root = rest_api.root.add_resource(console.CONSOLE_PATH)
        # `/console` and `/console/` are one resource to API Gateway: both get the page.
        index = root.add_method(
            "GET",
            integration(console.INDEX_FILE, {}),
            authorization_type=apigw.AuthorizationType.NONE,
            request_validator=validator,
            method_responses=method_responses,
        )
        asset = root.add_resource(f"{{{ASSET_PARAMETER}}}").add_method(
            "GET",
            integration(
                f"{{{ASSET_PARAMETER}}}",
                {f"integration.request.path.{ASSET_PARAMETER}": f"method.request.path.{ASSET_PARAMETER}"},
            ),
            authorization_type=apigw.AuthorizationType.NONE,
            request_validator=validator,
            request_parameters={f"method.request.path.{ASSET_PARAMETER}": True},
            method_responses=method_responses,
        )
        for method in (index, asset):
            for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                acknowledge(
                    method,
                    rule,
                    "The console's static assets (the app's code, no data) load before sign-in; they are"
                    " behind the WAF network allow-list, and every data call the app makes is authorised.",
                )
        return [index, asset]
