"""The Search and Authorisations screens in a real browser against local mode: an investigator finds
reads posted through Kinesis (keyboard only), sees them in a table, on the map and on the timeline,
selects one, sees the vehicles travelling with it (convoy), pages through results as the API pages,
and is refused a search beyond their level with the API's rule; an authoriser's authorisation lets
them search 100 days back until it is revoked; an auditor sees the search in the audit screen."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.browser.conftest import SCREENSHOTS, assert_accessible, playwright_api, sign_in_as, tab_to
from tests.local.conftest import Local, wait_for

expect = playwright_api.expect

UK = ZoneInfo("Europe/London")  # the browser contexts' time zone (conftest)
REASON = "Burglary enquiry, suspect vehicle seen leaving"
CAMERAS = {
    c: (lat, lon) for c, lat, lon in [("KENT-A2-001", 51.2798, 1.0789), ("KENT-M20-J9", 51.1605, 0.8617)]
}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_input(moment: datetime) -> str:
    """A `datetime-local` value in the browser's zone."""
    return moment.astimezone(UK).strftime("%Y-%m-%dT%H:%M")


def put_reads(local: Local, reads: list[tuple[str, str, datetime, str]]) -> None:
    """Posts reads through Kinesis, as cameras do: (read id, VRM, captured at, camera)."""
    cameras = {c["camera_id"]: c for c in local.config["demo"]["cameras"]}
    records = [
        {
            "Data": json.dumps(
                {
                    "schema": "nas.read.v1",
                    "read_id": read_id,
                    "vrm": vrm,
                    "captured_at": rfc3339(captured_at),
                    "camera_id": camera_id,
                    "lea": cameras[camera_id]["lea"],
                    "source": cameras[camera_id]["source"],
                    "direction": "N",
                    "confidence": 90,
                }
            ).encode(),
            "PartitionKey": camera_id,
        }
        for read_id, vrm, captured_at, camera_id in reads
    ]
    for start in range(0, len(records), 500):  # PutRecords takes 500 at most
        local.client("kinesis").put_records(
            StreamName=local.config["stream"], Records=records[start : start + 500]
        )


def wait_until_searchable(local: Local, vrm: str, expected: int) -> None:
    """Waits until a search through the API finds `expected` reads of `vrm` (after the sink's flush)."""
    token = local.id_token("investigator")
    body = {
        "type": "vrm",
        "vrm": vrm,
        "from": rfc3339(datetime.now(UTC) - timedelta(hours=23)),
        "to": rfc3339(datetime.now(UTC) + timedelta(minutes=1)),
        "investigation_level": "priority-volume",
        "purpose": "crime",
        "reason": "Checking the reads have been stored",
        "case_ref": "KENT-2026-000001",
    }

    def probe() -> bool:
        status, _, started = local.request("POST", "/searches", token=token, body=json.dumps(body).encode())
        assert status == 202, started
        _, _, page = local.request("GET", f"/searches/{started['search_id']}", token=token)
        return page["status"] == "succeeded" and page["row_count"] >= min(expected, 1000)

    wait_for(probe, timeout_s=60, interval_s=1.0)


