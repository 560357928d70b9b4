"""The read view and Preserve in a real browser against local mode: an investigator searches a VRM,
opens a read and its plate image (fetched with their token, shown from an object URL under the CSP),
is refused a correction to the VRM the read already shows, corrects it and sees the correction; a
senior investigator selects two of three reads and preserves them, after the API refuses an empty
selection."""

from __future__ import annotations

import base64
import json
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from nas.simulator import jpeg_image
from tests.browser.conftest import SCREENSHOTS, assert_accessible, playwright_api, sign_in_as, tab_to
from tests.browser.test_search_screens import REASON, rfc3339, wait_until_searchable
from tests.local.conftest import Local

expect = playwright_api.expect

CAMERA = "KENT-A2-001"
CASE = "KENT-2026-004321"


def put_reads_with_plates(local: Local, reads: list[tuple[str, str, datetime]]) -> None:
    """Posts reads through Kinesis with a plate image each (a real, decodable JPEG) and no overview."""
    camera = next(c for c in local.config["demo"]["cameras"] if c["camera_id"] == CAMERA)
    rng = random.Random(7)
    records = [
        {
            "Data": json.dumps(
                {
                    "schema": "nas.read.v1",
                    "read_id": read_id,
                    "vrm": vrm,
                    "captured_at": rfc3339(captured_at),
                    "camera_id": CAMERA,
                    "lea": camera["lea"],
                    "source": camera["source"],
                    "direction": "N",
                    "confidence": 64,
                    "plate_image": base64.b64encode(jpeg_image(3000, rng)).decode(),
                }
            ).encode(),
            "PartitionKey": CAMERA,
        }
        for read_id, vrm, captured_at in reads
    ]
    local.client("kinesis").put_records(StreamName=local.config["stream"], Records=records)


def search_vrm(page: Any, vrm: str, found: int) -> None:
    page.get_by_label("VRM", exact=True).fill(vrm)
    page.get_by_label("Purpose", exact=True).select_option("crime")
    page.get_by_label("Reason", exact=True).fill(REASON)
    page.get_by_label("Case reference", exact=True).fill(CASE)
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("status").filter(has_text=f"Search finished: {found} read").wait_for()


def facts_of(panel: Any) -> dict[str, str]:
    names, values = panel.locator("dt").all_inner_texts(), panel.locator("dd").all_inner_texts()
    return dict(zip(names, values, strict=True))


def test_investigator_opens_a_read_sees_its_plate_image_and_corrects_its_vrm(
    local: Local, new_page: Any
) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    read_id, misread, real = f"rv-{tag}", f"R1{tag}", f"R7{tag}"
    put_reads_with_plates(local, [(read_id, misread, datetime.now(UTC) - timedelta(minutes=30))])
    wait_until_searchable(local, misread, 1)

    watched = new_page()
    page = watched.page
    sign_in_as(page, local, "investigator")
    search_vrm(page, misread, 1)
    expect(page.get_by_role("button", name="Preserve")).to_have_count(0)  # senior investigators only
    expect(page.locator("table.results").get_by_role("checkbox")).to_have_count(0)

    opener = page.locator(f'button[data-read-id="{read_id}"]')
    tab_to(page, opener)
    page.keyboard.press("Enter")
    panel = page.get_by_role("region", name=f"Read {misread} at {CAMERA}")
    expect(panel.get_by_role("heading", level=2)).to_be_focused()
    plate = panel.get_by_role("img", name=f"Plate image of read {misread} at {CAMERA}")
    expect(plate).to_have_attribute("src", re.compile(r"^blob:"))
    # Decoded, not merely present: the bytes came from the API with the token, through the CSP.
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=plate.element_handle())
    no_overview = panel.locator('[data-no-image="overview"]')
    expect(no_overview).to_have_text("No overview image is held for this read.")
    facts = facts_of(panel)
    source = next(c["source"] for c in local.config["demo"]["cameras"] if c["camera_id"] == CAMERA)
    assert (facts["As the camera read it"], facts["Source"], facts["Corrected"]) == (misread, source, "no")
    expect(panel.get_by_text("No corrections.")).to_be_visible()
    image_calls = [u for u in watched.requests if f"/reads/{read_id}/images/plate?search_id=" in u]
    assert len(image_calls) == 1, image_calls
    assert_accessible(page)

    # The API refuses a correction to the VRM the read already shows, in its own words.
    panel.get_by_label("New VRM").fill(misread)
    panel.get_by_label("Reason", exact=True).fill("Plate image shows a 7, not a 1")
    panel.get_by_role("button", name="Correct VRM").click()
    expect(panel.get_by_role("alert")).to_contain_text(f"already shows {misread}")
    assert_accessible(page)

    panel.get_by_label("New VRM").fill(real)
    panel.get_by_label("Reason", exact=True).fill("Plate image shows a 7, not a 1")
    panel.get_by_role("button", name="Correct VRM").click()
    panel = page.get_by_role("region", name=f"Read {real} at {CAMERA}")
    expect(panel.get_by_role("status")).to_have_text(f"VRM corrected from {misread} to {real}.")
    expect(panel.get_by_role("alert")).to_have_count(0)
    user = local.config["demo"]["users"]["investigator"]["username"]
    expect(panel.locator(".corrections li")).to_have_count(1)
    correction = panel.locator(".corrections li").inner_text()
    assert correction.startswith(f"{misread} to {real} by {user}, ")
    assert correction.endswith(": Plate image shows a 7, not a 1")
    facts = facts_of(panel)
    assert (facts["VRM"], facts["As the camera read it"], facts["Corrected"]) == (real, misread, "yes")
    vrm_cell = page.locator(f'table.results tr[data-read-id="{read_id}"] td').first
    expect(vrm_cell).to_contain_text(real)
    expect(vrm_cell.locator(".badge")).to_have_text("Corrected")
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(SCREENSHOTS / "read-view.png"))  # the view, its image and correction

    # Closing the view releases its image; the read is corrected for the next search too.
    panel.get_by_role("button", name="Close read").click()
    expect(page.locator(".read-image")).to_have_count(0)
    search_vrm(page, real, 1)
    expect(page.locator(f'table.results tr[data-read-id="{read_id}"]')).to_have_count(1)


