"""The console in AWS: assets in a bucket of the stage's region, served at /console/ by the stage's
own REST API (so behind its WAF) through an S3 integration with the console's security headers, and
deployed by CDK with the stage's runtime settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.config import StageConfig
from infra.stack import NasStack
from nas import console
from tests.infra.conftest import TEST_CIDR, granted, one_resource, render, resources, synth_stack

TILES = "https://tiles.example.org/{z}/{x}/{y}.png"


def console_methods(template: Template) -> list[dict[str, Any]]:
    return [
        m["Properties"]
        for m in resources(template, "AWS::ApiGateway::Method").values()
        if m["Properties"].get("Integration", {}).get("Type") == "AWS"
    ]


def test_console_bucket_blocks_public_access_logs_access_and_uses_s3_managed_keys(template: Template) -> None:
    props = one_resource(template, "AWS::S3::Bucket", "ConsoleAssets")["Properties"]
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith("StorageAccessLogs")
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "console/"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}


def test_console_is_two_get_methods_reading_the_bucket_through_s3_with_no_authorizer(
    template: Template,
) -> None:
    methods = console_methods(template)
    assert len(methods) == 2
    for method in methods:
        assert method["HttpMethod"] == "GET"
        assert method["AuthorizationType"] == "NONE"
        integration = method["Integration"]
        assert integration["IntegrationHttpMethod"] == "GET"
        assert render(integration["Credentials"]) == "ConsoleReadRole.Arn"
        uri = render(integration["Uri"])
        assert uri.startswith("arn:AWS::Partition:apigateway:eu-west-2:s3:path/ConsoleAssets/")
    keys = sorted(render(m["Integration"]["Uri"]).rsplit("/", 1)[1] for m in methods)
    assert keys == ["index.html", "{asset}"]
    [asset] = [m for m in methods if render(m["Integration"]["Uri"]).endswith("{asset}")]
    assert asset["Integration"]["RequestParameters"] == {
        "integration.request.path.asset": "method.request.path.asset"
    }


def test_console_methods_belong_to_the_api_whose_stage_has_the_waf(template: Template) -> None:
    [api_id] = resources(template, "AWS::ApiGateway::RestApi")
    for method in console_methods(template):
        assert method["RestApiId"] == {"Ref": api_id}
    association = one_resource(template, "AWS::WAFv2::WebACLAssociation", "ApiWebAclAssociation")
    assert api_id in json.dumps(association["Properties"]["ResourceArn"])


def test_every_console_asset_carries_the_content_security_policy_and_missing_ones_are_404s(
    template: Template,
) -> None:
    # The stack's imports bucket stands in for its name, as `render` reads the template's join.
    expected = {
        f"method.response.header.{n}": f"'{v}'"
        for n, v in console.security_headers(
            upload_origin=console.bucket_origin("StorageImports", "eu-west-2")
        ).items()
    }
    csp = expected["method.response.header.Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    for method in console_methods(template):
        responses = {r["StatusCode"]: r for r in method["Integration"]["IntegrationResponses"]}
        ok = responses["200"]["ResponseParameters"]
        assert ok["method.response.header.Content-Type"] == "integration.response.header.Content-Type"
        assert {k: render(v) for k, v in ok.items() if k in expected} == expected
        assert responses["404"]["SelectionPattern"] == r"4\d{2}"
        assert responses["503"]["SelectionPattern"] == r"5\d{2}"
        declared = {r["StatusCode"]: r["ResponseParameters"] for r in method["MethodResponses"]}
        assert set(declared["200"]) == set(ok)


def test_the_console_may_call_the_api_the_user_pool_and_the_imports_buckets_regional_origin_only(
    template: Template,
) -> None:
    """R-VOI-BULK: the VOI screen PUTs a list file to the presigned URL the API hands out, which
    names the imports bucket's regional endpoint; no other bucket, and no wildcard, is allowed."""
    for method in console_methods(template):
        [ok] = [r for r in method["Integration"]["IntegrationResponses"] if r["StatusCode"] == "200"]
        csp = render(ok["ResponseParameters"]["method.response.header.Content-Security-Policy"])
        [connect] = [d for d in csp.strip("'").split("; ") if d.startswith("connect-src ")]
        assert connect.split()[1:] == [
            "'self'",
            "https://cognito-idp.eu-west-2.amazonaws.com",
            "https://StorageImports.s3.eu-west-2.amazonaws.com",
        ]