def test_investigator_searches_a_vrm_with_the_keyboard_alone_then_its_convoy_and_an_auditor_sees_it(
    local: Local, new_page: Any
) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    vrm = f"KB{tag}"
    now = datetime.now(UTC).replace(microsecond=0)
    reads = [
        (f"kb-{tag}-1", vrm, now - timedelta(hours=3), "KENT-A2-001"),
        (f"kb-{tag}-2", vrm, now - timedelta(hours=2), "KENT-M20-J9"),
        (f"kb-{tag}-3", vrm, now - timedelta(minutes=50), "KENT-A2-001"),
    ]
    companion = f"CV{tag}"  # seen within a minute of two of the target's reads, at the same cameras
    companions = [
        (f"cv-{tag}-1", companion, now - timedelta(hours=3, seconds=-40), "KENT-A2-001"),
        (f"cv-{tag}-2", companion, now - timedelta(hours=2, seconds=20), "KENT-M20-J9"),
    ]
    put_reads(local, reads + companions)
    wait_until_searchable(local, vrm, len(reads))
    wait_until_searchable(local, companion, len(companions))

    page = new_page().page
    sign_in_as(page, local, "investigator")
    page.get_by_role("heading", name="Search", level=1).wait_for()
    for label in ("Search type", "VRM", "OCR tolerant", "From", "To", "Investigation level", "Purpose"):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    for label in ("Reason", "Case reference", "Authorisation"):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    assert_accessible(page)

    tab_to(page, page.get_by_label("VRM", exact=True))
    page.keyboard.type(vrm.lower())  # the API normalises the VRM
    tab_to(page, page.get_by_label("Purpose", exact=True))
    page.keyboard.press("ArrowDown")  # closed <select>: the arrow picks the first purpose
    assert page.get_by_label("Purpose", exact=True).input_value() == "crime"
    tab_to(page, page.get_by_label("Reason", exact=True))
    page.keyboard.type(REASON)
    tab_to(page, page.get_by_label("Case reference", exact=True))
    page.keyboard.type("KENT-2026-004321")
    tab_to(page, page.get_by_role("button", name="Search", exact=True))
    page.keyboard.press("Enter")

    page.get_by_role("status").filter(has_text="Search finished: 3 reads found.").wait_for()
    expect(page.get_by_role("heading", name="Results")).to_be_focused()
    rows = page.locator("table.results tbody tr")
    assert [r.get_attribute("data-read-id") for r in rows.all()] == [
        r[0] for r in reversed(reads)
    ]  # newest first
    assert page.locator("table.results caption").inner_text() == "Reads 1 to 3 of 3, newest first"
    sites = page.locator(".map [data-site]")
    assert {s.get_attribute("data-site") for s in sites.all()} == set(CAMERAS)
    assert (
        page.locator('.map [data-site="KENT-A2-001"]').get_attribute("aria-label")
        == "KENT-A2-001, 2 sightings"
    )
    marks = page.locator(".timeline [data-sighting]")
    assert sorted(m.get_attribute("data-sighting") or "" for m in marks.all()) == sorted(r[0] for r in reads)
    expect(page.locator(".timeline figcaption")).to_have_text(re.compile(r"^Timeline of 3 sightings from "))
    assert_accessible(page)

    # A row opens in the selected-read panel; focus moves to it.
    newest = page.locator(f'button[data-read-id="kb-{tag}-3"]')
    tab_to(page, newest)
    page.keyboard.press("Enter")
    panel = page.get_by_role("region", name=f"Read {vrm} at KENT-A2-001")
    expect(panel.get_by_role("heading")).to_be_focused()
    assert panel.get_attribute("data-read-id") == f"kb-{tag}-3"
    facts = dict(
        zip(panel.locator("dt").all_inner_texts(), panel.locator("dd").all_inner_texts(), strict=True)
    )
    assert facts["Read"] == f"kb-{tag}-3"
    assert facts["Camera"] == "KENT-A2-001"
    assert facts["Position"] == "51.27980, 1.07890"
    assert facts["Read reference"].startswith("r1.")
    assert page.locator(f'tr[data-read-id="kb-{tag}-3"]').get_attribute("aria-current") == "true"

    # A camera site on the map opens its newest read, with the keyboard too.
    tab_to(
        page, page.locator('.map [data-site="KENT-M20-J9"]'), key="Shift+Tab"
    )  # the map is before the panel
    page.keyboard.press("Enter")
    panel = page.get_by_role("region", name=f"Read {vrm} at KENT-M20-J9")
    expect(panel.get_by_role("heading")).to_be_focused()
    assert panel.get_attribute("data-read-id") == f"kb-{tag}-2"
    recent = page.get_by_role("region", name="Your recent searches")
    expect(recent.locator("tbody tr").first.get_by_role("button")).to_have_text(f"VRM {vrm}")
    assert_accessible(page)
    # The form, the results, the map, the timeline and the selected read: the README's picture
    # (docs/console-search.png is a copy of this file).
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    bottom = page.locator(".results .visuals").evaluate("(e) => e.getBoundingClientRect().bottom + scrollY")
    clip = {"x": 0, "y": 0, "width": 1280, "height": bottom + 16}  # page coordinates with full_page
    page.screenshot(path=str(SCREENSHOTS / "search.png"), full_page=True, clip=clip)

    # A convoy search of the same VRM: the vehicles seen with it, in a table of their own.
    page.get_by_label("Search type").select_option("convoy")
    page.get_by_label("Within seconds").fill("60")
    page.get_by_label("Minimum sightings").fill("2")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("status").filter(has_text="Search finished: 1 vehicle found.").wait_for()
    cells = page.locator(f'table.convoy tr[data-vrm="{companion}"]').locator("th, td").all_inner_texts()
    assert cells[:3] == [companion, "2", "KENT-A2-001, KENT-M20-J9"]
    assert cells[5] == f"cv-{tag}-1, cv-{tag}-2"
    expect(page.locator(".timeline [data-sighting]")).to_have_count(2)
    assert page.locator("table.results").count() == 0
    assert_accessible(page)

    auditor = new_page().page
    sign_in_as(auditor, local, "auditor")
    auditor.get_by_label("User").fill(local.config["demo"]["users"]["investigator"]["username"])
    auditor.get_by_label("Action").fill("POST /searches")
    auditor.get_by_role("button", name="Show events").click()
    audited = auditor.locator("table.data tbody tr").filter(has_text=vrm.lower())
    audited.first.wait_for()
    assert REASON in audited.first.inner_text()
    assert "crime" in audited.first.inner_text()


