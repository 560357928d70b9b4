"""R-ALERT delivery: the alerts EventBridge bus, and for each LEA with mobile data terminals an SNS
topic fed by a rule that passes only the alerts that LEA may see (R-CIRC)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces import aws_events as events_refs
from constructs import Construct

from infra.constructs.keys import KEY_PUBLISH, Via, grant_via
from infra.nag import acknowledge
from nas import catalogue
from nas.domain.leas import NATIONAL


def alerts_visible_to(lea: str) -> dict[str, Any]:
    """The `detail` pattern of the alert events one LEA's terminals may receive.

    R-CIRC: an alert is visible to users of the read's LEA (`detail.lea`) and of the entry's owner
    (`detail.owner_lea`); a sensitive entry is shown only to its circulated LEAs and its owner. As
    EventBridge branches, an event matches when any of these holds:

    1. the LEA owns the entry: the owner sees its own entries' hits, sensitive or not;
    2. the read is the LEA's and the entry is not sensitive;
    3. the read is the LEA's, the entry is sensitive, and it is circulated to the LEA, by name or
       nationally (`circulation` is `["NATIONAL"]` or a list of codes; EventBridge matches a list
       field when any element matches).

    `sensitive` must be literally `false` for branch 2 and literally `true` for branch 3. This is
    deliberately not `{"anything-but": true}`: anything-but compares strings and numbers, and an
    event whose `sensitive` is missing or malformed must reach only the owner's terminals (fail
    closed), never a terminal the entry might be hidden from. Match raises an alert only where the
    read's LEA is circulated, so branch 3 normally equals "the read is the LEA's"; the rule checks
    it again so a fault upstream cannot widen who sees a sensitive entry.
    """
    return {
        "$or": [
            {"owner_lea": [lea]},
            {"lea": [lea], "sensitive": [False]},
            {"lea": [lea], "sensitive": [True], "circulation": [lea, NATIONAL]},
        ]
    }


# EventBridge retries a failing delivery to a terminal topic for up to an hour (an alert is stale
# after that), then puts the event in the dead-letter queue, which alarms.
DELIVERY_RETRY_ATTEMPTS = 100
DELIVERY_MAX_EVENT_AGE = cdk.Duration.hours(1)
DEAD_LETTER_RETENTION = cdk.Duration.days(14)


@jsii.implements(events.IRuleTarget)
class PublishThroughRole:
    """A rule target publishing to `topic` as `role`, granting nothing itself: CDK's `SnsTopic`
    target would also grant the topic's key to the role with no `kms:ViaService`. Deliveries that
    still fail after the retry policy go to `dead_letters`."""

    def __init__(self, topic: sns.ITopic, role: iam.IRole, dead_letters: sqs.IQueue) -> None:
        self._topic = topic
        self._role = role
        self._dead_letters = dead_letters

    def bind(self, rule: events_refs.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self._topic.topic_arn,
            role=self._role,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self._dead_letters.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=DELIVERY_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=int(DELIVERY_MAX_EVENT_AGE.to_seconds()),
            ),
        )


def mdt_construct_id(lea: str) -> str:
    return "Mdt" + lea.capitalize()


class Alerting(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, mdt_leas: Sequence[str]
    ) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        # CDK adds the key-policy statement the bus needs, scoped to this bus's encryption context.
        self.bus = events.EventBus(
            self, "Bus", kms_key=key, description="NAS alerts raised by the match consumer (R-ALERT)"
        )
        self.mdt_topics: dict[str, sns.Topic] = {}
        self.mdt_rules: dict[str, events.Rule] = {}
        self.delivery_failures = self._dead_letter_queue(key)
        for lea in mdt_leas:
            self.add_mdt_topic(lea)

    def _dead_letter_queue(self, key: kms.IKey) -> sqs.Queue:
        """Alert events EventBridge could not deliver to a terminal topic, encrypted with the alerts
        key (they hold the alert); EventBridge may send to it only for this stack's rules."""
        stack = cdk.Stack.of(self)
        # Named as CDK names the bus (unique per stack and path, not fixed): the key policy below needs
        # the queue's ARN, and a Ref would make key and queue depend on each other.
        name = cdk.Names.unique_resource_name(self, max_length=70, separator="-") + "-DeliveryFailures"
        arn = f"arn:{stack.partition}:sqs:{stack.region}:{stack.account}:{name}"
        queue = sqs.Queue(
            self,
            "DeliveryFailures",
            queue_name=name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        rules_of_stack = f"arn:{stack.partition}:events:{stack.region}:{stack.account}:rule/*"
        queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": rules_of_stack},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        # SQS encrypts with the queue's ARN as encryption context: the key serves this queue only.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeDeadLettersEncrypt",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:EncryptionContext:aws:sqs:arn": arn,
                        "aws:SourceAccount": stack.account,
                    },
                    "ArnLike": {"aws:SourceArn": rules_of_stack},
                },
            )
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the alert delivery rules: an operator"
            " inspects and redrives it (it alarms on every message); nothing consumes it otherwise.",
        )
        return queue

    def add_mdt_topic(self, lea: str) -> sns.Topic:
        """An encrypted topic for `lea`'s mobile data terminals and the rule that feeds it."""
        scope = Construct(self, mdt_construct_id(lea))
        topic = sns.Topic(
            scope,
            "Topic",
            display_name=f"NAS alerts for {lea} mobile data terminals",
            master_key=self._key,
            enforce_ssl=True,
        )
        rule = events.Rule(
            scope,
            "Rule",
            event_bus=self.bus,
            description=f"R-CIRC: alerts visible to {lea} to its mobile data terminals",
            event_pattern=events.EventPattern(
                source=[catalogue.ALERT_EVENT_SOURCE],
                detail_type=[catalogue.ALERT_EVENT_DETAIL_TYPE],
                detail=alerts_visible_to(lea),
            ),
        )
        # EventBridge publishes through a role of this rule's own (sns:Publish on this topic, and
        # the key's data-key actions for SNS to encrypt with) rather than a topic-policy grant to the
        # whole EventBridge service, which any account's rule could use to send forged alerts to the
        # terminals.
        role = iam.Role(rule, "EventsRole", assumed_by=iam.ServicePrincipal("events.amazonaws.com"))
        iam.Grant.add_to_principal(grantee=role, actions=["sns:Publish"], resource_arns=[topic.topic_arn])
        grant_via(self._key, role, Via.SNS, *KEY_PUBLISH)
        rule.add_target(PublishThroughRole(topic, role, self.delivery_failures))
        acknowledge(
            rule,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Publishing to a KMS-encrypted topic needs a data key; limited to the alerts key and to"
            " requests SNS makes (kms:ViaService).",
        )
        self.mdt_topics[lea] = topic
        self.mdt_rules[lea] = rule
        return topic
