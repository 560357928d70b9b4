"""The Accounts and Reports screens in a real browser against local mode: an administrator lists
accounts, decides the review the daily account job opened for a new account (keyboard only),
disables an account and reinstates it from the list; an auditor and a data protection officer read
the signed retention statement the daily retention check wrote, and a day without one shows the
API's refusal."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas.cli.main import main as nas
from tests.browser.conftest import (
    SCREENSHOTS,
    assert_accessible,
    new_user,
    playwright_api,
    sign_in_as,
    tab_to,
)
from tests.local.conftest import Local

expect = playwright_api.expect


def run_job(local: Local, job: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """One run of a daily job now, as `nas jobs run` does it; returns its summary."""
    capsys.readouterr()
    assert nas(["jobs", "run", job, "--config", str(local.config_path)]) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)
    return summary


def test_admin_decides_a_new_accounts_review_with_the_keyboard_then_disables_and_reinstates_it(
    local: Local, new_page: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    newcomer, password = new_user(local, "operator")
    hygiene = run_job(local, "account-hygiene", capsys)
    assert hygiene["role_change_reviews"] >= 1  # a new account is a grant of roles: reviewed
    assert newcomer not in hygiene["suspended"]

    page = new_page().page
    admin = sign_in_as(page, local, "admin")["username"]
    page.get_by_role("heading", name="Accounts", level=1).wait_for()
    page.get_by_label("Group").select_option("operator")
    page.get_by_label("Force").fill("kent")
    page.get_by_role("button", name="Show accounts").click()
    account = page.locator(f'table.account-list tr[data-username="{newcomer}"]')
    account.wait_for()
    cells = account.locator("td").all_inner_texts()
    assert cells[:3] == ["operator", "KENT", "active"]
    assert cells[5] == "none"  # no API request yet
    rows = page.locator("table.account-list tbody tr")
    assert all("operator" in g for g in rows.locator("td:nth-child(2)").all_inner_texts())
    assert_accessible(page)

    # The review of the new account, decided with the keyboard alone.
    review = page.locator(f'table.review-list tr[data-username="{newcomer}"]')
    expect(review.locator("td").first).to_have_text("Role change")
    expect(review.locator("td").nth(1)).to_have_text("new account to operator (KENT)")
    tab_to(page, review.get_by_role("button", name=f"Decide the review of {newcomer}"))
    page.keyboard.press("Enter")
    expect(page.get_by_label("Decision")).to_be_focused()
    page.keyboard.press("ArrowDown")  # closed <select>: the first decision a role change takes
    assert page.get_by_label("Decision").input_value() == "confirm"
    page.keyboard.press("Tab")
    page.keyboard.type("Joined the Kent control room, HR ref 2026/88")
    assert_accessible(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Record decision")).to_be_focused()
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(
        has_text=re.compile(rf"^Review of {newcomer} decided: confirm, by {admin} at ")
    ).wait_for()
    expect(page.get_by_role("heading", name="Account reviews")).to_be_focused()

    page.get_by_label("Review state").select_option("decided")
    page.get_by_role("button", name="Show reviews").click()
    expect(page.locator("table.review-list caption")).to_have_text("Decided reviews")
    decided = page.locator(f'table.review-list tr[data-username="{newcomer}"]')
    expect(decided.locator("td").nth(4)).to_contain_text(f"confirm by {admin}")
    expect(decided.get_by_role("button")).to_have_count(0)

    # A leaver disabled, then reinstated from the list.
    page.get_by_label("Username").fill(newcomer)
    page.get_by_label("Reason").fill("Suspended pending an HR enquiry, ref 2026/90")
    page.get_by_role("button", name="Disable account").click()
    page.get_by_role("button", name="Confirm disable").click()
    page.get_by_role("status").filter(has_text=f"{newcomer} disabled at").wait_for()
    expect(account.locator("td").nth(2)).to_contain_text("disabled")
    account.get_by_role("button", name=f"Reinstate {newcomer}").click()
    reinstate = page.get_by_role("form", name=re.compile(f"^Reinstate {newcomer}"))
    expect(reinstate.get_by_label("Reason")).to_be_focused()
    reinstate.get_by_label("Reason").fill("HR enquiry closed, ref 2026/90")
    assert_accessible(page)
    reinstate.get_by_role("button", name="Confirm reinstate").click()
    page.get_by_role("status").filter(has_text=f"{newcomer} reinstated at").wait_for()
    expect(account.locator("td").nth(2)).to_have_text("active")
    assert local.sign_in(newcomer, password)["IdToken"]  # the pool lets them in again
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "accounts.png"), full_page=True)


def test_auditor_and_dpo_read_the_signed_retention_statement(
    local: Local, new_page: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    check = run_job(local, "retention", capsys)
    assert check["within_retention"] is True

    page = new_page().page
    sign_in_as(page, local, "auditor")
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("heading", name="Reports", level=1).wait_for()
    verdict = page.get_by_role("status").filter(has_text="Signature valid")
    verdict.wait_for()
    assert "Within retention: nothing older than 367 days is held" in verdict.inner_text()
    statement = page.locator(".statement")
    assert (statement.get_attribute("data-statement-key") or "").endswith(".json")
    facts = dict(
        zip(statement.locator("dt").all_inner_texts(), statement.locator("dd").all_inner_texts(), strict=True)
    )
    assert facts["Keep for"] == "367 days"
    prefixes = {p.get_attribute("data-prefix") for p in statement.locator("tbody tr").all()}
    assert prefixes >= {"reads/", "images/", "quarantine/"}
    assert_accessible(page)

    # A day long before any statement, asked for with the keyboard: the API's refusal, in its words.
    # (An auditor's Reports screen also has the daily report and usage, each with its own Date.)
    retention = page.get_by_role("region", name="Retention statement")
    tab_to(page, retention.get_by_label("Date"))
    retention.get_by_label("Date").fill((datetime.now(UTC) - timedelta(days=200)).date().isoformat())
    tab_to(page, page.get_by_role("button", name="Show statement"))
    page.keyboard.press("Enter")
    refusal = retention.get_by_role("alert")
    refusal.wait_for()
    assert "(" in refusal.inner_text()  # the rule code the API named
    expect(statement).to_have_count(0)
    expect(page.get_by_role("heading", name="Retention statement")).to_be_focused()
    assert_accessible(page)

    dpo = new_page().page
    sign_in_as(dpo, local, "dpo")
    dpo.get_by_role("heading", name="Reports", level=1).wait_for()
    dpo.get_by_role("status").filter(has_text="Signature valid").wait_for()
    assert_accessible(dpo)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    dpo.screenshot(path=str(SCREENSHOTS / "reports.png"), full_page=True)
