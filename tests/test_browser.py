"""The real app in a real browser: `streamlit run app.py` on the demo, every page visited in Chromium;
and "Connect to Xero" clicked through the local sandbox's consent page.

Needs Debian's Chromium at /usr/bin/chromium (Playwright's own browser download needs the internet).
Without it the test is skipped, unless REQUIRE_BROWSER=1 (as `.ci/run` sets) turns that into a failure.
"""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core import config, ui
from core.xero import tokens

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--no-first-run"]
SERVER_START_SECONDS = 60
FIRST_PAGE_MS = 120_000  # the first visit starts the demo sandbox and syncs it
PAGE_MS = 30_000


def require_browser():
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser test"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"streamlit did not answer {url}/_stcore/health within {SERVER_START_SECONDS} s")


@pytest.fixture
def app_url(demo_mode, db_path, tmp_path):
    """The dashboard served by `streamlit run app.py` in demo mode on a temporary database."""
    yield from serve_app(tmp_path)


@pytest.fixture
def code_flow_app_url(demo_mode, db_path, tmp_path, monkeypatch):
    """The dashboard with Connect to Xero (XERO_AUTH=code, no client id): the flow runs on the local sandbox."""
    monkeypatch.setenv("XERO_AUTH", "code")
    yield from serve_app(tmp_path)


def serve_app(tmp_path):
    secrets = config.ROOT / ".streamlit" / "secrets.toml"
    if secrets.exists():
        pytest.skip(f"{secrets} exists: the app would connect to that Xero organisation, not the demo")
    port = free_port()
    log = (tmp_path / "streamlit.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true", f"--server.port={port}",
         "--server.address=127.0.0.1", "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"],
        cwd=config.ROOT, env=os.environ, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_every_page_shows_its_title_and_no_error(app_url, tmp_path):
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    titles = [title for _, title, _, _ in ui.PAGES]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app_url)
            expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=FIRST_PAGE_MS)
            for title in titles:
                page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
                expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=PAGE_MS)
                wait_for_the_run_to_finish(page)
                page.screenshot(path=tmp_path / f"{title.lower().replace(' ', '_')}.png")
                expect(page.locator('[data-testid="stException"]')).to_have_count(0)
                expect(page.get_by_text("Something went wrong")).to_have_count(0)
        finally:
            browser.close()


def test_connect_to_xero_approve_on_the_consent_page_choose_the_organisation_and_sync(code_flow_app_url, db_path,
                                                                                        tmp_path):
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(f"{code_flow_app_url}/settings")
            connect = page.get_by_role("link", name="Connect to Xero")
            expect(connect).to_be_visible(timeout=FIRST_PAGE_MS)
            with context.expect_page() as opened:  # Streamlit's link button opens a new tab
                connect.click()
            xero = opened.value
            xero.get_by_role("button", name="Approve").click()
            expect(xero.get_by_text("Xero approved the connection")).to_be_visible(timeout=PAGE_MS)
            xero.get_by_role("button", name="Use this organisation").click()
            expect(xero.get_by_text("Synced with Xero")).to_be_visible(timeout=FIRST_PAGE_MS)
            expect(xero.get_by_text("Connected to Demo Practice Ltd")).to_be_visible()
            xero.screenshot(path=tmp_path / "connected.png")
            expect(xero.locator('[data-testid="stException"]')).to_have_count(0)
            expect(xero.get_by_text("Something went wrong")).to_have_count(0)
            token_file = config.default_token_file()
            saved = tokens.read(token_file)["connection"]
            elsewhere = xero.content() + "".join(
                path.read_text(errors="replace") for path in db_path.parent.iterdir()
                if path.is_file() and path != token_file)  # the database, the sandbox's state, the server's log
            assert saved["access_token"] not in elsewhere and saved["refresh_token"] not in elsewhere
        finally:
            browser.close()


def wait_for_the_run_to_finish(page) -> None:
    """Streamlit shows a "Running…" status widget while a script run is under way."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=PAGE_MS)
