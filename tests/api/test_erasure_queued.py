"""R-SAR erasure as it runs in AWS: the api records a granted erasure as pending and queues it; the
erasure function (its handler, called with the SQS event moto hands out) rewrites the Parquet and
blanks the images as local mode does, and records the counts on the request. A failing erasure is
retried, marked failed on its last attempt, and carried out by a redrive. Parquet is in a local
directory (pyarrow's S3 client cannot reach moto in-process); packs, tables and the queue are moto's."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pyarrow.fs as pafs
import pytest

from handlers.erasure import handle
from nas import catalogue
from nas.adapters.duckdb_search import DuckDbSearchEngine
from nas.adapters.erasure_queue import SqsErasureQueue
from nas.adapters.parquet_reads import ParquetReadStore
from nas.api import wiring
from nas.jobs.wiring import build_erasure_work
from nas.services.subject_requests import ErasureWork
from nas.settings import settings
from tests.api.conftest import READS_BUCKET, REGION
from tests.api.readsdata import DORA, OLLY, ReadsApi, ago, ids
from tests.api.test_subject_requests import decide, export, new_request, stored_vrms
from tests.searchdata import KENT_B, StoredRead

ERASED = ("gone1", "gone2")


@pytest.fixture
def queued(reads_api: ReadsApi) -> tuple[ReadsApi, str]:
    """The api as in AWS: erasures go to a queue, nothing here can rewrite Parquet."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="nas-test-erasures")["QueueUrl"]
    filesystem, root = pafs.LocalFileSystem(), str(reads_api.root)
    wiring.install(
        wiring.build_services(
            settings(),
            clock=reads_api.clock,
            engine=DuckDbSearchEngine(filesystem, root),
            reads=ParquetReadStore(filesystem, root),
            erasures=SqsErasureQueue(sqs, url),
        )
    )
    return reads_api, url


def worker(reads_api: ReadsApi, reads_bucket: str = READS_BUCKET) -> ErasureWork:
    config = settings().model_copy(update={"buckets": {**settings().buckets, "reads": reads_bucket}})
    return build_erasure_work(
        config, clock=reads_api.clock, filesystem=pafs.LocalFileSystem(), root=str(reads_api.root)
    )


