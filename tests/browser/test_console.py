"""The console in a real browser against local mode: sign-in, the screens each group sees, and the
operator, auditor and admin screens doing their work through the public API."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas.domain.models import alert_id_for
from nas.local.demo import NATIONAL_ROLES, demo_password
from tests.browser.conftest import assert_accessible, new_user, playwright_api, sign_in, sign_in_as
from tests.local.conftest import Local, wait_for
from tests.local.test_retro_hunt_local import hunt_of, list_with_a_hunt
from tests.local.test_search_local import found, put_reads

expect = playwright_api.expect

NATIONAL_GROUPS = {role.value for role in NATIONAL_ROLES}
KENT_CAMERA = "KENT-A2-001"
KENT_ONLY_VRM, KENT_ONLY_VOI = "KN19ABC", "demo-kent-stolen"  # circulated to and owned by KENT
# What each group sees in the navigation; an admin sees admin screens only.
SCREENS_BY_GROUP = {
    "operator": ["Alerts", "VOI"],
    "auditor": ["Audit", "Reports"],
    "admin": ["Accounts"],
    "investigator": ["Search"],
    "senior-investigator": ["Search"],
    "authoriser": ["Authorisations"],
    "voi-manager": ["VOI"],
    "dpo": ["Reports", "Subject requests"],
    "analyst": ["Reports"],
}


def put_read(local: Local, vrm: str) -> str:
    """Posts one read from a Kent camera through Kinesis; returns the alert id it must raise."""
    read_id = f"console-{uuid.uuid4().hex[:12]}"
    record = {
        "schema": "nas.read.v1",
        "read_id": read_id,
        "vrm": vrm,
        "captured_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "camera_id": KENT_CAMERA,
        "lea": "KENT",
        "source": "static",
    }
    local.client("kinesis").put_records(
        StreamName=local.config["stream"],
        Records=[{"Data": json.dumps(record).encode(), "PartitionKey": KENT_CAMERA}],
    )
    return alert_id_for(KENT_CAMERA, read_id, KENT_ONLY_VOI)


def nav_labels(page: Any) -> list[str]:
    nav = page.get_by_role("navigation", name="Screens")
    if nav.count() == 0:
        return []
    return [label.strip() for label in nav.get_by_role("link").all_inner_texts()]


# Every demo user: one per group, and the second force's operator.
DEMO_USERS = [
    (group, f"{group}-{'national' if group in NATIONAL_GROUPS else 'kent'}") for group in SCREENS_BY_GROUP
]
DEMO_USERS.append(("operator", "operator-essex"))


@pytest.mark.parametrize(("group", "username"), sorted(DEMO_USERS))
def test_each_demo_user_sees_only_their_screens(
    local: Local, new_page: Any, group: str, username: str
) -> None:
    watched = new_page()
    page = watched.page
    sign_in(page, local, username, demo_password(username))
    page.get_by_role("button", name="Sign out").wait_for()
    assert page.get_by_text(f"Signed in as {username}").is_visible()
    expected = SCREENS_BY_GROUP[group]
    assert nav_labels(page) == expected
    if expected:
        assert page.get_by_role("heading", level=1).inner_text() == expected[0]
    else:
        assert page.get_by_role("heading", level=1).inner_text() == "No screens"
    # Asking for another group's screen by its address shows this user's own screen instead.
    others = ("alerts", "search", "authorisations", "voi", "audit", "reports", "accounts", "subject-requests")
    for other in others:
        page.goto(f"{local.config['console_url']}#/{other}")
        assert nav_labels(page) == expected
    assert_accessible(page)


def test_operator_sees_a_new_alert_appear_without_a_reload_and_records_its_outcome(
    local: Local, new_page: Any
) -> None:
    page = new_page().page
    sign_in_as(page, local, "operator")
    page.get_by_role("heading", name="Alerts", level=1).wait_for()
    page.locator('.alerts[aria-busy="false"]').wait_for()
    page.evaluate("() => { window.stillTheSamePage = true; }")

    alert_id = put_read(local, KENT_ONLY_VRM)
    row = page.locator(f'tr[data-alert-id="{alert_id}"]')
    row.wait_for(timeout=30_000)
    assert page.evaluate("() => window.stillTheSamePage === true")  # refreshed in place, not reloaded
    assert "new" in (row.get_attribute("class") or "")
    assert row.get_by_text("New", exact=True).is_visible()
    assert page.get_by_text(re.compile(r"^\d+ new alerts?$")).count() == 1  # announced to screen readers
    first_row = page.locator("table.data tbody tr").first
    assert first_row.get_attribute("data-alert-id") == alert_id  # newest first
    assert_accessible(page)

    row.get_by_role("button", name=KENT_ONLY_VRM).click()
    detail = page.get_by_role("region", name=f"Alert {KENT_ONLY_VRM}")
    assert detail.get_by_text(KENT_ONLY_VOI, exact=True).is_visible()
    assert detail.get_by_text(KENT_CAMERA, exact=True).is_visible()
    assert detail.get_by_text("the live match", exact=True).is_visible()
    assert row.get_by_text("Retro-hunt", exact=True).count() == 0
    assert "new" not in (row.get_attribute("class") or "")  # opened, so no longer new
    page.get_by_label("Outcome").select_option("confirmed")
    page.get_by_label("Note").fill("stopped at junction 9")
    assert_accessible(page)
    page.get_by_role("button", name="Record outcome").click()
    page.get_by_role("status").filter(has_text="Outcome confirmed recorded by operator-kent").wait_for()
    assert row.locator("td").last.inner_text() == "confirmed"

    status, _, body = local.request("GET", "/alerts?limit=100", token=local.id_token("operator"))
    assert status == 200
    [stored] = [a for a in body["alerts"] if a["alert_id"] == alert_id]
    assert stored["outcome"] == "confirmed"


def test_operator_sees_a_retro_alert_marked_as_found_in_stored_reads(local: Local, new_page: Any) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    vrm, read_id = f"RC{tag}", f"rc-{tag}"
    put_reads(local, [(read_id, vrm, datetime.now(UTC) - timedelta(hours=2), KENT_CAMERA)])
    found(local, local.id_token("investigator"), {"type": "vrm", "vrm": vrm}, {read_id})
    manager = local.id_token("voi-manager")
    status, _, created = list_with_a_hunt(local, manager, vrm)
    assert status == 201, created
    wait_for(lambda: hunt_of(local, manager, created["voi_id"]), timeout_s=60)

    page = new_page().page
    sign_in_as(page, local, "operator")
    row = page.locator(f'tr[data-alert-id="{alert_id_for(KENT_CAMERA, read_id, created["voi_id"])}"]')
    row.wait_for(timeout=30_000)
    assert row.get_by_text("Retro-hunt", exact=True).is_visible()
    row.get_by_role("button", name=vrm).click()
    detail = page.get_by_role("region", name=f"Alert {vrm}")
    assert detail.get_by_text("a retro-hunt of stored reads", exact=True).is_visible()
    assert_accessible(page)


def test_operator_works_an_alert_with_the_keyboard_alone(local: Local, new_page: Any) -> None:
    page = new_page().page
    alert_id = put_read(local, KENT_ONLY_VRM)
    sign_in_as(page, local, "operator")
    row = page.locator(f'tr[data-alert-id="{alert_id}"]')
    row.wait_for(timeout=30_000)
    vrm_button = row.get_by_role("button", name=KENT_ONLY_VRM)

    for _ in range(40):  # Tab until the alert's button has focus, checking each stop shows its focus
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
                return { tag: e.tagName, outline: s.outlineStyle, shadow: s.boxShadow }; }"""
        )
        assert focused["outline"] != "none" or focused["shadow"] != "none", focused
        if vrm_button.evaluate("(e) => e === document.activeElement"):
            break
    else:
        pytest.fail("the alert's button was not reachable with Tab")
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name=f"Alert {KENT_ONLY_VRM}")
    expect(heading).to_be_focused()  # focus moves to what opened (waits for the render)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Outcome")).to_be_focused()
    page.keyboard.press("ArrowDown")  # closed <select>: the arrow picks the next option
    choice = page.get_by_label("Outcome").input_value()
    assert choice == "confirmed"
    page.keyboard.press("Tab")
    page.keyboard.type("seen, no stop")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text=f"Outcome {choice} recorded").wait_for()


