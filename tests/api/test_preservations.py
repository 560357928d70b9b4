"""Preservations through the api Lambda (R-PRESERVE): reads of a senior investigator's search copied,
corrections applied, with their images into the evidence bucket under a legal hold, with a manifest of
SHA-256s; listed by case; released; outliving the original (R-RET-367) and never searched."""

from __future__ import annotations

import hashlib
import json
import shutil
from typing import Any

import boto3
import pytest

from nas import catalogue
from tests.api.conftest import EVIDENCE_BUCKET, READS_BUCKET, REGION, claims
from tests.api.readsdata import CASE, ESME, GROUPS, OLLY, ReadsApi, ago, ids
from tests.searchdata import StoredRead

WHY = "CPIA: evidence for the trial of the burglary suspect"


def preserve(reads_api: ReadsApi, search_id: str, read_ids: list[str], who: dict[str, str] = OLLY) -> Any:
    body = {"search_id": search_id, "read_ids": read_ids, "case_ref": CASE, "reason": WHY}
    return reads_api.api.call("POST", "/preservations", who, body=body)


def evidence_object(key: str) -> tuple[bytes, dict[str, Any]]:
    s3 = boto3.client("s3", region_name=REGION)
    got = s3.get_object(Bucket=EVIDENCE_BUCKET, Key=key)
    return got["Body"].read(), got


def legal_hold(key: str) -> str:
    s3 = boto3.client("s3", region_name=REGION)
    return str(s3.get_object_legal_hold(Bucket=EVIDENCE_BUCKET, Key=key)["LegalHold"]["Status"])


@pytest.fixture
def preserved(reads_api: ReadsApi) -> tuple[ReadsApi, dict[str, Any], dict[str, dict[str, bytes]]]:
    posted = reads_api.store(
        StoredRead("r1", "AB12CDE", ago(hours=3)), StoredRead("r2", "AB12CDE", ago(hours=2))
    )
    search_id = reads_api.vrm_search("AB12CDE", OLLY)["search_id"]
    assert reads_api.correct("r1", search_id, "AB12CDF", OLLY).status == 201
    reply = preserve(reads_api, search_id, ["r1", "r2"])
    assert reply.status == 201, reply.body
    return reads_api, reply.body, posted


def test_a_preservation_copies_rows_and_images_under_a_legal_hold_with_their_sha256(
    preserved: tuple[ReadsApi, dict[str, Any], dict[str, dict[str, bytes]]],
) -> None:
    _, made, posted = preserved
    assert (made["reads"], made["files"], made["case_ref"], made["created_by"]) == (2, 6, CASE, "olly")
    for read in made["preserved_reads"]:
        for file in read["files"]:
            body, got = evidence_object(file["key"])
            assert hashlib.sha256(body).hexdigest() == file["sha256"]
            assert len(body) == file["bytes"]
            assert got["ObjectLockLegalHoldStatus"] == "ON"
            assert legal_hold(file["key"]) == "ON"
            if file["kind"] != "read":
                assert body == posted[read["read_id"]][file["kind"]]
            # Keys name the preservation and a number, never a read or camera id.
            assert read["read_id"] not in file["key"]
            assert file["key"].startswith(f"{catalogue.PRESERVATIONS_PREFIX}{made['preservation_id']}/")


def test_the_preserved_copy_shows_the_corrected_vrm_and_its_history(
    preserved: tuple[ReadsApi, dict[str, Any], dict[str, dict[str, bytes]]],
) -> None:
    _, made, _ = preserved
    by_id = {r["read_id"]: r for r in made["preserved_reads"]}
    assert (by_id["r1"]["vrm"], by_id["r1"]["original_vrm"], by_id["r1"]["corrected"]) == (
        "AB12CDF",
        "AB12CDE",
        True,
    )
    [document_key] = [f["key"] for f in by_id["r1"]["files"] if f["kind"] == "read"]
    document = json.loads(evidence_object(document_key)[0])
    assert (document["vrm"], document["original_vrm"]) == ("AB12CDF", "AB12CDE")
    assert [c["vrm"] for c in document["corrections"]] == ["AB12CDF"]


def test_the_manifest_names_who_when_why_the_case_the_search_and_every_files_sha256(
    preserved: tuple[ReadsApi, dict[str, Any], dict[str, dict[str, bytes]]],
) -> None:
    reads_api, made, _ = preserved
    key = f"{catalogue.PRESERVATIONS_PREFIX}{made['preservation_id']}/manifest.json"
    body, got = evidence_object(key)
    assert got["ObjectLockLegalHoldStatus"] == "ON"
    assert hashlib.sha256(body).hexdigest() == made["manifest_sha256"]
    manifest = json.loads(body)
    assert (manifest["created_by"], manifest["case_ref"], manifest["reason"]) == ("olly", CASE, WHY)
    assert manifest["search"]["search_id"] == made["search_id"]
    assert manifest["search"]["purpose"] == "crime"
    listed = {f["key"]: f["sha256"] for r in manifest["reads"] for f in r["files"]}
    assert listed == {f["key"]: f["sha256"] for r in made["preserved_reads"] for f in r["files"]}
    fetched = reads_api.api.call("GET", f"/preservations/{made['preservation_id']}", OLLY)
    assert fetched.status == 200
    assert fetched.body == made


