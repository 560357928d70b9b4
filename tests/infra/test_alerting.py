"""R-ALERT delivery: the encrypted alerts bus, and per LEA with mobile data terminals an encrypted
topic whose rule passes only the alerts that LEA may see (R-CIRC)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template
from pydantic import ValidationError

from infra.config import StageConfig
from infra.constructs.alerting import Alerting
from nas import catalogue
from nas.domain.leas import NATIONAL
from tests.infra.conftest import app_context, granted, one_resource, render, resources

OTHER_LEA = "HANTS"  # approved, not configured for terminals in the dev stage


@pytest.fixture(scope="module")
def mdt_leas() -> tuple[str, ...]:
    leas = StageConfig.from_context(app_context()).mdt_leas
    assert leas, "cdk.json's dev stage configures mobile data terminals for some LEAs"
    assert OTHER_LEA not in leas
    return leas


def rule_for(template: Template, lea: str) -> dict[str, Any]:
    return one_resource(template, "AWS::Events::Rule", f"AlertingMdt{lea.capitalize()}Rule")["Properties"]


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge matching for what the alert rules use: nested objects, `$or`, and lists of exact
    values, where a list-valued event field matches when any element does. Types must agree
    (`true` is not `1`)."""
    for key, condition in pattern.items():
        if key == "$or":
            if not any(matches(branch, event) for branch in condition):
                return False
            continue
        if key not in event:
            return False
        value = event[key]
        if isinstance(condition, dict):
            if not isinstance(value, dict) or not matches(condition, value):
                return False
            continue
        values = value if isinstance(value, list) else [value]
        if not any(type(v) is type(c) and v == c for v in values for c in condition):
            return False
    return True


def visible_to(lea: str, detail: dict[str, Any]) -> bool:
    """R-CIRC, read for one LEA's terminals: the read's LEA and the entry's owner see an alert; a
    sensitive entry only where it is circulated to that LEA, or by its owner."""
    if detail["owner_lea"] == lea:
        return True
    if detail["lea"] != lea:
        return False
    return not detail["sensitive"] or detail["circulation"] == [NATIONAL] or lea in detail["circulation"]


def alert_event(**detail: Any) -> dict[str, Any]:
    return {
        "source": catalogue.ALERT_EVENT_SOURCE,
        "detail-type": catalogue.ALERT_EVENT_DETAIL_TYPE,
        "detail": {"alert_id": "a", "vrm": "AB12CDE", **detail},
    }


def test_alert_bus_is_encrypted_with_the_alerts_key(template: Template) -> None:
    bus = one_resource(template, "AWS::Events::EventBus", "AlertingBus")["Properties"]
    assert render(bus["KmsKeyIdentifier"]) == "KeysAlerts.Arn"


def test_eventbridge_may_use_the_alerts_key_only_for_this_bus_and_its_dead_letters(
    template: Template,
) -> None:
    bus_name = one_resource(template, "AWS::Events::EventBus", "AlertingBus")["Properties"]["Name"]
    key = one_resource(template, "AWS::KMS::Key", "KeysAlerts")["Properties"]
    for_events = [
        s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    contexts = set()
    for statement in for_events:
        scoped = statement["Condition"]["StringEquals"]
        if "kms:EncryptionContext:aws:events:event-bus:arn" in scoped:
            bus = render(scoped["kms:EncryptionContext:aws:events:event-bus:arn"])
            assert bus.endswith(f":event-bus/{bus_name}")
            contexts.add("bus")
        else:
            queue = one_resource(template, "AWS::SQS::Queue", "AlertingDeliveryFailures")["Properties"]
            assert render(scoped["kms:EncryptionContext:aws:sqs:arn"]).endswith(f":{queue['QueueName']}")
            assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
            contexts.add("dead letters")
    assert contexts == {"bus", "dead letters"}


def test_undeliverable_alert_events_go_to_an_encrypted_dead_letter_queue(
    template: Template, mdt_leas: tuple[str, ...]
) -> None:
    queue = one_resource(template, "AWS::SQS::Queue", "AlertingDeliveryFailures")["Properties"]
    assert render(queue["KmsMasterKeyId"]) == "KeysAlerts.Arn"
    assert mdt_leas
    for lea in mdt_leas:
        rule = one_resource(template, "AWS::Events::Rule", f"AlertingMdt{lea.capitalize()}Rule")["Properties"]
        [target] = rule["Targets"]
        assert render(target["DeadLetterConfig"]["Arn"]) == "AlertingDeliveryFailures.Arn"
        # Retried for an hour at most: an alert delivered later than that is of little use on the road.
        assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 3600
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [Match.object_like({"Ref": Match.string_like_regexp("^AlertingDeliveryFailures")})],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Condition": Match.object_like(
                                    {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
                                ),
                            }
                        )
                    ]
                )
            },
        },
    )


def test_each_configured_lea_has_an_encrypted_tls_only_topic(
    template: Template, mdt_leas: tuple[str, ...]
) -> None:
    for lea in mdt_leas:
        prefix = f"AlertingMdt{lea.capitalize()}Topic"
        topic = one_resource(template, "AWS::SNS::Topic", prefix)["Properties"]
        assert render(topic["KmsMasterKeyId"]) == "KeysAlerts.Arn"
        assert lea in topic["DisplayName"]
        [policy] = [
            p["Properties"]
            for p in resources(template, "AWS::SNS::TopicPolicy").values()
            if [render(t) for t in p["Properties"]["Topics"]] == [prefix]
        ]
        statements = policy["PolicyDocument"]["Statement"]
        assert {"Bool": {"aws:SecureTransport": "false"}} in [
            s.get("Condition") for s in statements if s["Effect"] == "Deny"
        ]
        # Nobody is allowed in by resource policy: the rule publishes through its own role.
        assert not [s for s in statements if s["Effect"] == "Allow"]


