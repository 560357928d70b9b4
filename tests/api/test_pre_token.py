"""Cognito pre-token-generation trigger (V1 event): admin accounts may be in no other group."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from handlers.pre_token import TokenRefused, lambda_handler
from tests.handlers.events import FakeLambdaContext


def trigger_event(groups: list[str], source: str = "TokenGeneration_Authentication") -> dict[str, Any]:
    return {
        "version": "1",
        "triggerSource": source,
        "region": "eu-west-2",
        "userPoolId": "eu-west-2_AbCdEfGhI",
        "userName": "alex.admin",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
        "request": {
            "userAttributes": {"sub": "a1b2c3", "custom:lea": "NATIONAL", "email_verified": "true"},
            "groupConfiguration": {
                "groupsToOverride": groups,
                "iamRolesToOverride": [],
                "preferredRole": None,
            },
        },
        "response": {"claimsOverrideDetails": None},
    }


@pytest.mark.parametrize("groups", [["admin"], ["operator"], ["operator", "auditor"], []])
def test_token_issued_unchanged(groups: list[str]) -> None:
    event = trigger_event(groups)
    assert lambda_handler(copy.deepcopy(event), FakeLambdaContext()) == event  # type: ignore[arg-type]


@pytest.mark.parametrize("source", ["TokenGeneration_Authentication", "TokenGeneration_RefreshTokens"])
def test_admin_in_another_group_gets_no_token(source: str) -> None:
    with pytest.raises(TokenRefused, match="admin-not-exclusive"):
        lambda_handler(trigger_event(["admin", "operator"], source), FakeLambdaContext())  # type: ignore[arg-type]
