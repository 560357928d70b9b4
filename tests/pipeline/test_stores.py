"""The voi and cameras adapters against moto: match items, pruning, white list, cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nas import catalogue
from nas.adapters.cameras import DynamoCameraRegistry
from nas.adapters.dynamo import from_item, to_item
from nas.domain.voi_lists import ListSource
from tests.pipeline.conftest import CAMERAS, NAMES, PipelineAccount, voi_entry
from tests.voi_support import Row, list_file


def test_entries_of_one_vrm_share_a_match_item_and_keep_their_own_items(account: PipelineAccount) -> None:
    now = datetime.now(UTC)
    account.put_voi(voi_entry("AB12CDE", voi_id="a", revised=now - timedelta(days=3)))
    account.put_voi(voi_entry("AB12CDE", voi_id="b", source="dvla", revised=now - timedelta(days=1)))

    listed = account.voi.listings({"AB12CDE", "ZZ99ZZZ"})
    assert sorted(e.voi_id for e in listed["AB12CDE"].entries) == ["a", "b"]
    assert "ZZ99ZZZ" not in listed
    items = [from_item(i) for i in account.dynamodb.scan(TableName=NAMES[catalogue.VOI])["Items"]]
    records = {i["record"]: i for i in items if i["vrm"] == "AB12CDE"}
    assert set(records) == {"MATCH", "ENTRY#a", "ENTRY#b"}
    # The singles directory lists the VRM, so the match path knows to look it up.
    [directory] = [i for i in items if i["record"] == "DIRECTORY"]
    assert directory["vrms"] == {"AB12CDE"}
    # TTL: each entry on its own expiry; the match item lives as long as its latest entry.
    assert records["ENTRY#a"]["expires_at"] == int(
        voi_entry(voi_id="a", revised=now - timedelta(days=3)).expires_at.timestamp()
    )
    assert records["MATCH"]["expires_at"] == records["ENTRY#b"]["expires_at"]


def test_a_revision_replaces_the_entry_and_drops_expired_ones(account: PipelineAccount) -> None:
    now = datetime.now(UTC)
    account.put_voi(voi_entry("AB12CDE", voi_id="old", revised=now - timedelta(days=60)))
    account.put_voi(voi_entry("AB12CDE", voi_id="kept", revised=now - timedelta(days=2)), at=now)
    account.put_voi(voi_entry("AB12CDE", voi_id="kept", revised=now - timedelta(hours=1)), at=now)

    [entry] = account.voi.listings({"AB12CDE"})["AB12CDE"].entries
    assert entry.voi_id == "kept"
    assert entry.last_revised_at > now - timedelta(hours=2)


def test_a_listing_says_whether_the_white_list_holds_the_vrm(account: PipelineAccount) -> None:
    account.lists.rows(ListSource.DVLA, [Row("LISTED1"), Row("NOTWL33")])
    account.put_voi(voi_entry("LATER22", voi_id="after", source="pnc"))
    account.lists.load(ListSource.WHITELIST, list_file(["LISTED1", "LATER22"], header="vrm"))

    listings = account.voi.listings({"LISTED1", "LATER22", "NOTWL33", "NOTHING4"})
    assert {vrm: listing.white_listed for vrm, listing in listings.items()} == {
        "LISTED1": True,
        "LATER22": True,
        "NOTWL33": False,
    }


def test_camera_registry_caches_and_refreshes_after_its_ttl(account: PipelineAccount) -> None:
    clock = [0.0]
    registry = DynamoCameraRegistry(
        account.dynamodb, NAMES[catalogue.CAMERAS], cache_ttl_s=60, clock=lambda: clock[0]
    )
    assert set(registry.get_many({"KENT-0001", "NOPE"})) == {"KENT-0001"}

    moved = CAMERAS[0].model_copy(update={"active": False})
    registry.put_many([moved])
    assert registry.get_many({"KENT-0001"})["KENT-0001"].active is True  # cached
    clock[0] = 61
    assert registry.get_many({"KENT-0001"})["KENT-0001"].active is False  # refreshed


def test_a_camera_item_that_no_longer_validates_is_left_out_not_raised(account: PipelineAccount) -> None:
    account.dynamodb.put_item(
        TableName=NAMES[catalogue.CAMERAS],
        Item=to_item(
            {
                "camera_id": "GONE-1",
                "lea": "NOT-A-FORCE",
                "lat": 1.0,
                "lon": 1.0,
                "source": "static",
                "active": True,
            }
        ),
    )
    registry = DynamoCameraRegistry(account.dynamodb, NAMES[catalogue.CAMERAS])
    assert set(registry.get_many({"GONE-1", "KENT-0001"})) == {"KENT-0001"}


def test_a_malformed_voi_entry_is_skipped_and_the_others_still_match(account: PipelineAccount) -> None:
    account.put_voi(voi_entry("AB12CDE", voi_id="good"))
    account.dynamodb.update_item(
        TableName=NAMES[catalogue.VOI],
        Key=to_item({"vrm": "AB12CDE", "record": "MATCH"}),
        UpdateExpression="SET entries.#bad = :raw",
        ExpressionAttributeNames={"#bad": "bad"},
        ExpressionAttributeValues=to_item({":raw": '{"voi_id": "bad", "vrm": "AB12CDE"}'}),
    )
    [entry] = account.voi.listings({"AB12CDE"})["AB12CDE"].entries
    assert entry.voi_id == "good"


def test_a_newly_registered_camera_is_seen_within_seconds_not_a_minute(account: PipelineAccount) -> None:
    clock = [0.0]
    registry = DynamoCameraRegistry(account.dynamodb, NAMES[catalogue.CAMERAS], clock=lambda: clock[0])
    new = CAMERAS[0].model_copy(update={"camera_id": "KENT-NEW-1"})
    assert registry.get_many({"KENT-NEW-1"}) == {}  # not registered yet: remembered as a miss

    registry.put_many([new])
    clock[0] = 2
    assert registry.get_many({"KENT-NEW-1"}) == {}  # the miss is still remembered
    clock[0] = 6
    assert registry.get_many({"KENT-NEW-1"}) == {"KENT-NEW-1": new}
