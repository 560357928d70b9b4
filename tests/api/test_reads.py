"""Read views, images and corrections through the api Lambda (SPEC §6, R-REASON, R-CORRECT): a read is
opened only as a row of the caller's own search, its images come by byte range from the pack, and a
correction reaches searches and alerts."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas.adapters.voi import DynamoVoiStore
from nas.domain.models import Outcome
from tests.api.conftest import ALERTS_TABLE, OPERATOR_KENT, TABLE_NAMES, claims
from tests.api.readsdata import (
    CASE,
    GROUPS,
    IAN,
    NOW,
    OLLY,
    REASON,
    ReadsApi,
    ago,
    ids,
)
from tests.pipeline.conftest import voi_entry
from tests.searchdata import ESSEX_A, KENT_B, StoredRead


def test_a_read_of_the_callers_search_shows_its_row_images_held_and_no_pack_key(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3), KENT_B, extra={"lane": 2}))
    page = reads_api.vrm_search("AB12CDE")
    reply = reads_api.view("r1", page["search_id"])
    assert reply.status == 200, reply.body
    read = reply.body
    assert read | {"read_ref": None, "ingested_at": None} == {
        "read_id": "r1",
        "vrm": "AB12CDE",
        "original_vrm": "AB12CDE",
        "corrected": False,
        "captured_at": page["rows"][0]["captured_at"],
        "camera_id": KENT_B.camera_id,
        "lea": "KENT",
        "lat": KENT_B.lat,
        "lon": KENT_B.lon,
        "direction": "N",
        "confidence": 90,
        "source": "multi-lane",
        "lane": 2,
        "late": False,
        "ingested_at": None,
        "read_ref": None,
        "images": {"plate": True, "overview": True},
        "corrections": [],
    }
    # Nothing of the pack is shown: no key, and so nothing a client could fetch whole.
    assert "images/" not in str(read)


def test_a_read_view_carries_the_searchs_purpose_reason_and_case_into_the_audit(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)))
    page = reads_api.vrm_search("AB12CDE")
    reply = reads_api.view("r1", page["search_id"])
    record = reads_api.api.audit_for(reply.request_id)
    assert (record["purpose"], record["reason"], record["case_ref"]) == ("crime", REASON, CASE)
    assert record["route"] == "/reads/{read_id}"
    assert record["parameters"]["arguments"]["search_id"] == page["search_id"]
    assert (record["status"], record["result_count"]) == (200, 1)


def test_a_read_outside_the_callers_search_is_404(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("mine", "AB12CDE", ago(hours=3)), StoredRead("other", "ZZ99ZZZ", ago(hours=2)))
    page = reads_api.vrm_search("AB12CDE")
    assert ids(page) == ["mine"]
    # A stored read the search did not return, someone else's search, a search that does not exist.
    assert reads_api.view("other", page["search_id"]).status == 404
    assert reads_api.view("mine", page["search_id"], IAN).status == 404
    assert reads_api.image("mine", "plate", page["search_id"], IAN).status == 404
    missing = "00000000-0000-4000-8000-000000000000"
    assert reads_api.view("mine", missing).status == 404


def test_image_bytes_are_the_bytes_posted_and_audited_with_their_size(reads_api: ReadsApi) -> None:
    posted = reads_api.store(
        StoredRead("r1", "AB12CDE", ago(hours=3)), StoredRead("r2", "AB12CDE", ago(hours=1))
    )
    page = reads_api.vrm_search("AB12CDE")
    for read_id in ("r1", "r2"):
        for kind in ("plate", "overview"):
            reply = reads_api.image(read_id, kind, page["search_id"])
            assert reply.status == 200
            assert reply.body == posted[read_id][kind]
            assert reply.headers["content-type"] == "image/jpeg"
    record = reads_api.api.audit_for(reply.request_id)
    assert record["parameters"]["uses"]["bytes"] == len(posted["r2"]["overview"])
    assert (record["purpose"], record["case_ref"]) == ("crime", CASE)


def test_a_read_without_images_answers_404_for_its_image(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("bare", "AB12CDE", ago(hours=3)), images=False)
    page = reads_api.vrm_search("AB12CDE")
    assert reads_api.view("bare", page["search_id"]).body["images"] == {"plate": False, "overview": False}
    assert reads_api.image("bare", "plate", page["search_id"]).status == 404


def test_no_presigned_url_to_a_pack_anywhere_in_the_runtime() -> None:
    runtime = Path(__file__).parents[2] / "lambdas"
    offenders = [
        str(path)
        for path in runtime.rglob("*.py")
        if "generate_presigned" in path.read_text() and "IMAGES_PREFIX" in path.read_text()
    ]
    assert offenders == []
    images = (runtime / "nas" / "adapters" / "images.py").read_text()
    assert "generate_presigned" not in images
    assert "Range=" in images


def test_a_corrected_read_is_found_under_its_new_vrm_and_not_its_old(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)), StoredRead("r2", "AB12CDE", ago(hours=2)))
    page = reads_api.vrm_search("AB12CDE")
    made = reads_api.correct("r1", page["search_id"], "AB12CDF")
    assert made.status == 201, made.body
    assert made.body["correction"]["previous_vrm"] == "AB12CDE"
    assert made.body["read"] | {"corrections": None} == made.body["read"] | {
        "vrm": "AB12CDF",
        "original_vrm": "AB12CDE",
        "corrected": True,
        "corrections": None,
    }
    assert ids(reads_api.vrm_search("AB12CDE")) == ["r2"]
    found = reads_api.vrm_search("AB12CDF")
    assert ids(found) == ["r1"]
    assert (found["rows"][0]["vrm"], found["rows"][0]["corrected"]) == ("AB12CDF", True)
    # Partial and location searches show the correction too.
    partial = reads_api.search({"type": "partial", "pattern": "AB12CD?"})
    assert {(r["read_id"], r["vrm"], r["corrected"]) for r in partial["rows"]} == {
        ("r1", "AB12CDF", True),
        ("r2", "AB12CDE", False),
    }


def test_a_later_correction_supersedes_the_earlier_and_history_is_kept(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)))
    first = reads_api.vrm_search("AB12CDE")["search_id"]
    assert reads_api.correct("r1", first, "AB12CDF").status == 201
    second = reads_api.vrm_search("AB12CDF")["search_id"]
    assert reads_api.correct("r1", second, "AB12CDG").status == 201
    assert ids(reads_api.vrm_search("AB12CDF")) == []
    assert ids(reads_api.vrm_search("AB12CDG")) == ["r1"]
    view = reads_api.view("r1", second).body
    assert (view["vrm"], view["original_vrm"]) == ("AB12CDG", "AB12CDE")
    assert [(c["previous_vrm"], c["vrm"]) for c in view["corrections"]] == [
        ("AB12CDE", "AB12CDF"),
        ("AB12CDF", "AB12CDG"),
    ]
    # Correcting to what the read already shows changes nothing: 409.
    assert reads_api.correct("r1", second, "AB12CDG").status == 409


def test_a_correction_needs_a_reason_of_10_characters_and_a_valid_vrm(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)))
    search_id = reads_api.vrm_search("AB12CDE")["search_id"]
    short = reads_api.correct("r1", search_id, "AB12CDF", reason="misread")
    assert short.status == 400
    assert "reason" in short.body["error"]["message"]
    bad = reads_api.correct("r1", search_id, "AB-12-CDE!!")
    assert bad.status == 400
    assert "vrm" in bad.body["error"]["message"]


def test_a_correction_onto_a_live_voi_raises_no_alert_but_is_reported(reads_api: ReadsApi) -> None:
    DynamoVoiStore(reads_api.api.dynamodb, TABLE_NAMES["voi"]).put(
        voi_entry("AB12CDF", voi_id="voi-stolen"), now=NOW
    )
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)))
    search_id = reads_api.vrm_search("AB12CDE")["search_id"]
    made = reads_api.correct("r1", search_id, "AB12CDF")
    assert made.status == 201
    assert [m["voi_id"] for m in made.body["voi_matches"]] == ["voi-stolen"]
    assert made.body["voi_matches"][0]["circulated_to_read_lea"] is True
    assert reads_api.api.dynamodb.scan(TableName=ALERTS_TABLE)["Items"] == []


def test_alerts_of_a_corrected_read_show_the_new_vrm_and_link_a_misread_outcome(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(minutes=20)))
    alert = reads_api.api.put_alert(read_id="r1", camera_id="KENT-A2-001")
    listed = reads_api.api.call("GET", "/alerts", OPERATOR_KENT).body["alerts"][0]
    assert (listed["vrm"], listed["corrected"], listed["original_vrm"]) == ("AB12CDE", False, None)
    posted = reads_api.api.call(
        "POST",
        f"/alerts/{alert.alert_id}/outcome",
        OPERATOR_KENT,
        body={"outcome": Outcome.MISREAD.value, "note": "plate is AB12CDF"},
    )
    assert posted.status == 200
    search_id = reads_api.vrm_search("AB12CDE")["search_id"]
    made = reads_api.correct("r1", search_id, "AB12CDF", alert_id=alert.alert_id)
    assert made.status == 201, made.body
    assert made.body["correction"]["alert_id"] == alert.alert_id
    listed = reads_api.api.call("GET", "/alerts", OPERATOR_KENT).body["alerts"][0]
    assert (listed["vrm"], listed["corrected"], listed["original_vrm"]) == ("AB12CDF", True, "AB12CDE")
    assert listed["misread_correction_id"] == made.body["correction"]["correction_id"]


def test_a_correction_naming_an_alert_of_another_read_is_400(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(minutes=20)))
    other = reads_api.api.put_alert(read_id="elsewhere", camera_id="KENT-A2-001")
    search_id = reads_api.vrm_search("AB12CDE")["search_id"]
    reply = reads_api.correct("r1", search_id, "AB12CDF", alert_id=other.alert_id)
    assert reply.status == 400
    assert "alert_id" in reply.body["error"]["message"]


def test_a_correction_is_audited_with_both_vrms_and_the_searchs_purpose(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)))
    search_id = reads_api.vrm_search("AB12CDE")["search_id"]
    made = reads_api.correct("r1", search_id, "AB12CDF")
    record = reads_api.api.audit_for(made.request_id)
    uses = record["parameters"]["uses"]
    assert (uses["previous_vrm"], uses["vrm"]) == ("AB12CDE", "AB12CDF")
    assert (record["purpose"], record["case_ref"]) == ("crime", CASE)
    assert record["reason"] == "Plate re-read from the image: 8 is a B"


@pytest.mark.parametrize("group", GROUPS)
def test_read_routes_are_for_investigators_and_senior_investigators_only(
    reads_api: ReadsApi, group: str
) -> None:
    reads_api.store(StoredRead("r1", "AB12CDE", ago(hours=3)))
    search_id = reads_api.vrm_search("AB12CDE", OLLY)["search_id"]
    who = claims("olly", group, "KENT")  # the search's owner, in each group in turn
    allowed = group in ("investigator", "senior-investigator")
    replies = [
        reads_api.view("r1", search_id, who),
        reads_api.image("r1", "plate", search_id, who),
        reads_api.correct("r1", search_id, f"AB12C{'DEF'[GROUPS.index(group) % 3]}Z", who),
    ]
    statuses = [r.status for r in replies]
    assert statuses == ([200, 200, 201] if allowed else [403, 403, 403]), [r.body for r in replies]


def test_a_read_of_another_force_found_by_a_search_opens_like_any_row(reads_api: ReadsApi) -> None:
    reads_api.store(StoredRead("essex", "AB12CDE", ago(hours=3), ESSEX_A))
    page = reads_api.vrm_search("AB12CDE")
    assert reads_api.view("essex", page["search_id"]).body["lea"] == "ESSEX"