def test_auditor_sees_the_operators_requests_and_the_chain_state(local: Local, new_page: Any) -> None:
    operator = new_page().page
    sign_in_as(operator, local, "operator")
    operator.get_by_role("heading", name="Alerts", level=1).wait_for()
    operator.locator('.alerts[aria-busy="false"]').wait_for()

    page = new_page().page
    sign_in_as(page, local, "auditor")
    page.get_by_role("heading", name="Audit", level=1).wait_for()
    page.get_by_role("status").filter(has_text="Chain intact").wait_for()
    page.get_by_label("User").fill("operator-kent")
    page.get_by_role("button", name="Show events").click()
    page.wait_for_function(
        """() => { const rows = [...document.querySelectorAll('table.data tbody tr')];
            return rows.length > 0 && rows.every(r => r.innerText.includes('operator-kent')); }"""
    )
    texts = page.locator("table.data tbody tr").all_inner_texts()
    assert texts
    assert all("operator-kent" in t for t in texts)
    assert any("GET /alerts" in t for t in texts)
    assert_accessible(page)

    page.get_by_role("button", name="Verify chain").click()
    verdict = page.get_by_role("status").filter(has_text="Chain intact")
    verdict.wait_for()
    records = int(re.search(r"(\d+) records?", verdict.inner_text()).group(1))  # type: ignore[union-attr]
    assert records > 0


