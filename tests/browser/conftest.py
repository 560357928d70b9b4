"""Browser tests of the console: Playwright drives Debian's Chromium against an in-process `nas
local` (demo data, no simulator: tests post their own reads). Every page runs under the served
Content-Security-Policy, and a policy violation fails the test. Each test saves a screenshot under
test-results/console/ (ignored by git) and runs axe-core (from console/node_modules) on each screen
it visits: no serious or critical violation is allowed (WCAG 2.2 AA)."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nas.domain.roles import Role
from nas.local.demo import create_user
from nas.local.moto_server import free_port
from nas.local.runtime import LocalMode, LocalOptions
from tests.local.conftest import Clock, Local

playwright_api = pytest.importorskip("playwright.sync_api")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONSOLE = PROJECT_ROOT / "console"
SCREENSHOTS = PROJECT_ROOT / "test-results" / "console"
AXE = CONSOLE / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("NAS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# WCAG 2.0, 2.1 and 2.2 at levels A and AA, as axe tags them.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
VIEWPORT = {"width": 1280, "height": 900}
# Whether the focused element shows its focus: an outline or ring of its own, or, for a map site (an
# SVG group, which draws no outline), its focus circle.
FOCUS_SHOWN = """() => { const e = document.activeElement; const s = getComputedStyle(e);
    const site = e.classList.contains('map-site') ? e.querySelector('.map-focus') : null;
    const ring = site ? getComputedStyle(site).stroke : 'none';
    return { element: e.outerHTML.slice(0, 80),
             shown: s.outlineStyle !== 'none' || s.boxShadow !== 'none' || ring !== 'none' }; }"""


def _require_chromium() -> None:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).is_file():
        return
    message = f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (.ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI installs it; its absence there is a broken setup, not a skip
    pytest.skip(message)


def _require_console() -> None:
    if not (CONSOLE / "dist" / "index.html").is_file() or not AXE.is_file():
        pytest.fail("the console is not built: run `make setup` (make test builds it)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _require_chromium()
    _require_console()
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    pytest.importorskip("pyarrow")
    config_path = tmp_path_factory.mktemp("console") / ".nas-local.json"
    clock = Clock()
    mode = LocalMode(
        LocalOptions(
            aws_port=free_port(),
            api_port=free_port(),
            demo=True,
            simulator=False,
            config_path=config_path,
            flush_interval_s=1.0,
            clock=clock,
        )
    )
    config = mode.start()
    try:
        yield Local(mode, config, config_path, clock)
    finally:
        mode.stop()


@dataclass
class Watched:
    """A page and what it has said: console errors, CSP violations, requests it made."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e]


def watch(page: Any) -> Watched:
    watched = Watched(page)
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.errors.append(str(e)))
    page.on("request", lambda r: watched.requests.append(r.url))
    return watched


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A factory of pages, each in its own context (its own memory: a fresh, signed-out console).
    On teardown the last page is saved as the test's screenshot and no page may have broken the CSP."""
    contexts: list[Any] = []
    pages: list[Watched] = []

    def make() -> Watched:
        context = browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="Europe/London")
        context.set_default_timeout(15_000)
        contexts.append(context)
        watched = watch(context.new_page())
        pages.append(watched)
        return watched

    yield make
    try:
        if pages:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
            with contextlib.suppress(Exception):
                pages[-1].page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        violations = [v for p in pages for v in p.csp_violations()]
        assert not violations, violations
    finally:
        for context in contexts:
            context.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 A/AA violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5),
            }));
        }""",
        WCAG_TAGS,
    )
    return found


def assert_accessible(page: Any) -> None:
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, blocking


def sign_in(page: Any, local: Local, username: str, password: str) -> None:
    page.goto(local.config["console_url"])
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_as(page: Any, local: Local, group: str) -> dict[str, str]:
    user: dict[str, str] = local.config["demo"]["users"][group]
    sign_in(page, local, user["username"], user["password"])
    page.get_by_role("button", name="Sign out").wait_for()
    return user


def new_user(local: Local, group: str, lea: str = "KENT") -> tuple[str, str]:
    """A user of its own for a test that changes an account (disables it, enrols MFA)."""
    username = f"{group}-{uuid.uuid4().hex[:8]}"
    user = create_user(local.client("cognito-idp"), local.config["user_pool_id"], username, Role(group), lea)
    return user["username"], user["password"]


def tab_to(page: Any, target: Any, *, key: str = "Tab", limit: int = 60) -> None:
    """Presses Tab (or `key`: Shift+Tab) until `target` has focus, checking every stop on the way
    shows its focus."""
    for _ in range(limit):
        page.keyboard.press(key)
        focused = page.evaluate(FOCUS_SHOWN)
        assert focused["shown"], focused["element"]
        if target.evaluate("(e) => e === document.activeElement"):
            return
    pytest.fail(f"{target} was not reachable with Tab")
