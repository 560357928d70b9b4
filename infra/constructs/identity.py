"""Cognito: who may call the API, in which role (R-ROLE) and for which LEA (`custom:lea`)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.nag import acknowledge
from nas.catalogue import LEA_ATTRIBUTE  # read as `custom:lea` (LEA_CLAIM) in tokens
from nas.domain.roles import Role

# NCSC password guidance: length over composition rules, no forced expiry, deny-list of breached
# passwords (the Plus plan's compromised-credentials check), and MFA for everyone.
PASSWORD_MIN_LENGTH = 14
# R-ACCOUNT: a leaver's tokens stop working soon after the account is disabled. The API refuses a
# disabled account on every request, but a token itself stays valid until it expires (an ID token
# cannot be recalled), so tokens live 15 minutes; clients renew them with the refresh token, which
# Cognito refuses for a disabled or signed-out account.
TOKEN_VALIDITY = cdk.Duration.minutes(15)


class Identity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=False,  # accounts are created by force administrators only
            sign_in_aliases=cognito.SignInAliases(username=True),
            sign_in_case_sensitive=False,
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_MIN_LENGTH,
                require_lowercase=False,
                require_uppercase=False,
                require_digits=False,
                require_symbols=False,
                temp_password_validity=cdk.Duration.days(3),
            ),
            # Resets go through the force's administrators, who re-check identity; a self-service
            # email reset would bypass that.
            account_recovery=cognito.AccountRecovery.NONE,
            custom_attributes={
                # Mutable so administrators can move an officer between forces; app clients cannot
                # write it (see the client's write attributes).
                LEA_ATTRIBUTE: cognito.StringAttribute(min_len=2, max_len=16, mutable=True),
            },
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=removal_policy == cdk.RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG1",
            "NCSC password guidance: a 14-character minimum with no composition rules, breached-password"
            " blocking (Plus plan) and mandatory MFA; composition rules make passwords weaker in practice.",
        )
        self.groups = {
            role: cognito.CfnUserPoolGroup(
                self,
                f"Group{role.name.title().replace('_', '')}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=role.value,
                description=f"NAS role {role.value} (R-ROLE)",
            )
            for role in Role
        }
        self.app_client = self.user_pool.add_client(
            "ApiClient",
            generate_secret=False,  # used by the `nas` CLI and force front ends, which cannot keep one
            disable_o_auth=True,  # tokens come from InitiateAuth only: no hosted UI, no redirect URLs
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=TOKEN_VALIDITY,
            access_token_validity=TOKEN_VALIDITY,
            refresh_token_validity=cdk.Duration.hours(12),  # one shift
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, preferred_username=True)
            .with_custom_attributes(LEA_ATTRIBUTE),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(
                email=True, preferred_username=True
            ),
        )
