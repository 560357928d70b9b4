"""Creates, on the moto endpoint, the stores the CDK app creates, from the catalogue: the reads
stream, every table, every bucket (evidence with Object Lock), the alerts bus, and the user pool
with the R-ROLE groups, the `lea` attribute and the API's app client, and the audit signing key."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nas import catalogue
from nas.adapters.dynamo import create_table
from nas.domain.roles import Role
from nas.local.names import REGION, SHARDS, LocalNames

PASSWORD_MIN_LENGTH = 14  # NCSC guidance, as the CDK pool: length, no composition rules

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class Identity:
    user_pool_id: str
    app_client_id: str


def provision(client: ClientFactory, names: LocalNames, *, shards: int = SHARDS) -> Identity:
    kinesis = client("kinesis")
    kinesis.create_stream(StreamName=names.stream, ShardCount=shards)
    dynamodb = client("dynamodb")
    for spec in catalogue.TABLES:
        create_table(dynamodb, spec, names.table(spec))
    s3 = client("s3")
    for bucket in catalogue.Bucket:
        s3.create_bucket(
            Bucket=names.bucket(bucket),
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=bucket is catalogue.Bucket.EVIDENCE,
        )
    client("events").create_event_bus(Name=names.alert_bus)
    create_audit_signing_key(client("kms"), names)
    create_signing_key(client("kms"), names.retention_signing_key, "NAS retention statements")
    identity = create_identity(client("cognito-idp"), names)
    kinesis.get_waiter("stream_exists").wait(StreamName=names.stream, WaiterConfig={"Delay": 0.2})
    return identity


def create_audit_signing_key(kms: Any, names: LocalNames) -> None:
    """R-AUDIT: the digest signing key (asymmetric, sign and verify), found by its alias."""
    key_id = kms.create_key(
        KeySpec=catalogue.AUDIT_SIGNING_KEY_SPEC, KeyUsage="SIGN_VERIFY", Description="NAS audit digests"
    )["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=names.audit_signing_key, TargetKeyId=key_id)


def create_signing_key(kms: Any, alias: str, description: str) -> None:
    """An asymmetric sign-and-verify key like the audit key, found by its alias."""
    key_id = kms.create_key(
        KeySpec=catalogue.AUDIT_SIGNING_KEY_SPEC, KeyUsage="SIGN_VERIFY", Description=description
    )["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)


def create_identity(cognito: Any, names: LocalNames) -> Identity:
    pool_id: str = cognito.create_user_pool(
        PoolName=names.user_pool,
        # MFA is required in AWS; off locally so demo users sign in with a password alone.
        MfaConfiguration="OFF",
        Policies={
            "PasswordPolicy": {
                "MinimumLength": PASSWORD_MIN_LENGTH,
                "RequireUppercase": False,
                "RequireLowercase": False,
                "RequireNumbers": False,
                "RequireSymbols": False,
            }
        },
        UsernameConfiguration={"CaseSensitive": False},
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Schema=[
            {
                "Name": catalogue.LEA_ATTRIBUTE,
                "AttributeDataType": "String",
                "Mutable": True,
                "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "16"},
            }
        ],
    )["UserPool"]["Id"]
    for role in Role:
        cognito.create_group(UserPoolId=pool_id, GroupName=role.value, Description=f"NAS role {role.value}")
    client_id: str = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=names.app_client,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="ENABLED",
        ReadAttributes=["email", "preferred_username", catalogue.LEA_CLAIM],
        WriteAttributes=["email", "preferred_username"],
    )["UserPoolClient"]["ClientId"]
    return Identity(pool_id, client_id)


def find_identity(cognito: Any, names: LocalNames) -> Identity | None:
    """The pool and client a previous `nas local` made on this moto server, if any (for --reuse)."""
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    pool_id = next((p["Id"] for p in pools if p["Name"] == names.user_pool), None)
    if pool_id is None:
        return None
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == names.app_client), None)
    return Identity(pool_id, client_id) if client_id else None


def ensure_failure_queue(sqs: Any, names: LocalNames) -> str:
    """The consumers' on-failure queue (created when a server provisioned by an older run lacks it)."""
    url: str = sqs.create_queue(QueueName=names.failure_queue)["QueueUrl"]
    return url


def hunt_delay_s(flush_interval_s: float) -> int:
    """How long a retro-hunt waits before it starts (the CDK app's `HUNT_DELAY`): until reads that
    arrived before its request are out of the sink's journal and in the reads bucket (two flushes,
    and a margin for a flush's PUTs)."""
    return min(900, math.ceil(2 * flush_interval_s) + 3)


def ensure_retro_hunt_queue(sqs: Any, names: LocalNames, delay_s: int) -> str:
    """The retro-hunt queue (created when a server provisioned by an older run lacks it), its delay
    set on every start: the flush interval is an option of the run, not of the server."""
    url: str = sqs.create_queue(QueueName=names.retro_hunt_queue, Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": str(delay_s)})
    return url


def stream_identity(kinesis: Any, stream: str) -> dict[str, Any]:
    """What tells one stream of this name from another (a fresh server's): its ARN and creation time."""
    summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    return {"arn": summary["StreamARN"], "created": summary["StreamCreationTimestamp"].isoformat()}


def is_provisioned(client: ClientFactory, names: LocalNames) -> bool:
    streams: list[str] = client("kinesis").list_streams()["StreamNames"]
    return names.stream in streams
