"""One catalogue of the service's stores, read by the CDK app (to create them), by the Lambdas (to
find them through environment variables) and by local mode (to create the same on moto).

Physical names are never fixed here: CDK generates them per stage and passes them to the code in the
environment variables named below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class KeyType(StrEnum):
    STRING = "S"
    NUMBER = "N"


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    type: KeyType = KeyType.STRING


@dataclass(frozen=True, slots=True)
class Index:
    """A global secondary index and the access pattern it serves (docs/data-model.md)."""

    name: str
    partition_key: Key
    sort_key: Key | None
    serves: str


@dataclass(frozen=True, slots=True)
class TableSpec:
    logical_name: str
    partition_key: Key
    sort_key: Key | None
    serves: str
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = field(default=())
    stream: str | None = None
    """DynamoDB Streams view type (KEYS_ONLY, NEW_IMAGE, …) when something consumes the changes."""

    @property
    def env_var(self) -> str:
        return f"NAS_TABLE_{self.logical_name.upper()}"


VOI = TableSpec(
    "voi",
    # Single entries: one partition per VRM, entry items (`record` = ENTRY#<voi_id>) each with its own
    # TTL, and one match item (`record` = MATCH) carrying the VRM's live entries. Bulk lists: one
    # generation per import, packed into bucket and filter items under `#LIST#<import_id>#…` keys;
    # the state item (`#VOI`/STATE) says which generation is each source's list. Layout and access
    # patterns: docs/data-model.md.
    partition_key=Key("vrm"),
    sort_key=Key("record"),
    ttl_attribute="expires_at",
    serves="match lookups in batches; GET /voi?vrm=; entries of one VRM; list generations; imports",
    indexes=(
        Index("by-voi-id", Key("voi_id"), None, "GET/PUT/DELETE /voi/{voi_id}"),
        Index(
            "by-owner-review",
            Key("owner_lea"),
            Key("review_due_at"),
            "R-VOI-28 reviews due per owner; R-VOI-56 sweep of expired entries",
        ),
    ),
    # TTL removals of entries rebuild their match item (R-VOI-56): the keys are all it needs.
    stream="KEYS_ONLY",
)
ALERTS = TableSpec(
    "alerts",
    partition_key=Key("alert_id"),
    sort_key=None,
    serves="conditional put per alert (R-DUP); POST /alerts/{alert_id}/outcome",
    indexes=(
        Index("by-read-lea", Key("lea"), Key("raised_at"), "GET /alerts for the read's LEA"),
        Index("by-owner-lea", Key("owner_lea"), Key("raised_at"), "GET /alerts for the entry owner's LEA"),
        Index("by-raised-day", Key("raised_day"), Key("raised_at"), "GET /alerts for NATIONAL users"),
    ),
)
CAMERAS = TableSpec(
    "cameras",
    partition_key=Key("camera_id"),
    sort_key=None,
    serves="R-CAMERA registry lookups by the match and archive consumers",
    indexes=(Index("by-lea", Key("lea"), Key("camera_id"), "cameras of one LEA (location search, reports)"),),
)
IDEMPOTENCY = TableSpec(
    "idempotency",
    partition_key=Key("id"),
    sort_key=None,
    ttl_attribute="expiration",  # the attribute powertools' idempotency utility writes
    serves="powertools idempotency records for POST routes",
)
AUDIT = TableSpec(
    "audit",
    # Hash chain per UTC day: `seq` is the position in the day's chain, so appends are conditional
    # puts on the next position and verification reads one partition in order.
    partition_key=Key("chain_day"),
    sort_key=Key("seq", KeyType.NUMBER),
    serves="append-only R-AUDIT chain; GET /audit/verify",
    indexes=(
        Index("by-user", Key("user"), Key("at"), "GET /audit?user=&from=&to="),
        Index("by-lea", Key("lea"), Key("at"), "GET /audit for an LEA's auditors"),
    ),
)
SEARCHES = TableSpec(
    "searches",
    partition_key=Key("search_id"),
    sort_key=None,
    serves="GET /searches/{id}: status, Athena query id, owner",
    indexes=(Index("by-user", Key("user"), Key("created_at"), "a user's recent searches"),),
)
AUTHORISATIONS = TableSpec(
    "authorisations",
    partition_key=Key("authorisation_id"),
    sort_key=None,
    serves="R-AUTHZ lookup when a search names an authorisation",
    indexes=(
        Index("by-grantee", Key("grantee"), Key("expires_at"), "a user's live authorisations"),
        Index("by-granted-by", Key("granted_by"), Key("granted_at"), "GET /authorisations for an authoriser"),
    ),
)

ACCOUNTS = TableSpec(
    "accounts",
    # One item per user name (Cognito `cognito:username`): what the API must know about an account
    # beyond its token, first of all whether it has been disabled (R-ACCOUNT: leavers refused at once).
    partition_key=Key("username"),
    sort_key=None,
    serves="R-ACCOUNT: is this caller disabled (every API request); account status for admins",
)

TABLES: tuple[TableSpec, ...] = (
    VOI,
    ALERTS,
    CAMERAS,
    IDEMPOTENCY,
    AUDIT,
    SEARCHES,
    AUTHORISATIONS,
    ACCOUNTS,
)


class Bucket(StrEnum):
    READS = "reads"
    QUARANTINE = "quarantine"
    EVIDENCE = "evidence"
    ATHENA_RESULTS = "athena-results"
    IMPORTS = "imports"

    @property
    def env_var(self) -> str:
        return f"NAS_BUCKET_{self.name}"


# Prefixes inside the reads bucket: Parquet rows (Hive-partitioned by capture date) and packed images.
READS_PREFIX = "reads/"
IMAGES_PREFIX = "images/"
CAPTURE_DATE_PARTITION = "capture_date"

# The attributes an outcome (R-HIT) may write on an alert item, beside its key: the API's IAM policy
# allows UpdateItem on these alone (`dynamodb:Attributes`), so the API can never rewrite the alert.
ALERT_KEY_ATTRIBUTE = "alert_id"
ALERT_OUTCOME_ATTRIBUTES = (
    "outcome",
    "outcome_note",
    "outcome_by",
    "outcome_at",
    "outcome_version",
    "outcome_history",
    "outcome_history_omitted",
)

READ_STREAM = "reads"
READ_STREAM_ENV = "NAS_STREAM_READS"
ALERT_BUS_ENV = "NAS_EVENT_BUS_ALERTS"
READ_ROWS_DELIVERY_ENV = "NAS_FIREHOSE_READ_ROWS"
USER_POOL_ENV = "NAS_USER_POOL_ID"
QUARANTINE_PREFIX = "quarantine/"
# EventBridge `source` and `detail-type` of alert events; per-LEA rules match on detail.lea.
ALERT_EVENT_SOURCE = "nas.match"
ALERT_EVENT_DETAIL_TYPE = "nas.alert.v1"
# R-VOI-28: the daily review reminder, one event per owner LEA (rules match on detail.owner_lea).
VOI_EVENT_SOURCE = "nas.voi"
VOI_REVIEW_DUE_DETAIL_TYPE = "nas.voi.review-due.v1"
# R-VOI-BULK: the state machine that loads an uploaded list (its ARN, for the import start function).
VOI_IMPORT_STATE_MACHINE_ENV = "NAS_STATE_MACHINE_VOI_IMPORT"
STAGE_ENV = "NAS_STAGE"
SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE = "NAS"
GLUE_READS_TABLE = "reads"

# Columns of a stored read row (Parquet under READS_PREFIX, Glue table `reads`), in order. The archive
# consumer writes exactly these; images are referenced by packed-object key, offset and length.
READ_ROW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("read_id", "string"),
    ("camera_id", "string"),
    ("vrm", "string"),
    ("captured_at", "timestamp"),
    ("lea", "string"),
    ("source", "string"),
    ("lat", "double"),
    ("lon", "double"),
    ("direction", "string"),
    ("lane", "int"),
    ("confidence", "int"),
    ("late", "boolean"),
    ("ingested_at", "timestamp"),
    ("plate_image_key", "string"),
    ("plate_image_offset", "bigint"),
    ("plate_image_length", "int"),
    ("overview_image_key", "string"),
    ("overview_image_offset", "bigint"),
    ("overview_image_length", "int"),
)

# R-UK: the one region every NAS resource is in (London).
UK_REGION = "eu-west-2"
# The Cognito custom attribute holding a user's LEA, and its name as a claim in ID tokens.
LEA_ATTRIBUTE = "lea"
LEA_CLAIM = f"custom:{LEA_ATTRIBUTE}"