def test_the_imports_bucket_takes_a_browser_put_from_the_apis_origin_only(template: Template) -> None:
    imports = one_resource(template, "AWS::S3::Bucket", "StorageImports")["Properties"]
    [api_id] = resources(template, "AWS::ApiGateway::RestApi")
    [rule] = imports["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["PUT"]
    assert [render(o) for o in rule["AllowedOrigins"]] == [
        f"https://{api_id[:-8]}.execute-api.eu-west-2.AWS::URLSuffix"
    ]
    assert rule["AllowedHeaders"] == ["content-type"]
    others = [
        b for b in resources(template, "AWS::S3::Bucket").values() if "CorsConfiguration" in b["Properties"]
    ]
    assert len(others) == 1  # no other bucket takes a browser's request


def test_the_api_reads_console_assets_and_nothing_else(template: Template) -> None:
    assert granted(template, "ConsoleReadRoleDefaultPolicy") == {("s3:GetObject", "ConsoleAssets.Arn/*")}
    role = one_resource(template, "AWS::IAM::Role", "ConsoleReadRole")["Properties"]
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}


def test_deployment_copies_the_build_and_the_stage_settings_into_the_console_bucket(
    template: Template,
) -> None:
    template.has_resource_properties(
        "Custom::CDKBucketDeployment",
        {
            "DestinationBucketName": {"Ref": Match.string_like_regexp("^ConsoleAssets")},
            "Prune": True,
            "SourceMarkers": Match.array_with(
                [
                    Match.object_like(
                        {
                            "<<marker:0xbaba:0>>": Match.object_like({"Fn::Join": Match.any_value()}),
                            "<<marker:0xbaba:1>>": Match.object_like({"Fn::Join": Match.any_value()}),
                        }
                    )
                ]
            ),
        },
    )
    [deployment] = resources(template, "Custom::CDKBucketDeployment").values()
    markers = json.dumps(deployment["Properties"]["SourceMarkers"])
    assert "IdentityUsersApiClient" in markers  # the app client id
    assert "ApiRestApiDeploymentStagev1" in markers  # the API's own URL


def staged_files(stack: NasStack) -> dict[str, str]:
    """The console files CDK staged for upload, by name."""
    outdir = Path(stack.node.root.outdir)  # type: ignore[attr-defined]
    found: dict[str, str] = {}
    for asset in outdir.glob("asset.*"):
        for name in ("index.html", "app.js", "config.json"):
            if (asset / name).is_file():
                found[name] = (asset / name).read_text(encoding="utf-8")
    return found


def test_deployed_page_is_based_at_the_stage_path_and_its_config_names_the_stage(stack: NasStack) -> None:
    files = staged_files(stack)
    assert '<base href="/v1/console/" />' in files["index.html"]
    assert console.BUILT_BASE not in files["index.html"]
    assert "app.js" in files
    # config.json is filled in at deployment: the API URL and app client id are deploy-time values.
    config = json.loads(
        files["config.json"]
        .replace("<<marker:0xbaba:0>>", '"api"')
        .replace("<<marker:0xbaba:1>>", '"client"')
    )
    assert config == {
        "api_url": "api",
        "cognito_endpoint": "https://cognito-idp.eu-west-2.amazonaws.com/",
        "app_client_id": "client",
        "tile_url": "",
    }


def test_stack_outputs_the_console_address(template: Template) -> None:
    output = template.find_outputs("ConsoleUrl")["ConsoleUrl"]
    assert render(output["Value"]).endswith("/console/")


def test_a_tile_url_setting_lets_the_console_load_images_from_that_origin_only(tmp_path: Path) -> None:
    stack = synth_stack(tmp_path, api_allowed_cidrs=[TEST_CIDR], console_tile_url=TILES)
    template = Template.from_stack(stack)
    for method in console_methods(template):
        [ok] = [r for r in method["Integration"]["IntegrationResponses"] if r["StatusCode"] == "200"]
        csp = render(ok["ResponseParameters"]["method.response.header.Content-Security-Policy"])
        assert "img-src 'self' blob: https://tiles.example.org;" in csp
    assert f'"tile_url":"{TILES}"' in staged_files(stack)["config.json"]


@pytest.mark.parametrize(
    "url",
    [
        "http://tiles.example.org/{z}/{x}/{y}.png",  # not https
        "https://tiles.example.org/{z}/{x}.png",  # no {y}
        "https://tiles.example.org/{z}/{x}/{y}.png; script-src *",  # would widen the CSP
        "tiles/{z}/{x}/{y}.png",  # no origin
    ],
)
def test_a_tile_url_that_is_not_an_https_template_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="console_tile_url"):
        StageConfig.from_context({"stage": "dev", "console_tile_url": url})


def test_no_stage_has_a_tile_server_by_default() -> None:
    context = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
    for stage in context["stages"]:
        assert StageConfig.from_context({**context, "stage": stage}).console_tile_url == ""


@pytest.mark.parametrize(
    "origin",
    [
        "https://imports.example.org; script-src *",  # would widen the CSP
        "https://imports.example.org/incoming/",  # a path, not an origin
        "imports.example.org",  # no scheme
        "https://imports example.org",
    ],
)
def test_an_upload_origin_that_is_not_one_origin_is_refused(origin: str) -> None:
    with pytest.raises(console.InvalidOrigin, match="not an origin"):
        console.content_security_policy(upload_origin=origin)