def test_search_results_page_as_the_api_pages_and_show_when_they_were_truncated(
    local: Local, new_page: Any
) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    vrm = f"PG{tag}"
    now = datetime.now(UTC).replace(microsecond=0)
    cameras = list(CAMERAS)
    put_reads(
        local,
        [(f"pg-{tag}-{i}", vrm, now - timedelta(seconds=60 * i + 60), cameras[i % 2]) for i in range(1001)],
    )
    wait_until_searchable(local, vrm, 1001)

    page = new_page().page
    sign_in_as(page, local, "investigator")
    page.get_by_label("VRM", exact=True).fill(vrm)
    page.get_by_label("Purpose", exact=True).select_option("crime")
    page.get_by_label("Reason", exact=True).fill(REASON)
    page.get_by_label("Case reference", exact=True).fill("KENT-2026-004321")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("status").filter(has_text="Search finished: 1,000 reads found.").wait_for()
    expect(page.locator(".notice[data-truncated]")).to_contain_text("more reads matched than the 1,000 kept")
    caption = page.locator("table.results caption")
    assert caption.inner_text() == "Reads 1 to 100 of 1,000, newest first"
    first_page = page.locator("table.results tbody tr").first.get_attribute("data-read-id")
    assert first_page == f"pg-{tag}-0"
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()

    page.get_by_role("button", name="Next page").click()
    expect(caption).to_have_text("Reads 101 to 200 of 1,000, newest first")
    assert page.locator("table.results tbody tr").first.get_attribute("data-read-id") == f"pg-{tag}-100"
    assert page.locator(".timeline [data-sighting]").count() == 100
    page.get_by_role("button", name="Previous page").click()
    expect(caption).to_have_text("Reads 1 to 100 of 1,000, newest first")
    assert_accessible(page)


def test_an_authorisation_lets_an_investigator_search_100_days_back_until_it_is_revoked(
    local: Local, new_page: Any
) -> None:
    case = f"KENT-2026-{uuid.uuid4().hex[:6]}"
    users = local.config["demo"]["users"]
    investigator, authoriser_name = users["investigator"]["username"], users["authoriser"]["username"]

    page = new_page().page
    sign_in_as(page, local, "investigator")
    page.get_by_label("VRM", exact=True).fill("AB12CDE")
    page.get_by_label("From", exact=True).fill(local_input(datetime.now(UTC) - timedelta(days=100)))
    page.get_by_label("Purpose", exact=True).select_option("crime")
    page.get_by_label("Reason", exact=True).fill(REASON)
    page.get_by_label("Case reference", exact=True).fill(case)
    page.get_by_role("button", name="Search", exact=True).click()
    refusal = page.get_by_role("alert").filter(has_text="lookback-exceeds-level")
    refusal.wait_for()
    assert "90" in refusal.inner_text()  # the API's own message: priority-volume reaches 90 days
    assert_accessible(page)

    authoriser = new_page().page
    sign_in_as(authoriser, local, "authoriser")
    authoriser.get_by_role("heading", name="Authorisations", level=1).wait_for()
    authoriser.get_by_label("Grantee").fill(investigator)
    authoriser.get_by_label("Case reference").fill(case)
    authoriser.get_by_label("Investigation level").select_option("serious-complex")
    authoriser.get_by_label("Maximum lookback days").fill("120")
    authoriser.get_by_label("Reason").fill("Series of burglaries since the summer")
    assert_accessible(authoriser)
    authoriser.get_by_role("button", name="Grant", exact=True).click()
    authoriser.get_by_role("status").filter(
        has_text=f"Authorisation granted to {investigator} for case {case}"
    ).wait_for()
    granted = authoriser.locator("tbody tr").filter(has_text=case)
    expect(granted.locator("td").nth(5)).to_have_text("Live")
    authorisation_id = granted.get_attribute("data-authorisation-id")
    assert authorisation_id

    # Granted while the investigator is signed in: offered once the field has focus again; choosing
    # it sets its case and level.
    chooser = page.get_by_label("Authorisation", exact=True)
    chooser.focus()
    expect(chooser.locator(f'option[value="{authorisation_id}"]')).to_have_count(1)
    chooser.select_option(authorisation_id)
    assert page.get_by_label("Investigation level", exact=True).input_value() == "serious-complex"
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("status").filter(has_text="Search finished").wait_for()
    expect(page.get_by_role("alert")).to_have_count(0)

    authoriser.get_by_role("button", name=f"Revoke {investigator}'s authorisation for case {case}").click()
    confirm = authoriser.get_by_role("button", name="Confirm revoke")
    expect(confirm).to_be_focused()
    assert_accessible(authoriser)
    confirm.click()
    authoriser.get_by_role("status").filter(has_text=f"case {case}, was revoked").wait_for()
    expect(granted.locator("td").nth(5)).to_have_text(re.compile(rf"^Revoked .* by {authoriser_name}$"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    authoriser.screenshot(path=str(SCREENSHOTS / "authorisations.png"), full_page=True)

    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("alert").filter(has_text="authorisation-not-valid").wait_for()
    assert_accessible(page)