def test_a_correction_after_preservation_shows_on_the_manifest_and_leaves_the_copy_as_preserved(
    preserved: tuple[ReadsApi, dict[str, Any], dict[str, dict[str, bytes]]],
) -> None:
    reads_api, made, _ = preserved
    search_id = reads_api.vrm_search("AB12CDE", OLLY)["search_id"]
    assert reads_api.correct("r2", search_id, "AB12CDG", OLLY).status == 201
    fetched = reads_api.api.call("GET", f"/preservations/{made['preservation_id']}", OLLY).body
    by_id = {r["read_id"]: r for r in fetched["preserved_reads"]}
    assert (by_id["r2"]["vrm"], by_id["r2"]["current_vrm"]) == ("AB12CDE", "AB12CDG")
    assert (by_id["r1"]["vrm"], by_id["r1"]["current_vrm"]) == ("AB12CDF", "AB12CDF")
    [document_key] = [f["key"] for f in by_id["r2"]["files"] if f["kind"] == "read"]
    assert json.loads(evidence_object(document_key)[0])["vrm"] == "AB12CDE"


def test_preservations_are_listed_by_case_and_hidden_from_other_forces(
    preserved: tuple[ReadsApi, dict[str, Any], dict[str, dict[str, bytes]]],
) -> None:
    reads_api, made, _ = preserved
    listed = reads_api.api.call("GET", "/preservations", OLLY, query={"case_ref": CASE}).body
    assert [p["preservation_id"] for p in listed["preservations"]] == [made["preservation_id"]]
    other = reads_api.api.call("GET", "/preservations", ESME, query={"case_ref": CASE}).body
    assert other["preservations"] == []
    assert reads_api.api.call("GET", f"/preservations/{made['preservation_id']}", ESME).status == 404


def test_a_read_outside_the_callers_search_cannot_be_preserved(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("mine", "AB12CDE", ago(hours=3)), StoredRead("other", "ZZ99ZZZ", ago(hours=3)))
    search_id = reads_api.vrm_search("AB12CDE", OLLY)["search_id"]
    assert preserve(reads_api, search_id, ["mine", "other"]).status == 404
    esmes = claims("olly2", "senior-investigator", "KENT")
    assert preserve(reads_api, search_id, ["mine"], esmes).status == 404


def test_a_preserved_read_outlives_the_original_and_is_never_searched(
    preserved: tuple[ReadsApi, dict[str, Any], dict[str, dict[str, bytes]]],
) -> None:
    reads_api, made, _ = preserved
    # R-RET-367 deletes the original: its rows and its pack.
    shutil.rmtree(reads_api.root / catalogue.READS_PREFIX)
    s3 = boto3.client("s3", region_name=REGION)
    for listed in s3.list_objects_v2(Bucket=READS_BUCKET).get("Contents", []):
        s3.delete_object(Bucket=READS_BUCKET, Key=listed["Key"])
    assert ids(reads_api.vrm_search("AB12CDE", OLLY)) == []
    assert ids(reads_api.vrm_search("AB12CDF", OLLY)) == []
    for read in made["preserved_reads"]:
        for file in read["files"]:
            body, _ = evidence_object(file["key"])
            assert hashlib.sha256(body).hexdigest() == file["sha256"]
    assert reads_api.api.call("GET", f"/preservations/{made['preservation_id']}", OLLY).status == 200


def test_release_takes_the_holds_off_tags_the_copies_and_needs_a_reason(
    preserved: tuple[ReadsApi, dict[str, Any], dict[str, dict[str, bytes]]],
) -> None:
    reads_api, made, _ = preserved
    path = f"/preservations/{made['preservation_id']}"
    assert reads_api.api.call("DELETE", path, OLLY, query={"reason": "short"}).status == 400
    released = reads_api.api.call("DELETE", path, OLLY, query={"reason": "Case closed: no further action"})
    assert released.status == 200
    assert released.body["released_by"] == "olly"
    s3 = boto3.client("s3", region_name=REGION)
    keys = [f["key"] for r in made["preserved_reads"] for f in r["files"]]
    keys.append(f"{catalogue.PRESERVATIONS_PREFIX}{made['preservation_id']}/manifest.json")
    for key in keys:
        assert legal_hold(key) == "OFF"
        tags = s3.get_object_tagging(Bucket=EVIDENCE_BUCKET, Key=key)["TagSet"]
        name, value = catalogue.PRESERVATION_RELEASED_TAG
        assert {"Key": name, "Value": value} in tags
    again = reads_api.api.call("DELETE", path, OLLY, query={"reason": "Case closed: no further action"})
    assert again.status == 409


def test_a_held_copy_cannot_be_deleted_by_version() -> None:
    """Object Lock as the evidence bucket enforces it: a held version refuses deletion."""
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket="held",
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=True,
        )
        from nas.adapters.evidence import S3EvidenceStore

        version = S3EvidenceStore(s3, "held").put_held(
            "preservations/p/0001-read.json", b"{}", "application/json"
        )
        with pytest.raises(s3.exceptions.ClientError):
            s3.delete_object(Bucket="held", Key="preservations/p/0001-read.json", VersionId=version)


@pytest.mark.parametrize("group", GROUPS)
def test_preservation_routes_are_for_senior_investigators_only(reads_api: ReadsApi, group: str) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)))
    search_id = reads_api.vrm_search("AB12CDE", OLLY)["search_id"]
    who = claims("olly", group, "KENT")
    made = preserve(reads_api, search_id, ["r1"], who)
    listed = reads_api.api.call("GET", "/preservations", who, query={"case_ref": CASE})
    if group == "senior-investigator":
        assert (made.status, listed.status) == (201, 200)
        pid = made.body["preservation_id"]
        assert reads_api.api.call("GET", f"/preservations/{pid}", who).status == 200
    else:
        assert (made.status, listed.status) == (403, 403)
        pid = "00000000-0000-4000-8000-000000000000"
        assert reads_api.api.call("GET", f"/preservations/{pid}", who).status == 403
        assert reads_api.api.call("DELETE", f"/preservations/{pid}", who, query={"reason": WHY}).status == 403
