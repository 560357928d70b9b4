"""The REST API: WAF with the network allow-list (R-NET) and its request log, Cognito authorizer on
every method but `GET /health`, request validation, throttling and access logs naming the caller, in
front of the api Lambda."""

from __future__ import annotations

import json
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.nag import acknowledge

BINARY_MEDIA_TYPES = ("image/jpeg",)

API_STAGE = "v1"
# WAF delivers only to log groups whose name starts with this.
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"
# Request headers WAF logs with their value replaced: the Authorization header is the caller's bearer
# ID token, which anyone reading the logs could otherwise replay until it expires.
WAF_REDACTED_HEADERS = ("authorization",)
# The Cognito authorizer keeps its verdict on a token this long. It checks the token alone
# (signature, issuer, audience, expiry), never the account: a disabled account is refused by the api
# function's own check on every request. So the cache can only keep an expired token working this
# much longer, within the minute R-ACCOUNT allows, and a client paging through results is not
# re-verified on every call.
AUTHORIZER_CACHE_TTL = cdk.Duration.seconds(60)
# API Gateway's standard fields (request id, source IP, time, method, resource, status, protocol,
# response length) plus the caller as the Cognito authorizer saw them, so a request refused before
# the function once its token was accepted (a body or parameter the validator refuses) is
# attributable too, and why API Gateway refused it (`errorType`: UNAUTHORIZED, THROTTLED,
# BAD_REQUEST_BODY…). A claim whose name has a colon is read with the bracket form; `sub` is the
# user's immutable id, read with the documented dotted form.
CALLER_LOG_FIELDS = {
    "username": "$context.authorizer.claims['cognito:username']",
    "sub": apigw.AccessLogField.context_authorizer_claims("sub"),
    "errorType": "$context.error.responseType",
}


def access_log_format() -> apigw.AccessLogFormat:
    standard = apigw.AccessLogFormat.json_with_standard_fields(
        caller=True,
        http_method=True,
        ip=True,
        protocol=True,
        request_time=True,
        resource_path=True,
        response_length=True,
        status=True,
        user=True,
    )
    fields = json.loads(standard.to_string())
    return apigw.AccessLogFormat.custom(json.dumps({**fields, **CALLER_LOG_FIELDS}, separators=(",", ":")))


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
            # Read images (GET /reads/{id}/images/{kind}) come back as JPEG bytes to a client sending
            # Accept: image/jpeg; the function answers them base64-encoded.
            binary_media_types=list(BINARY_MEDIA_TYPES),
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=API_STAGE,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=access_log_format(),
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
        self.validator = validator = self.rest_api.add_request_validator(
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
        self.waf_logs = self._waf_logging(logs_key, log_retention)

    def _waf_logging(self, logs_key: kms.IKey, log_retention: logs.RetentionDays) -> logs.LogGroup:
        """Every request WAF sees, allowed or blocked (R-NET refusals never reach API Gateway's access
        log), to an encrypted group of this stack, with the bearer token redacted."""
        stack = cdk.Stack.of(self)
        # The stack id's unique part: a retained group of a deleted stack never blocks a new one.
        stack_instance = cdk.Fn.select(2, cdk.Fn.split("/", stack.stack_id))
        group = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=f"{WAF_LOG_GROUP_PREFIX}{stack.stack_name}-{stack_instance}",
            encryption_key=logs_key,
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # WAF writes through the CloudWatch Logs delivery service, which a log group's account must
        # allow (this resource policy), for this account's deliveries only.
        delivery = logs.ResourcePolicy(
            self,
            "WafLogDelivery",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[group.log_group_arn],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"
                        },
                    },
                )
            ],
        )
        logging = wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            # WAF takes the group's ARN without the `:*` that CloudFormation's Arn attribute ends in.
            log_destination_configs=[
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=group.log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            resource_arn=self.web_acl.attr_arn,
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": name})
                for name in WAF_REDACTED_HEADERS
            ],
        )
        logging.node.add_dependency(delivery)
        return group

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
