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
    projection: tuple[str, ...] | None = None
    """The non-key attributes the index keeps (INCLUDE); None keeps them all (ALL)."""


@dataclass(frozen=True, slots=True)
class TableSpec:
    logical_name: str
    partition_key: Key
    sort_key: Key | None
    serves: str
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = field(default=())
    append_only: bool = False
    """The table's resource policy denies APPEND_ONLY_DENIED_ACTIONS to every principal (R-AUDIT):
    items can be put and read, never changed or removed in place."""
    stream: str | None = None
    """DynamoDB Streams view type (KEYS_ONLY, NEW_IMAGE, …) when something consumes the changes."""
    denies_deletes: bool = False
    """The table's resource policy denies DELETE_DENIED_ACTIONS to every principal: records of what
    was done (corrections, preservations, data-subject requests) are never removed."""

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
# Alerts are spread over this many partitions of each index keyed by something every alert shares
# (the day, "not yet published"): at bulk-list hit rates, 1-2 % of 20,000 reads/s with several
# entries a VRM, about 1,000 alert writes a second would otherwise land on one key, beyond a
# partition's 1,000 write units. An alert's shard is fixed by its id (docs/data-model.md).
ALERT_SHARDS = 16
# The attributes of an alert as raised (the `Alert` model's fields) apart from the keys every index
# keeps anyway: what listing and re-publishing need, and none of the bookkeeping (outcome history,
# versions, publishing flags) whose every change would otherwise be copied into the index too.
ALERT_RECORD_ATTRIBUTES = (
    "read_id",
    "vrm",
    "captured_at",
    "camera_id",
    "lea",
    "late",
    "voi_id",
    "source",
    "category",
    "action",
    "priority",
    "reason",
    "owner_lea",
    "circulation",
    "sensitive",
    "outcome",
    "retro",
)
ALERT_PUBLISH_PENDING_INDEX = "by-publish-pending"
ALERT_BY_VRM_INDEX = "by-vrm"
ALERTS = TableSpec(
    "alerts",
    partition_key=Key("alert_id"),
    sort_key=None,
    serves="conditional put per alert (R-DUP); POST /alerts/{alert_id}/outcome",
    indexes=(
        Index("by-read-lea", Key("lea"), Key("raised_at"), "GET /alerts for the read's LEA"),
        Index("by-owner-lea", Key("owner_lea"), Key("raised_at"), "GET /alerts for the entry owner's LEA"),
        Index(
            "by-raised-day-shard",
            Key("raised_day_shard"),
            Key("raised_at"),
            "GET /alerts for NATIONAL users: a day's shards, read together and merged",
            projection=ALERT_RECORD_ATTRIBUTES,
        ),
        Index(
            ALERT_PUBLISH_PENDING_INDEX,
            Key("publish_pending"),
            Key("raised_at"),
            "the publish sweeper: alerts written but not yet marked published (sparse)",
            projection=ALERT_RECORD_ATTRIBUTES,
        ),
        Index(
            ALERT_BY_VRM_INDEX,
            Key("vrm"),
            Key("raised_at"),
            "R-SAR access exports: the alerts raised on a VRM",
            projection=ALERT_RECORD_ATTRIBUTES,
        ),
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
# Item writes an append-only table refuses to everyone, whatever their IAM policies say. PutItem stays
# (appends are conditional puts); the PartiQL forms are the same writes by another door.
APPEND_ONLY_DENIED_ACTIONS = (
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
)
# Item deletes a record-keeping table refuses to everyone (BatchWriteItem can delete too).
DELETE_DENIED_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLDelete")
# R-AUDIT: hash chains per UTC day. An append holds a chain's head from its head read to its
# conditional put (about 5-10 ms in region); at the API's sustained throttle (200 requests/s) eight
# chains carry 25 appends/s each, so roughly one first attempt in six meets a race, and the loser
# moves to another chain. Eight partitions per day stay cheap to verify and to merge for GET /audit,
# and eight digests per run cheap to sign. Raise it, never lower it: the verifier reads chains
# 0..N-1 of every day.
AUDIT_CHAINS_PER_DAY = 8
AUDIT = TableSpec(
    "audit",
    # One hash chain per (UTC day, chain number): `chain_id` is `<day>/<n>`, `seq` the position in that
    # chain, so an append is a conditional put on the next position of one of the day's chains and
    # verification reads each chain's partition in order.
    partition_key=Key("chain_id"),
    sort_key=Key("seq", KeyType.NUMBER),
    serves="append-only R-AUDIT chains; GET /audit; GET /audit/verify; the digest job",
    append_only=True,
    indexes=(
        Index("by-user", Key("user"), Key("at"), "GET /audit?user=&from=&to="),
        Index("by-lea", Key("lea"), Key("at"), "GET /audit for an LEA's auditors"),
    ),
)
SEARCHES = TableSpec(
    "searches",
    partition_key=Key("search_id"),
    sort_key=None,
    # A search is kept 31 days; its rows, in the Athena results bucket, one day.
    ttl_attribute="expires_at",
    serves="GET /searches/{id}: status, engine execution id, owner",
    indexes=(Index("by-user", Key("user"), Key("created_at"), "GET /searches: a user's recent searches"),),
)
# The attributes the api may update on a search item once its query has finished (beside its key).
SEARCH_KEY_ATTRIBUTE = "search_id"
SEARCH_COMPLETION_ATTRIBUTES = ("status", "row_count", "truncated", "failure", "completed_at")
AUTHORISATION_KEY_ATTRIBUTE = "authorisation_id"
AUTHORISATION_REVOCATION_ATTRIBUTES = ("revoked_at", "revoked_by")
AUTHORISATIONS = TableSpec(
    "authorisations",
    partition_key=Key("authorisation_id"),
    sort_key=None,
    serves="R-AUTHZ lookup when a search names an authorisation; DELETE revokes (never deleted)",
    indexes=(
        Index("by-grantee", Key("grantee"), Key("expires_at"), "GET /authorisations?mine=true"),
        Index("by-granted-by", Key("granted_by"), Key("granted_at"), "GET /authorisations for an authoriser"),
    ),
)

# R-CORRECT: one partition per read (`<camera_id>|<read_id>`): an item per correction (`V#<version>`),
# kept for good, and the read's `CURRENT` item, a copy of its latest correction that alone carries the
# indexes' keys, so each index lists every corrected read once, as it is now.
CORRECTION_CURRENT = "CURRENT"
CORRECTIONS = TableSpec(
    "corrections",
    partition_key=Key("read_key"),
    sort_key=Key("entry"),
    serves="R-CORRECT: a read's corrections (history) and current correction; the search overlay",
    indexes=(
        Index(
            "by-shown-canonical",
            Key("shown_canonical"),
            Key("read_key"),
            "searches of a VRM: reads corrected to it (its look-alike class)",
        ),
        Index(
            "by-read-canonical",
            Key("read_canonical"),
            Key("read_key"),
            "searches of a VRM: reads stored under it that were corrected away",
        ),
        Index(
            "by-captured-day",
            Key("captured_day"),
            Key("read_key"),
            "partial, location and convoy searches: the corrected reads of a capture day",
        ),
    ),
    denies_deletes=True,
)
# R-PRESERVE: a `MANIFEST` item per preservation (who, when, why, case, search, files) and an item per
# preserved read (`READ#<n>`, its VRM for erasure requests); the copies are in the evidence bucket.
PRESERVATION_MANIFEST = "MANIFEST"
PRESERVATION_KEY_ATTRIBUTES = ("preservation_id", "item")
PRESERVATION_RELEASE_ATTRIBUTES = ("released_at", "released_by", "release_reason")
PRESERVATIONS = TableSpec(
    "preservations",
    partition_key=Key("preservation_id"),
    sort_key=Key("item"),
    serves="R-PRESERVE: GET /preservations/{id}; release",
    indexes=(
        Index("by-case", Key("case_ref"), Key("created_at"), "GET /preservations?case_ref="),
        Index("by-vrm", Key("preserved_vrm"), Key("preservation_id"), "R-SAR: preserved copies of a VRM"),
    ),
    denies_deletes=True,
)
# R-SAR: one item per data-subject request; `restriction` (`in-force`) is present only while a
# restriction holds, so its index lists exactly the VRMs searches must exclude.
SUBJECT_REQUEST_KEY_ATTRIBUTE = "request_id"
RESTRICTION_IN_FORCE = "in-force"
SUBJECT_REQUEST_UPDATE_ATTRIBUTES = (
    "status",
    "decision",
    "decided_at",
    "decided_by",
    "decision_reason",
    "exemption",
    "outcome",
    "restriction",
    "lifted_at",
    "lifted_by",
    "lift_reason",
    "system_search",
    "withheld_reads",
    "version",
)
SUBJECT_REQUEST_OUTCOME_ATTRIBUTES = ("outcome", "version")
"""What the erasure function writes on a request: what the erasure did (R-SAR)."""
SUBJECT_REQUESTS = TableSpec(
    "subject-requests",
    partition_key=Key("request_id"),
    sort_key=None,
    serves="R-SAR: data-subject requests, their decisions and what was done",
    indexes=(
        Index("by-status", Key("status"), Key("due_date"), "GET /subject-requests?status=&overdue="),
        Index(
            "by-restriction",
            Key("restriction"),
            Key("vrm"),
            "searches: the VRMs under a restriction in force (sparse)",
        ),
    ),
    denies_deletes=True,
)

ACCOUNTS = TableSpec(
    "accounts",
    # One item per user name (Cognito `cognito:username`): what the API must know about an account
    # beyond its token, first of all whether it has been disabled (R-ACCOUNT: leavers refused at once).
    partition_key=Key("username"),
    sort_key=None,
    serves="R-ACCOUNT: is this caller disabled (every API request); account status for admins",
)

ACCOUNT_REVIEWS = TableSpec(
    "account-reviews",
    # One item per thing to review (R-ACCOUNT): an idle account the daily job suspended, or a role
    # change it saw. Ids are deterministic per user, kind and day, so a job run twice opens one.
    partition_key=Key("review_id"),
    sort_key=None,
    # Decided reviews expire two years after the decision (the audit trail keeps the decision).
    ttl_attribute="expires_at",
    serves="R-ACCOUNT reviews: opened by the daily account job; GET /admin/reviews; POST /admin/reviews/{id}",
    indexes=(
        Index("by-state", Key("state"), Key("due_at"), "GET /admin/reviews: open reviews, soonest due first"),
    ),
)

RETRO_HUNTS = TableSpec(
    "retro-hunts",
    # One item per retro-hunt of a single VOI entry (issue 10): the entry's hunts in one partition,
    # ordered by `hunt_id` (which starts with the request time), so GET /voi/{voi_id} reads the
    # latest with one query. Each expires with the entry it was asked for (R-VOI-56).
    partition_key=Key("voi_id"),
    sort_key=Key("hunt_id"),
    ttl_attribute="expires_at",
    serves="POST/PUT /voi with retro_hunt_days (queued); the retro-hunt function; GET /voi/{voi_id}",
)
# What the retro-hunt function may write on a hunt beside its key (the API only creates hunts).
RETRO_HUNT_KEY_ATTRIBUTES = ("voi_id", "hunt_id")
RETRO_HUNT_PROGRESS_ATTRIBUTES = (
    "status",
    "execution_id",
    "reads_found",
    "alerts_raised",
    "truncated",
    "failure",
    "finished_at",
)

TABLES: tuple[TableSpec, ...] = (
    VOI,
    RETRO_HUNTS,
    ALERTS,
    CAMERAS,
    IDEMPOTENCY,
    AUDIT,
    SEARCHES,
    AUTHORISATIONS,
    ACCOUNTS,
    ACCOUNT_REVIEWS,
    CORRECTIONS,
    PRESERVATIONS,
    SUBJECT_REQUESTS,
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


# Prefixes inside the reads bucket: Parquet rows (Hive-partitioned, `domain/layout.py`) and packed images.
READS_PREFIX = "reads/"
IMAGES_PREFIX = "images/"
# The partition keys of stored read rows, in path order (`reads/arrival=…/day=…/vrm_bucket=…/`): Glue
# partition columns (projected), Firehose dynamic partitioning keys, and fields of the JSON row archive
# sends (not Parquet columns).
READ_ARRIVAL_PARTITION = "arrival"
READ_DAY_PARTITION = "day"
READ_BUCKET_PARTITION = "vrm_bucket"
READ_PARTITION_KEYS: tuple[tuple[str, str], ...] = (
    (READ_ARRIVAL_PARTITION, "string"),
    (READ_DAY_PARTITION, "string"),
    (READ_BUCKET_PARTITION, "int"),
)
# Where search results are kept for paging (the Athena results bucket, which expires them in a day).
SEARCH_RESULTS_PREFIX = "searches/"
ATHENA_OUTPUT_PREFIX = "results/"

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

# R-PRESERVE: preserved copies in the evidence bucket (Object Lock: a legal hold on every object until
# released). Not a retained prefix: the retention check never lists or deletes it; a released copy is
# tagged and expired by the bucket's lifecycle rule for released preservations.
PRESERVATIONS_PREFIX = "preservations/"
PRESERVATION_RELEASED_TAG = ("nas-preservation", "released")
# R-AUDIT: signed digests of the audit chains, in the evidence bucket (Object Lock, compliance mode).
AUDIT_DIGEST_PREFIX = "audit-digests/"
AUDIT_SIGNING_KEY_ENV = "NAS_AUDIT_SIGNING_KEY"
# ECDSA on P-256: 64-72-byte signatures, fast to verify, FIPS 186 approved; KMS keeps the private key.
AUDIT_SIGNING_KEY_SPEC = "ECC_NIST_P256"
AUDIT_SIGNING_ALGORITHM = "ECDSA_SHA_256"
AUDIT_DIGEST_RETENTION_ENV = "NAS_AUDIT_DIGEST_RETENTION_DAYS"
# What the match function and the publish sweeper may write on an alert, beside its key: the
# published flag and the sparse index attribute that lists it until then (IAM `dynamodb:Attributes`).
ALERT_PUBLISH_ATTRIBUTES = ("published", "publish_pending")

# R-RET-367 / R-RET-365: the daily retention check's signed statements, beside the audit digests in the
# evidence bucket, signed with a key of their own (only the retention job may sign with it).
RETENTION_STATEMENT_PREFIX = "retention-statements/"
RETENTION_SIGNING_KEY_ENV = "NAS_RETENTION_SIGNING_KEY"
RETENTION_STATEMENT_LOCK_ENV = "NAS_RETENTION_STATEMENT_LOCK_DAYS"

# R-STATS: the daily statistics documents (no personal data), in the evidence bucket, one per day.
STATISTICS_PREFIX = "statistics/daily/"

READ_STREAM = "reads"
READ_STREAM_ENV = "NAS_STREAM_READS"
ALERT_BUS_ENV = "NAS_EVENT_BUS_ALERTS"
READ_ROWS_DELIVERY_ENV = "NAS_FIREHOSE_READ_ROWS"
USER_POOL_ENV = "NAS_USER_POOL_ID"
# R-ACCOUNT: "off" where the user pool keeps no auth events (local mode: moto does not emulate
# AdminListUserAuthEvents), so last sign-in is shown as unknown rather than asked for.
SIGN_IN_EVENTS_ENV = "NAS_SIGN_IN_EVENTS"
# Searches: the engine (`athena` in AWS, `duckdb` in local mode), Athena's workgroup and Glue database.
SEARCH_ENGINE_ENV = "NAS_SEARCH_ENGINE"
ATHENA_WORKGROUP_ENV = "NAS_ATHENA_WORKGROUP"
GLUE_DATABASE_ENV = "NAS_GLUE_DATABASE"
# R-SAR erasure in AWS: the api queues a granted erasure for the erasure function (the one with the
# pyarrow layer); a message received this many times without success goes to the dead-letter queue,
# and the last attempt records the request's erasure as failed.
ERASURE_QUEUE_ENV = "NAS_ERASURE_QUEUE_URL"
ERASURE_MAX_RECEIVES = 3
QUARANTINE_PREFIX = "quarantine/"
# R-VOI-BULK, the imports bucket: uploaded lists, an import's work files, its rejected rows.
IMPORTS_INCOMING_PREFIX = "incoming/"
IMPORTS_WORK_PREFIX = "work/"
IMPORTS_REJECTS_PREFIX = "rejects/"
# Records Firehose could not convert or deliver (in the reads bucket; the prefix Firehose writes under).
FIREHOSE_ERRORS_PREFIX = "firehose-errors/"


@dataclass(frozen=True, slots=True)
class RetainedPrefix:
    """A prefix holding reads or what is made of them, kept at most 367 days after it was stored
    (R-RET-367): S3 lifecycle expires it, and the daily retention check deletes what lifecycle missed
    and reports the oldest object left. A new store of read data adds its prefix here."""

    bucket: Bucket
    prefix: str
    holds: str


RETAINED_PREFIXES: tuple[RetainedPrefix, ...] = (
    RetainedPrefix(Bucket.READS, READS_PREFIX, "read rows (Parquet)"),
    RetainedPrefix(Bucket.READS, IMAGES_PREFIX, "packed plate and overview images"),
    RetainedPrefix(Bucket.READS, FIREHOSE_ERRORS_PREFIX, "read rows Firehose could not deliver"),
    RetainedPrefix(Bucket.QUARANTINE, QUARANTINE_PREFIX, "refused records, raw"),
    # VOI lists, not reads: lifecycle deletes them within 28 days (R-VOI-56 is their limit), and the
    # daily check still proves nothing there outlived 367.
    RetainedPrefix(Bucket.IMPORTS, IMPORTS_INCOMING_PREFIX, "VOI list uploads"),
    RetainedPrefix(Bucket.IMPORTS, IMPORTS_WORK_PREFIX, "VOI import work files"),
    RetainedPrefix(Bucket.IMPORTS, IMPORTS_REJECTS_PREFIX, "VOI import rejected rows"),
)
# EventBridge `source` and `detail-type` of alert events; per-LEA rules match on detail.lea.
ALERT_EVENT_SOURCE = "nas.match"
ALERT_EVENT_DETAIL_TYPE = "nas.alert.v1"
# R-VOI-28: the daily review reminder, one event per owner LEA (rules match on detail.owner_lea).
VOI_EVENT_SOURCE = "nas.voi"
VOI_REVIEW_DUE_DETAIL_TYPE = "nas.voi.review-due.v1"
# Retro-hunts (issue 10): the queue the API puts a requested hunt on for the retro-hunt function.
RETRO_HUNT_QUEUE_ENV = "NAS_QUEUE_RETRO_HUNTS"
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
    # R-VRM look-alike classes: the key of OCR-tolerant searches and of the storage bucket.
    ("vrm_canonical", "string"),
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
