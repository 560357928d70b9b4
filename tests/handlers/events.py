"""API Gateway REST API (v1) Lambda proxy events and a Lambda context, shaped as AWS delivers them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ACCOUNT_ID = "123456789012"
API_ID = "a1b2c3d4e5"
STAGE = "dev"
REGION = "eu-west-2"
SOURCE_IP = "203.0.113.10"


def rest_proxy_event(
    method: str,
    path: str,
    *,
    body: str | Mapping[str, Any] | Sequence[Any] | None = None,
    query: Mapping[str, str | Sequence[str]] | None = None,
    claims: Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    resource: str | None = None,
) -> dict[str, Any]:
    """A REST API proxy event for `method path`. A non-string `body` is sent as JSON. `query` values may
    be lists (repeated parameters). `claims` are what the Cognito user-pool authorizer puts in
    `requestContext.authorizer.claims`: every value a string, as API Gateway passes them."""
    request_id = str(uuid.uuid4())
    host = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    headers = {
        "Accept": "application/json",
        "CloudFront-Forwarded-Proto": "https",
        "CloudFront-Viewer-Country": "GB",
        "Host": host,
        "User-Agent": "nas-tests/1.0",
        "Via": "2.0 0123456789abcdef.cloudfront.net (CloudFront)",
        "X-Amz-Cf-Id": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP==",
        "X-Amzn-Trace-Id": "Root=1-65f1a2b3-0123456789abcdef01234567",
        "X-Forwarded-For": f"{SOURCE_IP}, 198.51.100.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if claims is not None:
        headers["Authorization"] = "Bearer eyJraWQiOiJ0ZXN0In0.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
        headers["Content-Type"] = "application/json"

    multi_query = {
        name: [value] if isinstance(value, str) else list(value) for name, value in (query or {}).items()
    }
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": resource or path,
            "httpMethod": method,
            "extendedRequestId": "ExtReqIdAbC=",
            "requestTime": "30/May/2024:12:00:00 +0000",
            "path": f"/{STAGE}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": 1717070400000,
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": SOURCE_IP,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": "nas-tests/1.0",
                "user": None,
            },
            "authorizer": {"claims": dict(claims)} if claims is not None else None,
            "domainName": host,
            "apiId": API_ID,
        },
        "body": body,
        "isBase64Encoded": False,
    }


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes of the Lambda context object that powertools reads."""

    function_name: str = "nas-dev-api"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:nas-dev-api"
    aws_request_id: str = "7f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    log_group_name: str = "/aws/lambda/nas-dev-api"
    log_stream_name: str = "2024/05/30/[$LATEST]0123456789abcdef0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