def test_admin_disables_an_account_and_its_user_can_no_longer_sign_in(local: Local, new_page: Any) -> None:
    leaver, password = new_user(local, "operator")
    page = new_page().page
    sign_in_as(page, local, "admin")
    page.get_by_role("heading", name="Accounts", level=1).wait_for()
    page.get_by_label("Username").fill(leaver)
    page.get_by_label("Reason").fill("Leaver: HR reference 2024/117")
    page.get_by_role("button", name="Disable account").click()
    confirm = page.get_by_role("button", name="Confirm disable")
    expect(confirm).to_be_focused()
    assert_accessible(page)
    confirm.click()
    page.get_by_role("status").filter(has_text=f"{leaver} disabled at").wait_for()
    assert page.get_by_role("status").inner_text().endswith("by admin-national.")

    other = new_page().page
    sign_in(other, local, leaver, password)
    other.get_by_role("alert").filter(has_text="disabled").wait_for()
    assert other.get_by_role("button", name="Sign out").count() == 0


def test_a_refused_disable_shows_the_apis_rule(local: Local, new_page: Any) -> None:
    page = new_page().page
    admin = sign_in_as(page, local, "admin")
    page.get_by_label("Username").fill(admin["username"])
    page.get_by_label("Reason").fill("Testing the refusal of self-disable")
    page.get_by_role("button", name="Disable account").click()
    page.get_by_role("button", name="Confirm disable").click()
    error = page.get_by_role("alert")
    error.wait_for()
    assert "(" in error.inner_text()  # the rule code the API named, e.g. (cannot-disable-self)
    assert page.get_by_role("button", name="Sign out").is_visible()  # still signed in


def test_wrong_password_shows_the_pools_refusal(local: Local, new_page: Any) -> None:
    page = new_page().page
    sign_in(page, local, "operator-kent", "not-the-password")
    page.get_by_role("alert").filter(has_text="Incorrect username or password").wait_for()
    assert page.get_by_role("button", name="Sign out").count() == 0
    assert_accessible(page)


def test_sign_in_answers_the_totp_challenge_when_the_pool_asks(local: Local, new_page: Any) -> None:
    username, password = new_user(local, "auditor", lea="NATIONAL")
    cognito = local.client("cognito-idp")
    access = local.sign_in(username, password)["AccessToken"]
    cognito.associate_software_token(AccessToken=access)
    cognito.verify_software_token(AccessToken=access, UserCode="123456")
    cognito.admin_set_user_mfa_preference(
        UserPoolId=local.config["user_pool_id"],
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    page = new_page().page
    sign_in(page, local, username, password)
    code = page.get_by_label("Code")
    code.wait_for()
    expect(code).to_be_focused()
    assert page.get_by_label("Password").count() == 0
    assert_accessible(page)
    code.fill("123456")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    assert nav_labels(page) == SCREENS_BY_GROUP["auditor"]


def test_the_token_stays_in_memory_and_the_console_signs_out_when_it_expires(
    local: Local, new_page: Any
) -> None:
    page = new_page().page
    page.clock.install()
    sign_in_as(page, local, "auditor")
    stored = page.evaluate(
        "() => [JSON.stringify(localStorage), JSON.stringify(sessionStorage), document.cookie]"
    )
    assert stored == ["{}", "{}", ""]
    expires = page.get_by_text(re.compile("Signed in as")).inner_text()
    assert "until" in expires

    page.clock.fast_forward("02:00:00")  # past any token's life (15 minutes in AWS, an hour in moto)
    page.get_by_role("status").filter(has_text="Your session expired").wait_for()
    assert page.get_by_label("Username").is_visible()
    assert page.get_by_role("button", name="Sign out").count() == 0


def test_the_console_signs_out_when_the_api_refuses_the_token(local: Local, new_page: Any) -> None:
    page = new_page().page
    sign_in_as(page, local, "operator")
    page.get_by_role("heading", name="Alerts", level=1).wait_for()
    local.clock.offset_s = 2 * 3600  # the gateway now sees the token as expired
    try:
        page.get_by_role("status").filter(has_text="Signed out: token has expired").wait_for(timeout=20_000)
    finally:
        local.clock.offset_s = 0
    assert page.get_by_label("Username").is_visible()
