"""The VOI screen in a real browser against local mode: a national VOI manager imports a small PNC
list with a bad row (the file PUT to the presigned URL under the served CSP) and sees its counts and
the rejected row; a Kent manager adds, revises and deletes an entry with the keyboard alone; an
operator sees entries read only."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from nas.domain.voi_lists import LIST_COLUMNS
from nas.local.demo import NATIONAL_MANAGER, demo_password
from tests.browser.conftest import assert_accessible, playwright_api, sign_in, sign_in_as, tab_to
from tests.local.conftest import Local

expect = playwright_api.expect

KENT_ONLY_VRM = "KN19ABC"  # a demo entry owned by and circulated to KENT


def open_voi(page: Any) -> None:
    page.get_by_role("navigation", name="Screens").get_by_role("link", name="VOI").click()
    page.get_by_role("heading", name="VOI", level=1).wait_for()


def pnc_list(path: Path, vrms: list[str], bad_line: int) -> Path:
    """A PNC list in the import format whose `bad_line` (1 is the header) has priority 9."""
    lines = [",".join(LIST_COLUMNS)]
    for line, vrm in enumerate(vrms, start=2):
        priority = 9 if line == bad_line else 2
        lines.append(
            f"{vrm},stolen,stop,{priority},Reported stolen 24/{line}01A,24/{line}01A,KENT;ESSEX,false"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_national_manager_imports_a_list_and_sees_its_counts_and_rejected_rows(
    local: Local, new_page: Any, tmp_path: Path
) -> None:
    vrms = [f"PN{uuid.uuid4().hex[:5].upper()}" for _ in range(5)]
    csv = pnc_list(tmp_path / "pnc-extract.csv", vrms, bad_line=4)
    watched = new_page()
    page = watched.page
    username = NATIONAL_MANAGER[0]
    sign_in(page, local, username, demo_password(username))
    page.get_by_role("button", name="Sign out").wait_for()
    open_voi(page)

    form = page.get_by_role("region", name="Import list")
    form.get_by_label("Source").select_option("pnc")
    form.get_by_label("File").set_input_files(str(csv))
    assert_accessible(page)
    form.get_by_role("button", name="Import list").click()

    result = form.get_by_role("heading", name="Import of pnc-extract.csv into the pnc list succeeded")
    result.wait_for(timeout=60_000)
    expect(result).to_be_focused()
    upload = form.get_by_label("Upload", exact=True)
    assert upload.get_attribute("value") == upload.get_attribute("max") == str(csv.stat().st_size)
    load = form.get_by_label("Load", exact=True)
    assert load.get_attribute("max") == "5"
    assert load.get_attribute("value") == "5"
    counts = {
        cell.get_attribute("data-count"): cell.inner_text()
        for cell in form.locator("table.import-counts td").all()
    }
    assert counts == {
        "rows": "5",
        "accepted": "4",
        "rejected": "1",
        "added": "4",
        "changed": "0",
        "unchanged": "0",
        "removed": "0",
    }
    [reject] = form.locator("table.import-rejects tbody tr").all()
    line, field, reason = reject.locator("th, td").all_inner_texts()
    assert (line, field) == ("4", "priority")
    assert reason  # the load's own words, never the row's content
    assert vrms[2] not in reason
    assert form.get_by_role("link", name="Every rejected row (CSV)").is_visible()
    # The file went straight to the imports bucket (moto here), not through the API.
    aws = local.config["aws_endpoint"].rstrip("/")
    assert any(url.startswith(f"{aws}/") and "/incoming/" in url for url in watched.requests)
    assert_accessible(page)

    # The list's entries match at once, and change only by importing the list again.
    page.get_by_role("region", name="Look up a vehicle").get_by_label("VRM").fill(vrms[0].lower())
    page.get_by_role("button", name="Look up").click()
    row = page.locator("table.voi-entries tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text("pnc list")
    assert row.get_by_role("button").count() == 0
    page.get_by_role("heading", name=f"Entries for {vrms[0].lower()}").wait_for()
    assert_accessible(page)


def test_manager_adds_revises_and_deletes_an_entry_with_the_keyboard(local: Local, new_page: Any) -> None:
    vrm = f"KB{uuid.uuid4().hex[:5].upper()}"
    page = new_page().page
    sign_in_as(page, local, "voi-manager")
    open_voi(page)
    add = page.get_by_role("region", name="Add an entry")

    tab_to(page, add.get_by_label("VRM"))
    page.keyboard.type(vrm.lower())
    page.keyboard.press("Tab")  # Entry source: local
    page.keyboard.press("Tab")
    page.keyboard.type("stolen")
    page.keyboard.press("Tab")  # Action
    page.keyboard.press("ArrowDown")  # closed <select>: observe → report
    page.keyboard.press("Tab")  # Priority: 2
    page.keyboard.press("Tab")
    page.keyboard.type("Taken from a driveway in Ashford, owner 24/1234567B")
    page.keyboard.press("Tab")
    page.keyboard.type("24/1234567B")
    page.keyboard.press("Tab")
    page.keyboard.type("KENT;ESSEX")
    page.keyboard.press("Tab")
    expect(add.get_by_label("Sensitive")).to_be_focused()
    page.keyboard.press("Space")
    assert_accessible(page)
    page.keyboard.press("Tab")
    expect(add.get_by_role("button", name="Add entry")).to_be_focused()
    page.keyboard.press("Enter")

    page.get_by_role("status").filter(
        has_text=re.compile(rf"^Entry for {vrm} added \(stolen, report\)")
    ).wait_for()
    expect(page.get_by_role("heading", name=f"Entries for {vrm}")).to_be_focused()
    row = page.locator("table.voi-entries tbody tr")
    expect(row).to_have_count(1)
    cells = row.locator("th, td").all_inner_texts()
    assert cells[:8] == [
        "stolenSensitive",
        "local",
        "report",
        "2",
        "Taken from a driveway in Ashford, owner 24/1234567B",
        "24/1234567B",
        "KENT, ESSEX",
        "KENT",
    ]
    voi_id = row.get_attribute("data-voi-id")
    status, _, stored = local.request("GET", f"/voi/{voi_id}", token=local.id_token("voi-manager"))
    assert status == 200
    assert stored["circulation"] == ["KENT", "ESSEX"]
    assert stored["sensitive"] is True

    # Revise: the form opens focused on its heading, prefilled; a revision replaces the fields.
    tab_to(page, row.get_by_role("button", name=f"Revise the stolen entry for {vrm}"))
    page.keyboard.press("Enter")
    revise = page.get_by_role("group", name=f"Revise the stolen entry for {vrm}")
    expect(revise.get_by_role("heading")).to_be_focused()
    expect(revise.get_by_label("Circulation")).to_have_value("KENT;ESSEX")
    tab_to(page, revise.get_by_label("Priority"))
    page.keyboard.press("ArrowUp")  # 2 → 1 (high)
    assert_accessible(page)
    tab_to(page, revise.get_by_role("button", name="Save revision"))
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text=f"Entry for {vrm} revised").wait_for()
    expect(row.locator("td").nth(2)).to_have_text("1")
    status, _, stored = local.request("GET", f"/voi/{voi_id}", token=local.id_token("voi-manager"))
    assert stored["priority"] == 1
    assert stored["revisions"][-1]["changes"].keys() == {"priority"}

    # Delete, after a confirm step that takes focus.
    tab_to(page, row.get_by_role("button", name=f"Delete the stolen entry for {vrm}"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Confirm delete")).to_be_focused()
    assert_accessible(page)
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text=f"Entry for {vrm} (stolen) deleted").wait_for()
    page.get_by_text(f"No live entry for {vrm} that you may see.").wait_for()
    status, _, _ = local.request("GET", f"/voi/{voi_id}", token=local.id_token("voi-manager"))
    assert status == 404


def test_operator_sees_entries_read_only(local: Local, new_page: Any) -> None:
    page = new_page().page
    sign_in_as(page, local, "operator")
    open_voi(page)
    page.get_by_label("VRM").fill(KENT_ONLY_VRM)
    page.get_by_role("button", name="Look up").click()
    row = page.locator("table.voi-entries tbody tr")
    expect(row).to_have_count(1)
    assert row.locator("th").inner_text() == "stolen"
    expect(page.locator("table.voi-entries caption")).to_have_text("Read only")
    assert page.get_by_role("button", name=re.compile("Revise|Delete|Add entry|Import list")).count() == 0
    assert (
        page.get_by_role("heading", name=re.compile("Add an entry|Import list|Due for review")).count() == 0
    )
    assert_accessible(page)