def test_senior_investigator_preserves_two_selected_reads(local: Local, new_page: Any) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    vrm = f"PV{tag}"
    now = datetime.now(UTC)
    reads = [(f"pv-{tag}-{i}", vrm, now - timedelta(minutes=10 * i + 5)) for i in range(3)]
    put_reads_with_plates(local, reads)
    wait_until_searchable(local, vrm, len(reads))

    page = new_page().page
    sign_in_as(page, local, "senior-investigator")
    search_vrm(page, vrm, 3)
    form = page.get_by_role("form", name="Preserve")
    expect(form).to_contain_text("0 reads selected")
    form.get_by_label("Case reference").fill(CASE)
    form.get_by_label("Reason", exact=True).fill("CPIA: evidence of the vehicle at the scene")
    assert_accessible(page)

    # Nothing selected still goes to the API, which refuses it by name.
    form.get_by_role("button", name="Preserve").click()
    expect(form.get_by_role("alert")).to_contain_text("read_ids")

    chosen = [reads[2][0], reads[0][0]]  # the table is newest first: back from the form, oldest first
    for read_id in chosen:
        box = page.get_by_role("checkbox", name=f"Select read {read_id}")
        tab_to(page, box, key="Shift+Tab")
        page.keyboard.press("Space")
        expect(box).to_be_checked()
    expect(form).to_contain_text("2 reads selected")
    form.get_by_role("button", name="Preserve").click()
    status = form.get_by_role("status")
    expect(status).to_contain_text(re.compile(rf"for case {CASE}: 2 reads, (\d+) files under legal hold\.$"))
    expect(form.get_by_role("alert")).to_have_count(0)
    made = form.locator("[data-preservation-id]")
    preservation_id = made.get_attribute("data-preservation-id")
    assert preservation_id
    assert preservation_id in status.inner_text()
    listed = [li.get_attribute("data-read-id") for li in made.locator("li").all()]
    assert sorted(listed) == sorted(chosen)
    expect(made.locator(".manifest")).to_have_text(re.compile(r"^Manifest SHA-256: [0-9a-f]{64}$"))
    assert_accessible(page)

    # The API holds the same preservation, of exactly the reads selected.
    status_code, _, manifest = local.request(
        "GET", f"/preservations/{preservation_id}", token=local.id_token("senior-investigator")
    )
    assert status_code == 200, manifest
    assert sorted(r["read_id"] for r in manifest["preserved_reads"]) == sorted(chosen)
    assert manifest["case_ref"] == CASE
    assert f"{manifest['files']} files" in status.inner_text()
    assert manifest["manifest_sha256"] in made.locator(".manifest").inner_text()
