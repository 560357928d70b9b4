"""Cognito user pool: R-ROLE groups, `custom:lea`, MFA, password policy, threat protection."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from tests.infra.conftest import one_resource, resources

# Written out from SPEC R-ROLE rather than read from the code, so a renamed group fails here.
SPEC_GROUPS = {
    "investigator",
    "senior-investigator",
    "authoriser",
    "voi-manager",
    "operator",
    "auditor",
    "dpo",
    "analyst",
    "admin",
}


def test_the_nine_groups_exist_with_their_exact_names(template: Template) -> None:
    names = {
        g["Properties"]["GroupName"] for g in resources(template, "AWS::Cognito::UserPoolGroup").values()
    }
    assert names == SPEC_GROUPS


def test_user_pool_security_baseline(template: Template) -> None:
    props = one_resource(template, "AWS::Cognito::UserPool", "IdentityUsers")["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["MfaConfiguration"] == "ON"
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert props["UserPoolTier"] == "PLUS"
    assert props["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    assert props["Policies"]["PasswordPolicy"]["MinimumLength"] >= 14
    assert props["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "admin_only", "Priority": 1}]}
    assert {"Name": "lea", "AttributeDataType": "String", "Mutable": True} | {
        "StringAttributeConstraints": {"MaxLength": "16", "MinLength": "2"}
    } in props["Schema"]


def test_app_client_can_read_but_never_write_the_users_lea(template: Template) -> None:
    props = one_resource(template, "AWS::Cognito::UserPoolClient", "IdentityUsersApiClient")["Properties"]
    assert "custom:lea" in props["ReadAttributes"]
    assert "custom:lea" not in props["WriteAttributes"]
    assert props["GenerateSecret"] is False
    assert "AllowedOAuthFlows" not in props
    assert props["PreventUserExistenceErrors"] == "ENABLED"


def test_a_leavers_id_and_access_tokens_expire_within_15_minutes(template: Template) -> None:
    # R-ACCOUNT: a token cannot be recalled, so it must not outlive a disabled account for long.
    template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        Match.object_like(
            {
                "IdTokenValidity": 15,
                "AccessTokenValidity": 15,
                "TokenValidityUnits": Match.object_like({"IdToken": "minutes", "AccessToken": "minutes"}),
                "EnableTokenRevocation": True,
            }
        ),
    )
