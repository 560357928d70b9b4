"""The Reports and Subject requests screens in a real browser against local mode: an analyst sees a
past day's daily report as charts whose figures are the reads posted for that day (a count under 5
shown as withheld, not as zero), and only the sections and screens an analyst may use; a DPO records
an access request, is refused a partial grant without an exemption in the API's words, grants it and
sees its export list the VRM's posted reads."""

from __future__ import annotations

import contextlib
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nas.cli.main import main as nas
from tests.browser.conftest import SCREENSHOTS, assert_accessible, playwright_api, sign_in_as
from tests.browser.test_console import nav_labels
from tests.browser.test_search_screens import UK, put_reads, wait_until_searchable
from tests.local.conftest import Local, wait_for
from tests.local.test_search_local import found

expect = playwright_api.expect

CAMERA = "KENT-A2-001"
# A past day no other browser test posts reads for, so its counts are this test's alone.
REPORT_DAY_AGO = 9
BUSY_HOUR, QUIET_HOUR = 5, 14
BUSY_READS, QUIET_READS = 7, 3  # 3 is under the report's threshold of 5: withheld, shown as <5


def count_day(local: Local, day: date) -> dict[str, Any]:
    """Counts a past `day` as of now with `nas jobs run statistics --date`, as the scheduled job counts
    yesterday; returns the report as an analyst fetches it."""
    with contextlib.redirect_stdout(io.StringIO()):
        assert (
            nas(["jobs", "run", "statistics", "--date", day.isoformat(), "--config", str(local.config_path)])
            == 0
        )
    status, _, report = local.request(
        "GET", f"/reports/daily?date={day.isoformat()}", token=local.id_token("analyst")
    )
    assert status == 200, report
    return dict(report)


def reads_in_hour(document: dict[str, Any], hour: int) -> int | str:
    """The hour's count as the report gives it (the test's reads are all at one camera: one cell)."""
    return next((c["count"] for c in document["reads_by_lea_hour"] if c["hour"] == f"{hour:02d}"), 0)


