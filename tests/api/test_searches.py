"""The search API end to end through the api Lambda (moto for DynamoDB and S3), with the DuckDB engine
over reads written by the production row and sink code into a local directory: every search type
against known reads, R-DUP, the R-RET-365 floor, R-LIMIT truncation and paging, owner-only reads, and
the audit record of each request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest

from nas.adapters.cameras import DynamoCameraRegistry
from nas.adapters.duckdb_search import DuckDbSearchEngine
from nas.api import wiring
from nas.domain.layout import ReadRef
from nas.settings import settings
from tests.api.conftest import TABLE_NAMES, ApiAccount, Reply, claims
from tests.searchdata import CAMERAS, ESSEX_A, KENT_A, KENT_B, DirectoryS3, StoredRead, store

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
IVY = claims("ivy", "investigator", "KENT")
OLLY = claims("olly", "senior-investigator", "KENT")
SAM = claims("sam", "authoriser", "KENT")
OPERATOR = claims("op", "operator", "KENT")
CASE = "KENT-2026-001234"


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class SearchApi:
    api: ApiAccount
    root: Path
    clock: Clock
    engine: DuckDbSearchEngine

    def store(self, *reads: StoredRead) -> None:
        store(DirectoryS3(self.root), "reads", list(reads))

    def post(self, body: dict[str, Any], who: dict[str, str] = IVY) -> Reply:
        return self.api.call("POST", "/searches", who, body=body)

    def search(self, search: dict[str, Any], who: dict[str, str] = IVY, **why: Any) -> dict[str, Any]:
        """Runs a search and returns its first page (asserting it was accepted)."""
        reply = self.post(body(search, **why), who)
        assert reply.status == 202, reply.body
        page = self.api.call("GET", f"/searches/{reply.body['search_id']}", who)
        assert page.status == 200, page.body
        return dict(page.body)

    def grant(self, who: dict[str, str] = SAM, **fields: Any) -> Reply:
        request = {
            "grantee": "ivy",
            "case_ref": CASE,
            "investigation_level": "serious-complex",
            "max_lookback_days": 200,
            "expires_at": rfc3339(NOW + timedelta(days=7)),
            "reason": "Operation Kestrel: thefts since the spring",
        } | fields
        return self.api.call("POST", "/authorisations", who, body=request)


def body(search: dict[str, Any], **why: Any) -> dict[str, Any]:
    return (
        {
            "from": rfc3339(ago(days=30)),
            "to": rfc3339(NOW),
            "investigation_level": "priority-volume",
            "purpose": "crime",
            "reason": "Burglary enquiry, suspect vehicle",
            "case_ref": CASE,
        }
        | why
        | search
    )


@pytest.fixture
def searching(api: ApiAccount, tmp_path: Path) -> Iterator[SearchApi]:
    clock = Clock()
    engine = DuckDbSearchEngine(pafs.LocalFileSystem(), str(tmp_path))
    wiring.install(wiring.build_services(settings(), clock=clock, engine=engine))
    DynamoCameraRegistry(api.dynamodb, TABLE_NAMES["cameras"]).put_many(CAMERAS)
    yield SearchApi(api, tmp_path, clock, engine)
    wiring.reset()


def ids(page: dict[str, Any]) -> list[str]:
    return [row["read_id"] for row in page["rows"]]


# --- every type against known reads -----------------------------------------------------------------


def test_a_vrm_search_finds_each_read_once_newest_first(searching: SearchApi) -> None:
    searching.store(
        StoredRead("old", "AB12CDE", ago(days=20)),
        StoredRead("new", "AB12CDE", ago(hours=2), KENT_B),
        # R-DUP: delivered again two days later, stored in the late partitions too.
        StoredRead("new", "AB12CDE", ago(hours=2), KENT_B, stored_after=timedelta(days=2)),
        StoredRead("twin", "A812C0E", ago(days=1)),  # an OCR look-alike: not an exact match
        StoredRead("other", "ZZ99ZZZ", ago(days=1)),
    )
    page = searching.search({"type": "vrm", "vrm": "ab12 cde"})
    assert page["status"] == "succeeded"
    assert ids(page) == ["new", "old"]
    assert (page["row_count"], page["truncated"], page["next_page_token"]) == (2, False, None)
    newest = page["rows"][0]
    assert newest | {"read_ref": None} == {
        "read_id": "new",
        "vrm": "AB12CDE",
        "captured_at": ago(hours=2).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        "camera_id": KENT_B.camera_id,
        "lea": "KENT",
        "lat": KENT_B.lat,
        "lon": KENT_B.lon,
        "direction": "N",
        "confidence": 90,
        "corrected": False,
        "read_ref": None,
    }
    ref = ReadRef.decode(newest["read_ref"])  # reaches the read in one partition
    assert (ref.camera_id, ref.read_id, ref.partition.day) == (KENT_B.camera_id, "new", ago(hours=2).date())


def test_an_ocr_tolerant_search_also_finds_lookalike_vrms(searching: SearchApi) -> None:
    searching.store(
        StoredRead("exact", "AB12CDE", ago(days=3)),
        StoredRead("o-for-0", "A812C0E", ago(days=2)),
        StoredRead("i-and-q", "A8I2CQE", ago(days=1), extra={"lane": 1}),
        StoredRead("near-miss", "AB12CDF", ago(days=1)),
    )
    page = searching.search({"type": "vrm", "vrm": "AB12CDE", "ocr_tolerant": True})
    assert ids(page) == ["i-and-q", "o-for-0", "exact"]
    assert [r["vrm"] for r in page["rows"]] == ["A8I2CQE", "A812C0E", "AB12CDE"]


def test_a_partial_plate_finds_the_vrms_it_matches(searching: SearchApi) -> None:
    searching.store(
        StoredRead("a", "AB12CDE", ago(days=2)),
        StoredRead("b", "AB19CXE", ago(days=1)),  # ? and * both match
        StoredRead("c", "AB1C", ago(hours=5)),  # * may be empty: AB1 + C
        StoredRead("d", "XB12CDE", ago(hours=4)),
        StoredRead("e", "AB12DDE", ago(hours=3)),  # no C after the ?
    )
    page = searching.search({"type": "partial", "pattern": "ab1?c*"}, **{"from": rfc3339(ago(days=31))})
    assert sorted(ids(page)) == ["a", "b"]
    page = searching.search({"type": "partial", "pattern": "AB1*C*"})
    assert sorted(ids(page)) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("pattern", "field"),
    [("A?*?", "pattern"), ("AB", "pattern"), ("AB1%", "pattern"), ("ABCDEFGHIJK*", "pattern")],
)
def test_a_partial_plate_with_fewer_than_3_fixed_characters_or_bad_characters_is_400(
    searching: SearchApi, pattern: str, field: str
) -> None:
    reply = searching.post(body({"type": "partial", "pattern": pattern}))
    assert reply.status == 400
    assert reply.body["error"]["fields"] == [field]


def test_windows_beyond_their_type_limit_are_400_naming_to(searching: SearchApi) -> None:
    partial = searching.post(
        body({"type": "partial", "pattern": "AB1*"}, **{"from": rfc3339(ago(days=31, seconds=1))})
    )
    location = searching.post(
        body(
            {"type": "location", "camera_ids": [KENT_A.camera_id]},
            **{"from": rfc3339(ago(hours=24, seconds=1))},
        )
    )
    convoy = searching.post(body({"type": "convoy", "vrm": "AB12CDE"}, **{"from": rfc3339(ago(days=32))}))
    for reply in (partial, location, convoy):
        assert reply.status == 400, reply.body
        assert reply.body["error"]["fields"] == ["to"]


def test_a_location_search_finds_reads_at_the_cameras_named_or_near(searching: SearchApi) -> None:
    searching.store(
        StoredRead("kent-a", "AB12CDE", ago(hours=3), KENT_A),
        StoredRead("kent-b", "CD34EFG", ago(hours=2), KENT_B),
        StoredRead("essex", "EF56GHI", ago(hours=1), ESSEX_A),
        StoredRead("yesterday", "GH78IJK", ago(hours=30), KENT_A),
    )
    window = {"from": rfc3339(ago(hours=24))}
    named = searching.search(
        {"type": "location", "camera_ids": [KENT_A.camera_id, ESSEX_A.camera_id]}, **window
    )
    assert ids(named) == ["essex", "kent-a"]
    reply = searching.post(
        body({"type": "location", "near": {"lat": 51.2790, "lon": 1.0780, "radius_m": 500}}, **window)
    )
    assert reply.status == 202
    near = searching.api.call("GET", f"/searches/{reply.body['search_id']}", IVY).body
    assert ids(near) == ["kent-a"]  # KENT-A2-001 is about 110 m away; the others are kilometres off
    record = searching.api.audit_for(reply.request_id)
    assert record["parameters"]["uses"]["cameras"] == [KENT_A.camera_id]


def test_a_near_search_resolving_to_no_camera_is_400(searching: SearchApi) -> None:
    reply = searching.post(
        body(
            {"type": "location", "near": {"lat": 55.0, "lon": -3.0, "radius_m": 2000}},
            **{"from": rfc3339(ago(hours=2))},
        )
    )
    assert reply.status == 400
    assert reply.body["error"]["fields"] == ["near"]


def test_a_convoy_search_finds_vehicles_seen_with_the_target_on_enough_occasions(
    searching: SearchApi,
) -> None:
    target = [(ago(days=3), KENT_A), (ago(days=2), KENT_B), (ago(days=1), ESSEX_A)]
    reads = [StoredRead(f"t{n}", "AB12CDE", at, cam) for n, (at, cam) in enumerate(target)]
    # A companion within 60 s of all three target reads; another within 120 s of two; a third
    # seen at the right cameras but 10 minutes apart; a fourth at another camera at the same time.
    reads += [
        StoredRead(f"c{n}", "CV01AAA", at + timedelta(seconds=60), cam) for n, (at, cam) in enumerate(target)
    ]
    reads += [
        StoredRead(f"d{n}", "DV02BBB", at - timedelta(seconds=120), cam)
        for n, (at, cam) in enumerate(target[:2])
    ]
    reads += [
        StoredRead(f"e{n}", "EV03CCC", at + timedelta(minutes=10), cam) for n, (at, cam) in enumerate(target)
    ]
    reads += [
        StoredRead(f"f{n}", "FV04DDD", at, ESSEX_A if cam is not ESSEX_A else KENT_A)
        for n, (at, cam) in enumerate(target)
    ]
    searching.store(*reads)
    page = searching.search({"type": "convoy", "vrm": "AB12CDE", "within_s": 120, "min_sightings": 2})
    assert [(r["vrm"], r["count"]) for r in page["rows"]] == [("CV01AAA", 3), ("DV02BBB", 2)]
    companion = page["rows"][0]
    assert [r["read_id"] for r in companion["reads"]] == ["c0", "c1", "c2"]
    assert companion["cameras"] == [KENT_A.camera_id, KENT_B.camera_id, ESSEX_A.camera_id]
    assert companion["supporting_reads"] == 3
    three = searching.search({"type": "convoy", "vrm": "AB12CDE", "within_s": 120, "min_sightings": 3})
    assert [r["vrm"] for r in three["rows"]] == ["CV01AAA"]


# --- R-RET-365 -----------------------------------------------------------------------------------------


def test_no_read_older_than_365_days_is_returned_even_from_a_partition_the_search_reads(
    searching: SearchApi,
) -> None:
    searching.store(
        StoredRead("364", "AB12CDE", ago(days=364)),
        # Captured 366 days ago and stored late, two days after: its partition (the late arrivals of
        # 364 days ago) is among those a 365-day search reads, so only the query's floor keeps it out.
        StoredRead("366", "AB12CDE", ago(days=366), stored_after=timedelta(days=2)),
    )
    grant = searching.grant(investigation_level="major", max_lookback_days=365)
    assert grant.status == 201, grant.body
    page = searching.search(
        {"type": "vrm", "vrm": "AB12CDE"},
        **{"from": rfc3339(ago(days=365)), "investigation_level": "major"},
        authorisation_id=grant.body["authorisation_id"],
    )
    assert ids(page) == ["364"]
    assert any("arrival=late" in f for f in searching.engine.last_files)


# --- R-ACCESS / R-AUTHZ ------------------------------------------------------------------------------------


def test_priority_volume_reaches_exactly_90_days(searching: SearchApi) -> None:
    ok = searching.post(body({"type": "vrm", "vrm": "AB12CDE"}, **{"from": rfc3339(ago(days=90))}))
    beyond = searching.post(
        body({"type": "vrm", "vrm": "AB12CDE"}, **{"from": rfc3339(ago(days=90, seconds=1))})
    )
    assert ok.status == 202
    assert (beyond.status, beyond.body["error"]["code"]) == (403, "lookback-exceeds-level")


def test_beyond_90_days_needs_a_live_authorisation_for_this_user_case_and_level(searching: SearchApi) -> None:
    search = {"type": "vrm", "vrm": "AB12CDE"}
    window = {"from": rfc3339(ago(days=100)), "investigation_level": "serious-complex"}
    assert searching.post(body(search, **window)).body["error"]["code"] == "authorisation-required"
    granted = searching.grant().body["authorisation_id"]
    assert searching.post(body(search, **window, authorisation_id=granted)).status == 202
    # Not for another user, case or level, nor beyond its 200 days.
    assert searching.post(body(search, **window, authorisation_id=granted), OLLY).status == 403
    other_case = body(search, **window, authorisation_id=granted) | {"case_ref": "KENT-2026-009999"}
    assert searching.post(other_case).body["error"]["code"] == "authorisation-not-valid"
    major = body(search, **window, authorisation_id=granted) | {"investigation_level": "major"}
    assert searching.post(major).body["error"]["code"] == "authorisation-not-valid"
    too_far = body(search, **window | {"from": rfc3339(ago(days=200, seconds=1))}, authorisation_id=granted)
    assert searching.post(too_far).body["error"]["code"] == "authorisation-not-valid"
    unknown = body(search, **window, authorisation_id="no-such-authorisation")
    assert searching.post(unknown).body["error"]["code"] == "authorisation-not-valid"


def test_a_revoked_authorisation_is_refused_at_once(searching: SearchApi) -> None:
    granted = searching.grant().body["authorisation_id"]
    request = body(
        {"type": "vrm", "vrm": "AB12CDE"},
        **{"from": rfc3339(ago(days=100)), "investigation_level": "serious-complex"},
        authorisation_id=granted,
    )
    assert searching.post(request).status == 202
    revoked = searching.api.call("DELETE", f"/authorisations/{granted}", SAM)
    assert revoked.status == 200
    assert revoked.body["revoked_by"] == "sam"
    refused = searching.post(request)
    assert (refused.status, refused.body["error"]["code"]) == (403, "authorisation-not-valid")


def test_an_expired_authorisation_is_refused(searching: SearchApi) -> None:
    granted = searching.grant(expires_at=rfc3339(NOW + timedelta(hours=1))).body["authorisation_id"]
    request = body(
        {"type": "vrm", "vrm": "AB12CDE"},
        **{"from": rfc3339(ago(days=100)), "investigation_level": "serious-complex"},
        authorisation_id=granted,
    )
    searching.clock.now = NOW + timedelta(hours=1)
    refused = searching.post(request)
    assert (refused.status, refused.body["error"]["code"]) == (403, "authorisation-not-valid")


def test_nobody_authorises_themselves(searching: SearchApi) -> None:
    both = claims("sam", "authoriser,investigator", "KENT")
    reply = searching.grant(both, grantee="sam")
    assert (reply.status, reply.body["error"]["code"]) == (403, "self-authorisation")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"expires_at": rfc3339(NOW + timedelta(days=30, seconds=1))}, "expires_at"),
        ({"expires_at": rfc3339(NOW - timedelta(seconds=1))}, "expires_at"),
        ({"investigation_level": "priority-volume"}, "investigation_level"),
        ({"max_lookback_days": 366}, "max_lookback_days"),
        ({"reason": "short"}, "reason"),
    ],
)
def test_an_authorisation_outside_the_rules_is_400_naming_the_field(
    searching: SearchApi, fields: dict[str, Any], field: str
) -> None:
    reply = searching.grant(**fields)
    assert reply.status == 400
    assert reply.body["error"]["fields"] == [field]


def test_authorisers_list_what_they_granted_and_grantees_their_own(searching: SearchApi) -> None:
    first = searching.grant().body["authorisation_id"]
    second = searching.grant(grantee="olly").body["authorisation_id"]
    granted = searching.api.call("GET", "/authorisations", SAM).body
    assert {a["authorisation_id"] for a in granted["authorisations"]} == {first, second}
    mine = searching.api.call("GET", "/authorisations", IVY, query={"mine": "true"}).body
    assert [a["authorisation_id"] for a in mine["authorisations"]] == [first]
    assert searching.api.call("GET", "/authorisations", IVY).status == 403  # grantees list their own only


def test_an_authoriser_of_another_force_cannot_revoke(searching: SearchApi) -> None:
    granted = searching.grant().body["authorisation_id"]
    essex = claims("ed", "authoriser", "ESSEX")
    assert searching.api.call("DELETE", f"/authorisations/{granted}", essex).status == 404
    assert (
        searching.api.call("DELETE", f"/authorisations/{granted}", claims("kim", "authoriser", "KENT")).status
        == 200
    )


# --- owner only, R-LIMIT ---------------------------------------------------------------------------------


def test_only_the_user_who_ran_a_search_reads_it(searching: SearchApi) -> None:
    searching.store(StoredRead("r", "AB12CDE", ago(days=1)))
    started = searching.post(body({"type": "vrm", "vrm": "AB12CDE"}))
    search_id = started.body["search_id"]
    assert searching.api.call("GET", f"/searches/{search_id}", IVY).status == 200
    other = searching.api.call("GET", f"/searches/{search_id}", OLLY)
    assert (other.status, other.body["error"]["code"]) == (404, "not-found")
    assert searching.api.call("GET", f"/searches/{search_id}", OPERATOR).status == 403
    listed = searching.api.call("GET", "/searches", IVY).body["searches"]
    assert [s["search_id"] for s in listed] == [search_id]
    assert listed[0]["criteria"] == {"vrm": "AB12CDE", "ocr_tolerant": False}
    assert searching.api.call("GET", "/searches", OLLY).body["searches"] == []


def test_a_search_returns_at_most_1000_rows_in_pages_of_100(searching: SearchApi) -> None:
    searching.store(*[StoredRead(f"r{n:04d}", "AB12CDE", ago(minutes=10 + n)) for n in range(1005)])
    started = searching.post(body({"type": "vrm", "vrm": "AB12CDE"}))
    search_id, token, seen = started.body["search_id"], None, []
    for _ in range(10):
        page = searching.api.call(
            "GET", f"/searches/{search_id}", IVY, query={"page_token": token} if token else None
        ).body
        assert len(page["rows"]) == 100
        assert (page["truncated"], page["row_count"]) == (True, 1000)
        seen += ids(page)
        token = page["next_page_token"]
    assert token is None
    assert seen == [f"r{n:04d}" for n in range(1000)]  # newest first, the oldest 5 cut


@pytest.mark.parametrize(
    "token",
    [
        {"search_id": "other", "offset": 100},
        {"search_id": "SELF", "offset": 150},
        {"search_id": "SELF", "offset": 1000},
        {"search_id": "SELF", "offset": True},
        {"search_id": "SELF"},
    ],
)
def test_a_page_token_not_issued_for_this_search_is_400(searching: SearchApi, token: dict[str, Any]) -> None:
    from nas.api.params import encode_token

    started = searching.post(body({"type": "vrm", "vrm": "AB12CDE"}))
    search_id = started.body["search_id"]
    forged = encode_token({k: (search_id if v == "SELF" else v) for k, v in token.items()})
    reply = searching.api.call("GET", f"/searches/{search_id}", IVY, query={"page_token": forged})
    assert reply.status == 400
    assert reply.body["error"]["fields"] == ["page_token"]


# --- R-AUDIT --------------------------------------------------------------------------------------------


def test_every_search_and_refusal_is_audited_with_what_was_searched_and_why(searching: SearchApi) -> None:
    searching.store(StoredRead("r", "AB12CDE", ago(days=1)))
    accepted = searching.post(body({"type": "vrm", "vrm": "AB12CDE"}))
    refused = searching.post(body({"type": "vrm", "vrm": "CD34EFG"}, **{"from": rfc3339(ago(days=91))}))
    bad_pattern = searching.post(body({"type": "partial", "pattern": "A?*B"}))
    invalid = searching.post(body({"type": "vrm", "vrm": "EF56GHI"}, purpose="curiosity"))
    page = searching.api.call("GET", f"/searches/{accepted.body['search_id']}", IVY)

    record = searching.api.audit_for(accepted.request_id)
    assert record["parameters"]["arguments"]["request"]["vrm"] == "AB12CDE"
    assert record["parameters"]["arguments"]["request"]["from"] == rfc3339(ago(days=30))
    assert record["parameters"]["uses"]["search_id"] == accepted.body["search_id"]
    assert (record["purpose"], record["reason"], record["case_ref"]) == (
        "crime",
        "Burglary enquiry, suspect vehicle",
        CASE,
    )
    assert record["status"] == 202
    denial = searching.api.audit_for(refused.request_id)
    assert (denial["status"], denial["parameters"]["arguments"]["request"]["vrm"]) == (403, "CD34EFG")
    assert denial["case_ref"] == CASE
    pattern = searching.api.audit_for(bad_pattern.request_id)
    assert (pattern["status"], pattern["parameters"]["arguments"]["request"]["pattern"]) == (400, "A?*B")
    unvalidated = searching.api.audit_for(invalid.request_id)
    assert unvalidated["status"] == 400
    assert json.loads(unvalidated["parameters"]["body"])["vrm"] == "EF56GHI"
    read = searching.api.audit_for(page.request_id)
    assert (read["result_count"], read["purpose"], read["case_ref"]) == (1, "crime", CASE)


def test_searches_need_a_search_role(searching: SearchApi) -> None:
    reply = searching.post(body({"type": "vrm", "vrm": "AB12CDE"}), OPERATOR)
    assert (reply.status, reply.body["error"]["code"]) == (403, "role-not-permitted")
