"""DynamoDB tables of the catalogue: on-demand, customer-managed KMS, point-in-time recovery, and for
append-only tables (R-AUDIT) a resource policy that refuses in-place changes to everyone."""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from nas import catalogue

_ATTRIBUTE_TYPES = {
    catalogue.KeyType.STRING: dynamodb.AttributeType.STRING,
    catalogue.KeyType.NUMBER: dynamodb.AttributeType.NUMBER,
}


def _attribute(key: catalogue.Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])


def append_only_policy() -> iam.PolicyDocument:
    """Denies every principal, whatever its identity policies allow, the writes that change or
    remove an item in place (catalogue.APPEND_ONLY_DENIED_ACTIONS). `*` is this table: a table's
    resource policy cannot name the table's own generated ARN."""
    return _deny_policy("AppendOnly", catalogue.APPEND_ONLY_DENIED_ACTIONS)


def no_delete_policy() -> iam.PolicyDocument:
    """Denies every principal item deletes (catalogue.DELETE_DENIED_ACTIONS): records of what was done
    (corrections, preservations, data-subject requests) are kept; updates stay possible."""
    return _deny_policy("NoDeletes", catalogue.DELETE_DENIED_ACTIONS)


def _deny_policy(sid: str, actions: Iterable[str]) -> iam.PolicyDocument:
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid=sid,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(actions),
                resources=["*"],
            )
        ]
    )


def resource_policy(spec: catalogue.TableSpec) -> iam.PolicyDocument | None:
    if spec.append_only:
        return append_only_policy()
    return no_delete_policy() if spec.denies_deletes else None


def grant_items(table: dynamodb.ITable, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
    """Item actions on the table itself. `Table.grant` would add `<table>/index/*` as well, which
    these actions never touch, and a wildcard resource nobody needs."""
    return iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[table.table_arn])


# ALL_OLD and ALL_NEW would return the whole item, beyond the attributes an update may touch; an
# absent ReturnValues is NONE.
UPDATE_RETURN_VALUES = ("NONE", "UPDATED_OLD", "UPDATED_NEW")


def grant_item_updates(
    table: dynamodb.ITable, grantee: iam.IGrantable, attributes: Iterable[str]
) -> iam.Grant:
    """`UpdateItem` on the table's items, refused by IAM when the request names any attribute outside
    `attributes` (key, update, condition: `dynamodb:Attributes`) or asks for more than the updated
    attributes back (`dynamodb:ReturnValues`). `attributes` must include the key attributes."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["dynamodb:UpdateItem"],
        resource_arns=[table.table_arn],
        conditions={
            "ForAllValues:StringEquals": {"dynamodb:Attributes": list(attributes)},
            "StringEqualsIfExists": {"dynamodb:ReturnValues": list(UPDATE_RETURN_VALUES)},
        },
    )


def grant_index_queries(
    table: dynamodb.ITable,
    spec: catalogue.TableSpec,
    grantee: iam.IGrantable,
    *,
    excluding: Iterable[str] = (),
) -> iam.Grant:
    """`Query` on the catalogued indexes of `spec` (but those named in `excluding`), each by name:
    no `index/*` wildcard."""
    left_out = set(excluding)
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["dynamodb:Query"],
        resource_arns=[
            f"{table.table_arn}/index/{index.name}" for index in spec.indexes if index.name not in left_out
        ],
    )


class Tables(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.by_name: dict[str, dynamodb.Table] = {}
        for spec in catalogue.TABLES:
            table = dynamodb.Table(
                self,
                "".join(part.capitalize() for part in spec.logical_name.split("-")),
                partition_key=_attribute(spec.partition_key),
                sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
                encryption_key=key,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=spec.ttl_attribute,
                stream=dynamodb.StreamViewType[spec.stream] if spec.stream else None,
                deletion_protection=removal_policy == cdk.RemovalPolicy.RETAIN,
                removal_policy=removal_policy,
                resource_policy=resource_policy(spec),
            )
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_attribute(index.partition_key),
                    sort_key=_attribute(index.sort_key) if index.sort_key else None,
                    projection_type=(
                        dynamodb.ProjectionType.ALL
                        if index.projection is None
                        else dynamodb.ProjectionType.INCLUDE
                    ),
                    non_key_attributes=list(index.projection) if index.projection is not None else None,
                )
            self.by_name[spec.logical_name] = table

    def table(self, spec: catalogue.TableSpec) -> dynamodb.Table:
        return self.by_name[spec.logical_name]