def received(url: str) -> dict[str, Any]:
    """The queued messages as the Lambda event source hands them over."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
    ).get("Messages", [])
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
    }


def store_reads(reads_api: ReadsApi) -> dict[str, dict[str, bytes]]:
    return reads_api.store(
        StoredRead("gone1", "AB12CDE", ago(days=3)),
        StoredRead("gone2", "AB12CDE", ago(hours=5), KENT_B),
        StoredRead("kept1", "ZZ99ZZZ", ago(days=3)),
        StoredRead("kept2", "AB12CDF", ago(hours=5), KENT_B),
    )


def packs() -> bytes:
    s3 = boto3.client("s3", region_name=REGION)
    return b"".join(
        s3.get_object(Bucket=READS_BUCKET, Key=o["Key"])["Body"].read()
        for o in s3.list_objects_v2(Bucket=READS_BUCKET)["Contents"]
    )


def test_a_granted_erasure_is_queued_and_the_function_erases_and_records_the_counts(
    queued: tuple[ReadsApi, str],
) -> None:
    reads_api, url = queued
    posted = store_reads(reads_api)
    before = stored_vrms(reads_api)
    made = new_request(reads_api, "erasure")
    decided = decide(reads_api, made["request_id"])
    assert decided.status == 200, decided.body
    assert decided.body["outcome"]["erasure_state"] == "pending"
    assert stored_vrms(reads_api) == before  # nothing erased by the api itself
    event = received(url)
    assert [json.loads(r["body"]) for r in event["Records"]] == [{"request_id": made["request_id"]}]

    assert handle(event, worker(reads_api)) == {"batchItemFailures": []}

    assert stored_vrms(reads_api) == [row for row in before if row[0] not in ERASED]
    shown = reads_api.api.call("GET", f"/subject-requests/{made['request_id']}", DORA).body
    assert shown["outcome"]["erasure_state"] == "done"
    assert shown["outcome"]["erasure"]["rows_removed"] == 2
    assert shown["outcome"]["erasure"]["images_removed"] == 4
    assert shown["decision"] == "granted"
    body = packs()
    for read_id, images in posted.items():
        for image in images.values():
            assert (image in body) is (read_id not in ERASED)
    assert ids(reads_api.vrm_search("AB12CDE", OLLY)) == []
    # A second delivery of the same message changes nothing.
    assert handle(event, worker(reads_api)) == {"batchItemFailures": []}
    again = reads_api.api.call("GET", f"/subject-requests/{made['request_id']}", DORA).body
    assert again["outcome"] == shown["outcome"]


def test_an_erasure_granted_in_part_reaches_the_function_with_the_reads_withheld(
    queued: tuple[ReadsApi, str],
) -> None:
    reads_api, url = queued
    store_reads(reads_api)
    before = stored_vrms(reads_api)
    made = new_request(reads_api, "erasure")
    newest = export(reads_api, made["request_id"]).body["reads"][0]["entry_id"]  # gone2, 5 hours ago
    decided = decide(
        reads_api, made["request_id"], decision="partly", exemption="DPA 2018 s47(2)", withheld=[newest]
    )
    assert decided.status == 200, decided.body
    assert decided.body["outcome"]["erasure_state"] == "pending"

    assert handle(received(url), worker(reads_api)) == {"batchItemFailures": []}

    assert stored_vrms(reads_api) == [row for row in before if row[0] != "gone1"]
    shown = reads_api.api.call("GET", f"/subject-requests/{made['request_id']}", DORA).body
    assert (shown["outcome"]["erasure"]["rows_removed"], shown["outcome"]["reads_withheld"]) == (1, 1)


def test_a_failing_erasure_is_retried_marked_failed_on_its_last_attempt_and_done_on_redrive(
    queued: tuple[ReadsApi, str],
) -> None:
    reads_api, url = queued
    store_reads(reads_api)
    before = stored_vrms(reads_api)
    made = new_request(reads_api, "erasure")
    assert decide(reads_api, made["request_id"]).status == 200
    event = received(url)
    message_id = event["Records"][0]["messageId"]
    broken = worker(reads_api, reads_bucket="nas-test-no-such-bucket")  # packs cannot be read

    assert handle(event, broken) == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    shown = reads_api.api.call("GET", f"/subject-requests/{made['request_id']}", DORA).body
    assert shown["outcome"]["erasure_state"] == "pending"  # not the last attempt: retried
    assert stored_vrms(reads_api) == before  # images go first: the rows that name them are all kept

    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(catalogue.ERASURE_MAX_RECEIVES)
    assert handle(event, broken) == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    failed = reads_api.api.call("GET", f"/subject-requests/{made['request_id']}", DORA).body
    assert failed["outcome"]["erasure_state"] == "failed"
    assert failed["outcome"]["error"].startswith("StoreError: s3 GetObject (pack)"), failed["outcome"]

    # From the dead-letter queue, redriven once the cause is fixed.
    assert handle(event, worker(reads_api)) == {"batchItemFailures": []}
    done = reads_api.api.call("GET", f"/subject-requests/{made['request_id']}", DORA).body
    assert (done["outcome"]["erasure_state"], done["outcome"]["erasure"]["rows_removed"]) == ("done", 2)
    assert stored_vrms(reads_api) == [row for row in before if row[0] not in ERASED]


def test_an_erasure_that_cannot_be_queued_is_marked_failed_and_the_dpo_told(
    reads_api: ReadsApi,
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    missing = f"https://sqs.{REGION}.amazonaws.com/123456789012/nas-test-no-such-queue"
    filesystem, root = pafs.LocalFileSystem(), str(reads_api.root)
    wiring.install(
        wiring.build_services(
            settings(),
            clock=reads_api.clock,
            engine=DuckDbSearchEngine(filesystem, root),
            reads=ParquetReadStore(filesystem, root),
            erasures=SqsErasureQueue(sqs, missing),
        )
    )
    made = new_request(reads_api, "erasure")
    assert decide(reads_api, made["request_id"]).status == 503
    shown = reads_api.api.call("GET", f"/subject-requests/{made['request_id']}", DORA).body
    assert (shown["decision"], shown["outcome"]["erasure_state"]) == ("granted", "failed")