def test_analyst_sees_a_days_reads_by_hour_as_posted_and_only_the_daily_report(
    local: Local, new_page: Any
) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    day = (datetime.now(UTC) - timedelta(days=REPORT_DAY_AGO)).date()
    busy = datetime(day.year, day.month, day.day, BUSY_HOUR, 10, tzinfo=UTC)
    quiet = datetime(day.year, day.month, day.day, QUIET_HOUR, 40, tzinfo=UTC)
    reads = [(f"rp-{tag}-b{n}", f"RB{n}{tag}", busy + timedelta(minutes=n)) for n in range(BUSY_READS)]
    reads += [(f"rp-{tag}-q{n}", f"RQ{n}{tag}", quiet + timedelta(minutes=n)) for n in range(QUIET_READS)]
    put_reads(local, [(*read, CAMERA) for read in reads])

    # The reads reach the bucket at the sink's next flush: count until they are all there.
    def counted() -> dict[str, Any] | None:
        document = count_day(local, day)
        hours = (reads_in_hour(document, BUSY_HOUR), reads_in_hour(document, QUIET_HOUR))
        return document if hours == (BUSY_READS, "<5") else None

    document = wait_for(counted, timeout_s=60, interval_s=1.0)
    assert document["alerts"] == []  # reads days old are late: they raise no alerts

    page = new_page().page
    sign_in_as(page, local, "analyst")
    page.get_by_role("heading", name="Reports", level=1).wait_for()
    assert nav_labels(page) == ["Reports"]
    expect(page.get_by_role("heading", name="Daily report")).to_be_visible()
    # The API refuses an analyst the retention statement and usage: the screen does not offer them.
    expect(page.get_by_role("heading", name="Retention statement")).to_have_count(0)
    expect(page.get_by_role("heading", name="Usage")).to_have_count(0)
    page.locator('section[aria-labelledby="daily-heading"][aria-busy="false"]').wait_for()
    assert_accessible(page)

    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_role("button", name="Show report").click()
    report = page.locator(f'.daily[data-day="{day.isoformat()}"]')
    report.wait_for()
    expect(page.get_by_role("heading", name="Daily report")).to_be_focused()
    chart = report.locator('[data-chart="reads-by-hour"]')
    bars = chart.locator("g[data-key]").all()
    shown = {bar.get_attribute("data-key"): bar.locator(".chart-value").text_content() for bar in bars}
    expected = {f"{h:02d}": "0" for h in range(24)}
    expected |= {f"{BUSY_HOUR:02d}": str(BUSY_READS), f"{QUIET_HOUR:02d}": "<5"}
    assert shown == expected
    # A withheld count is drawn as a dashed span, never as an empty (zero) bar.
    quiet_bar = chart.locator(f'[data-key="{QUIET_HOUR:02d}"]')
    expect(quiet_bar.locator(".chart-withheld")).to_have_count(1)
    widths = {
        h: float(chart.locator(f'[data-key="{h:02d}"] .chart-bar').get_attribute("width") or "nan")
        for h in (0, BUSY_HOUR, QUIET_HOUR)
    }
    assert widths[BUSY_HOUR] > 0
    assert widths[0] == widths[QUIET_HOUR] == 0
    # The text alternative lists the same figures.
    label = chart.get_by_role("img").get_attribute("aria-label") or ""
    assert label.startswith("Reads by hour (UTC): 00:00: 0; ")
    assert f"{BUSY_HOUR:02d}:00: {BUSY_READS};" in label
    assert f"{QUIET_HOUR:02d}:00: <5;" in label
    expect(report.get_by_text("No alerts were raised this day.")).to_be_visible()
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "reports-daily.png"), full_page=True)

    # A day the job has not counted: the API's answer, in its words, and no chart.
    page.get_by_label("Date").fill((day - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Show report").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("(not-found)")  # the rule code the API named
    expect(page.locator(".daily")).to_have_count(0)
    assert_accessible(page)


def test_dpo_records_an_access_request_grants_it_and_sees_its_export(local: Local, new_page: Any) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    vrm = f"SA{tag}"
    now = datetime.now(UTC).replace(microsecond=0)
    captured = [now - timedelta(hours=2), now - timedelta(minutes=30)]
    put_reads(local, [(f"sar-{tag}-{n}", vrm, at, CAMERA) for n, at in enumerate(captured)])
    wait_until_searchable(local, vrm, len(captured))
    reference = f"SAR/2026/{tag}"

    page = new_page().page
    sign_in_as(page, local, "dpo")
    page.get_by_role("heading", name="Reports", level=1).wait_for()
    assert nav_labels(page) == ["Reports", "Subject requests"]
    # The daily report is for analysts and auditors: a DPO's Reports screen has the retention statement only.
    expect(page.get_by_role("heading", name="Retention statement")).to_be_visible()
    expect(page.get_by_role("heading", name="Daily report")).to_have_count(0)

    page.get_by_role("link", name="Subject requests").click()
    page.get_by_role("heading", name="Subject requests", level=1).wait_for()
    assert_accessible(page)
    page.get_by_label("Kind").select_option("access")
    page.get_by_label("VRM", exact=True).fill(vrm.lower())  # the API normalises it
    expect(page.get_by_label("Received")).not_to_have_value("")  # now, by default
    page.get_by_label("Requester reference").fill(reference)
    page.get_by_label("Notes").fill("Received by post; identity checked")
    page.get_by_role("button", name="Record request").click()

    opened = page.get_by_role("region", name=f"Access request {reference}")
    expect(opened.get_by_role("heading", level=2)).to_be_focused()
    request_id = opened.get_attribute("data-request-id")
    facts = dict(
        zip(opened.locator("dt").all_inner_texts(), opened.locator("dd").all_inner_texts(), strict=True)
    )
    assert (facts["VRM"], facts["State"]) == (vrm, "Open")
    row = page.locator(f'table.requests tr[data-request-id="{request_id}"]')
    expect(row.locator("td").nth(4)).to_have_text("Open")
    assert_accessible(page)

    # Granting in part must cite an exemption: the API says so, and nothing is decided.
    opened.get_by_label("Decision").select_option("partly")
    opened.get_by_label("Reason").fill("Some reads relate to an ongoing investigation")
    opened.get_by_role("button", name="Record decision").click()
    expect(opened.get_by_role("alert")).to_contain_text("exemption")
    expect(row.locator("td").nth(4)).to_have_text("Open")

    opened.get_by_label("Decision").select_option("granted")
    opened.get_by_label("Reason").fill("Identity verified; nothing withheld")
    opened.get_by_role("button", name="Record decision").click()
    opened.get_by_role("status").filter(has_text="Decision recorded.").wait_for()
    expect(opened.get_by_role("heading", level=2)).to_be_focused()
    expect(opened.get_by_role("button", name="Record decision")).to_have_count(0)  # decided once
    expect(row.locator("td").nth(4)).to_have_text("Decided: granted")

    opened.get_by_role("button", name="Show export").click()
    reads = opened.locator("table.export-reads tbody tr")
    expect(reads).to_have_count(len(captured), timeout=60_000)
    expect(opened.locator("table.export-reads caption")).to_have_text(f"Export: {len(captured)} reads")
    cells = [r.locator("td").all_inner_texts() for r in reads.all()]
    assert {c[1] for c in cells} == {vrm}
    assert {c[2] for c in cells} == {"KENT"}
    assert all(c[3] and c[5].startswith("e-") for c in cells)  # a grid square, never a camera
    times = sorted(c[0][:20] for c in cells)
    assert times == sorted(at.astimezone(UK).strftime("%d/%m/%Y, %H:%M:%S") for at in captured)
    assert_accessible(page)

    # Decided requests are listed under their own status.
    page.get_by_label("Status").select_option("decided")
    decided = page.locator(f'table.requests tr[data-request-id="{request_id}"]')
    expect(decided.locator("td").nth(4)).to_have_text("Decided: granted")
    assert_accessible(page)


def test_dpo_grants_an_erasure_in_part_withholding_a_read_named_from_its_export(
    local: Local, new_page: Any
) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    vrm = f"SE{tag}"
    now = datetime.now(UTC).replace(microsecond=0)
    reads = {f"sae-{tag}-old": now - timedelta(hours=2), f"sae-{tag}-new": now - timedelta(minutes=30)}
    put_reads(local, [(read_id, vrm, at, CAMERA) for read_id, at in reads.items()])
    wait_until_searchable(local, vrm, len(reads))
    reference = f"SAR/2026/{tag}"

    page = new_page().page
    sign_in_as(page, local, "dpo")
    page.get_by_role("link", name="Subject requests").click()
    page.get_by_role("heading", name="Subject requests", level=1).wait_for()
    page.get_by_label("Kind").select_option("erasure")
    page.get_by_label("VRM", exact=True).fill(vrm)
    page.get_by_label("Requester reference").fill(reference)
    page.get_by_role("button", name="Record request").click()
    opened = page.get_by_role("region", name=f"Erasure request {reference}")

    # The DPO names the read kept as evidence by its entry id in the request's own export.
    opened.get_by_role("button", name="Show export").click()
    rows = opened.locator("table.export-reads tbody tr")
    expect(rows).to_have_count(len(reads), timeout=60_000)
    newest_entry = rows.first.locator("td").nth(5).inner_text()  # newest first
    opened.get_by_label("Decision").select_option("partly")
    opened.get_by_label("Reason").fill("One read is evidence in a trial under way")
    opened.get_by_label("Exemption").fill("DPA 2018 s47(2)")
    opened.get_by_label("Withheld reads").fill(newest_entry)
    assert_accessible(page)
    opened.get_by_role("button", name="Record decision").click()
    opened.get_by_role("status").filter(has_text="Decision recorded.").wait_for(timeout=60_000)
    facts = dict(
        zip(opened.locator("dt").all_inner_texts(), opened.locator("dd").all_inner_texts(), strict=True)
    )
    assert facts["reads withheld"] == "1"
    assert '"rows_removed":1' in facts["erasure"]
    # Searches find the withheld read alone: the other's row is gone from the store.
    found(local, local.id_token("investigator"), {"type": "vrm", "vrm": vrm}, {f"sae-{tag}-new"})
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "subject-request-erasure-in-part.png"), full_page=True)
