"""The REST API: WAF with the network allow-list (R-NET), Cognito authorizer on every method but
`GET /health`, request validation, throttling and access logs, in front of the api Lambda."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.nag import acknowledge

API_STAGE = "v1"
# The Cognito authorizer keeps its verdict on a token this long. It checks the token alone
# (signature, issuer, audience, expiry), never the account: a disabled account is refused by the api
# function's own check on every request. So the cache can only keep an expired token working this
# much longer, within the minute R-ACCOUNT allows, and a client paging through results is not
# re-verified on every call.
AUTHORIZER_CACHE_TTL = cdk.Duration.seconds(60)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        user_pool: cognito.IUserPool,
        allowed_cidrs: Sequence[str],
        rate_limit_per_s: int,
        burst_limit: int,
        waf_rate_limit_per_5min: int,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            encryption_key=logs_key,
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="NAS API (SPEC §6)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=API_STAGE,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would write request bodies (VRMs, reasons) to logs
                tracing_enabled=True,
                throttling_rate_limit=rate_limit_per_s,
                throttling_burst_limit=burst_limit,
                metrics_enabled=True,
            ),
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway logging role needs the AWS-managed push-to-CloudWatch policy.",
        )
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[user_pool], results_cache_ttl=AUTHORIZER_CACHE_TTL
        )
        validator = self.rest_api.add_request_validator(
            "ValidateRequests", validate_request_body=True, validate_request_parameters=True
        )
        integration = apigw.LambdaIntegration(handler, proxy=True)

        health = self.rest_api.root.add_resource("health").add_method(
            "GET", integration, request_validator=validator
        )
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                health,
                rule,
                'GET /health is a liveness probe returning only {"status": "ok"}: no data, no identity,'
                " and still behind the WAF network allow-list.",
            )
        # Every other route goes to the api Lambda, and only with a valid ID token; the function's
        # router enforces roles per route and answers 404 for routes it does not have.
        self.rest_api.root.add_resource("{proxy+}").add_method(
            "ANY",
            integration,
            authorizer=self.authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
            request_validator=validator,
        )

        self.web_acl = self._web_acl(allowed_cidrs, waf_rate_limit_per_5min)
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )

    def _web_acl(self, allowed_cidrs: Sequence[str], rate_limit: int) -> wafv2.CfnWebACL:
        approved = wafv2.CfnIPSet(
            self,
            "ApprovedNetworks",
            description="R-NET: networks allowed to call the NAS API",
            scope="REGIONAL",
            ip_address_version="IPV4",
            addresses=list(allowed_cidrs),
        )

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        def managed(priority: int, name: str) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name
                    )
                ),
                visibility_config=visibility(name),
            )

        return wafv2.CfnWebACL(
            self,
            "WebAcl",
            description="NAS API: approved networks only, managed protections, per-IP rate limit",
            scope="REGIONAL",
            # Anything not explicitly allowed by the last rule is blocked (R-NET).
            default_action=wafv2.CfnWebACL.DefaultActionProperty(block={}),
            visibility_config=visibility("nas-api"),
            rules=[
                managed(0, "AWSManagedRulesCommonRuleSet"),
                managed(1, "AWSManagedRulesKnownBadInputsRuleSet"),
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-limit-per-ip",
                    priority=2,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=visibility("rate-limit-per-ip"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="allow-approved-networks",
                    priority=3,
                    action=wafv2.CfnWebACL.RuleActionProperty(allow={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(
                            arn=approved.attr_arn
                        )
                    ),
                    visibility_config=visibility("allow-approved-networks"),
                ),
            ],
        )