def test_each_rule_matches_alert_events_on_the_bus_and_publishes_through_its_own_role(
    template: Template, mdt_leas: tuple[str, ...]
) -> None:
    for lea in mdt_leas:
        rule = rule_for(template, lea)
        assert render(rule["EventBusName"]) == "AlertingBus"
        assert rule["EventPattern"]["source"] == [catalogue.ALERT_EVENT_SOURCE]
        assert rule["EventPattern"]["detail-type"] == [catalogue.ALERT_EVENT_DETAIL_TYPE]
        [target] = rule["Targets"]
        topic = f"AlertingMdt{lea.capitalize()}Topic"
        assert render(target["Arn"]) == topic
        assert render(target["RoleArn"]) == f"AlertingMdt{lea.capitalize()}RuleEventsRole.Arn"
        assert granted(template, f"AlertingMdt{lea.capitalize()}RuleEventsRoleDefaultPolicy") == {
            ("sns:Publish", topic),
            ("kms:Decrypt", "KeysAlerts.Arn"),
            ("kms:GenerateDataKey*", "KeysAlerts.Arn"),
        }


def test_each_rule_pattern_is_the_r_circ_visibility_of_its_lea(
    template: Template, mdt_leas: tuple[str, ...]
) -> None:
    for lea in mdt_leas:
        assert rule_for(template, lea)["EventPattern"]["detail"] == {
            "$or": [
                {"owner_lea": [lea]},
                {"lea": [lea], "sensitive": [False]},
                {"lea": [lea], "sensitive": [True], "circulation": [lea, NATIONAL]},
            ]
        }


def test_rules_deliver_exactly_the_alerts_r_circ_lets_each_lea_see(
    template: Template, mdt_leas: tuple[str, ...]
) -> None:
    leas = [*mdt_leas, OTHER_LEA]
    circulations = [[NATIONAL], *([code] for code in leas), list(mdt_leas)]
    checked = 0
    for lea in mdt_leas:
        pattern = rule_for(template, lea)["EventPattern"]
        for read_lea, owner, circulation, sensitive in itertools.product(
            leas, [*leas, NATIONAL], circulations, [False, True]
        ):
            detail = {"lea": read_lea, "owner_lea": owner, "circulation": circulation, "sensitive": sensitive}
            assert matches(pattern, alert_event(**detail)) == visible_to(lea, detail), (lea, detail)
            checked += 1
    assert checked > 100


def test_rules_ignore_other_events_and_fail_closed_on_a_missing_sensitive_flag(
    template: Template, mdt_leas: tuple[str, ...]
) -> None:
    lea = mdt_leas[0]
    pattern = rule_for(template, lea)["EventPattern"]
    detail = {"lea": lea, "owner_lea": OTHER_LEA, "circulation": [lea], "sensitive": False}
    assert matches(pattern, alert_event(**detail))
    assert not matches(pattern, {**alert_event(**detail), "source": "someone.else"})
    assert not matches(pattern, {**alert_event(**detail), "detail-type": "nas.alert.v0"})
    unflagged = {k: v for k, v in detail.items() if k != "sensitive"}
    assert not matches(pattern, alert_event(**unflagged))
    assert not matches(pattern, alert_event(**{**detail, "sensitive": "false"}))


def test_an_lea_without_terminals_gets_no_topic(template: Template) -> None:
    topics = {render({"Ref": lid}) for lid in resources(template, "AWS::SNS::Topic")}
    assert f"AlertingMdt{OTHER_LEA.capitalize()}Topic" not in topics


def test_a_stage_without_terminals_has_the_bus_and_no_rules(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(region="eu-west-2"))
    Alerting(stack, "Alerting", key=kms.Key(stack, "Key"), mdt_leas=())
    template = Template.from_stack(stack)
    assert resources(template, "AWS::Events::EventBus")
    assert not resources(template, "AWS::Events::Rule")
    assert not resources(template, "AWS::SNS::Topic")


# --- the mdt_leas setting -------------------------------------------------------------------------


@pytest.mark.parametrize("leas", [["KENT", "NOPE"], [NATIONAL], ["kent"], ["KENT", "KENT"]])
def test_mdt_leas_must_be_distinct_approved_lea_codes(leas: list[str]) -> None:
    with pytest.raises(ValidationError, match="mdt_leas"):
        StageConfig.from_context({"stage": "dev", "mdt_leas": leas})


def test_mdt_leas_can_be_given_on_the_command_line() -> None:
    config = StageConfig.from_context({"stage": "dev", "mdt_leas": "KENT,HANTS"})
    assert config.mdt_leas == ("KENT", "HANTS")
    assert StageConfig.from_context({"stage": "dev", "mdt_leas": ""}).mdt_leas == ()


def test_mdt_leas_default_to_none() -> None:
    assert StageConfig.from_context({"stage": "prod"}).mdt_leas == ()
