"""The real app in a real browser: `streamlit run app.py` on the demo, every page visited in Chromium;
"Connect to Xero" clicked through the local sandbox's consent page; every page opened cold from its URL;
the Preview grid and its line panel at 1400 px, the narrow layout at 800 px, a push's lines in History,
and the question before leaving a form with unsaved edits.

Needs Debian's Chromium at /usr/bin/chromium (Playwright's own browser download needs the internet).
Without it the test is skipped, unless REQUIRE_BROWSER=1 (as `.ci/run` sets) turns that into a failure.
"""
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from core import access, config, connection, edits, explain, preview, push, rules, store, ui
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


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for the module's tests; each test opens its pages in a context of its own."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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


@pytest.fixture
def demo_app_url(demo_db, tmp_path):
    """The dashboard on a copy of the synced, seeded demo (no first-start sync to wait for)."""
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


def test_every_page_shows_its_title_and_no_error(chromium, app_url, tmp_path):
    require_browser()
    from playwright.sync_api import expect

    titles = [title for _, title, _, _ in ui.PAGES]
    with browser_page(chromium) as page:
        page.goto(app_url)
        expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=FIRST_PAGE_MS)
        for title in titles:
            page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True).click()
            expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=PAGE_MS)
            wait_for_the_run_to_finish(page)
            page.screenshot(path=tmp_path / f"{title.lower().replace(' ', '_')}.png")
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
            expect(page.get_by_text("Something went wrong")).to_have_count(0)


def test_connect_to_xero_approve_on_the_consent_page_choose_the_organisation_and_sync(chromium, code_flow_app_url,
                                                                                        db_path, tmp_path):
    require_browser()
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
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
        context.close()


def wait_for_the_run_to_finish(page) -> None:
    """Wait for a script run under way (or just begun) to end: Streamlit marks its app root with the state of
    the run, and shows a "Running…" status widget meanwhile."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=PAGE_MS)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=PAGE_MS)


# Notes in window.ranSince whether a script run has begun since it was installed, however brief the run.
WATCH_RUNS = """() => {
    window.ranSince = false;
    const app = document.querySelector('[data-testid="stApp"]');
    new MutationObserver(changes => {
        if (app.dataset.testScriptState === "running" || changes.some(change => change.oldValue === "running")) {
            window.ranSince = true;
        }
    }).observe(app, {attributes: true, attributeFilter: ["data-test-script-state"], attributeOldValue: true});
}"""


def run_after(page, action) -> None:
    """Do `action`, which reruns the script, and wait until that run has ended."""
    page.evaluate(WATCH_RUNS)
    action()
    page.wait_for_function("() => window.ranSince", timeout=PAGE_MS)
    wait_for_the_run_to_finish(page)


@contextmanager
def browser_page(chromium, width: int = 1400):
    """A page of Debian's Chromium, `width` px wide, in a context of its own."""
    context = chromium.new_context(viewport={"width": width, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def opened(page, url: str, title: str) -> None:
    page.goto(url, wait_until="commit")  # then wait on the title itself, not on the page's every script
    shown(page, title)


def shown(page, title: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=FIRST_PAGE_MS)
    wait_for_the_run_to_finish(page)


SECTIONS = list(dict.fromkeys(section for *_, section in ui.PAGES))
FILE_NAMES = ["app", "overview", "preview", "push", "revenue", "clients", "services", "team", "import csv",
              "import_csv", "history", "settings"]


def test_every_page_opened_cold_from_its_url_shows_the_apps_menu(chromium, demo_app_url):
    """A page opened from a bookmark, a shared link or Xero's return runs without app.py: its guard draws
    the same sectioned menu, and Streamlit's list of file names stays hidden. Then the same after app.py ran."""
    require_browser()
    urls = [(f"/{Path(file).stem}", title) for file, title, _, _ in ui.PAGES]
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})  # its cache keeps Streamlit's scripts
    try:
        for batch in [urls, [("/", "Overview")], urls]:  # cold first; "/" runs app.py's navigation; cold again
            pages = [(path, title, context.new_page()) for path, title in batch]  # each a session of its own
            for path, title, page in pages:  # the batch's pages load side by side
                page.goto(demo_app_url + path, wait_until="commit")
            for path, title, page in pages:
                check_the_menu(page, path, title)
    finally:
        context.close()


def check_the_menu(page, path: str, title: str) -> None:
    """`page`, opened at `path`, shows `title` and the app's sectioned menu, not Streamlit's list of file names."""
    from playwright.sync_api import expect

    titles = [name for _, name, _, _ in ui.PAGES]
    shown(page, title)
    sidebar = page.get_by_test_id("stSidebar")
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    for section in SECTIONS:
        expect(sidebar.get_by_text(section, exact=True)).to_be_visible(timeout=PAGE_MS)
    expect(sidebar.locator("a")).to_have_count(len(titles), timeout=PAGE_MS)  # drawn after the title
    links = [text.split("\n")[-1].strip() for text in sidebar.locator("a").all_inner_texts()]  # after the icon
    assert links == titles, path
    assert not {link.lower() for link in links} & (set(FILE_NAMES) - {t.lower() for t in titles})
    page.close()


@pytest.fixture
def preview_demo(demo_db, tmp_path):
    """The demo with a line of every source label (a consolidated client's first line overridden, for TC1's
    `consolidated`), and what the Preview must show, worked out before the server holds the database."""
    with store.connect(demo_db) as con:
        first_line = con.execute("""
            SELECT l.line_id::VARCHAR FROM invoice_lines l JOIN invoices i USING (invoice_id)
            JOIN client_settings s ON s.contact_id = i.contact_id AND s.consolidate
            WHERE l.position = 0 AND (SELECT count(*) FROM invoice_lines o WHERE o.invoice_id = l.invoice_id) > 1
            ORDER BY i.date DESC LIMIT 1""").fetchone()[0]
        tc1_option = con.execute("SELECT tc1_wanted_option_id FROM line_rules WHERE tc1_wanted_option_id IS NOT NULL "
                                 "LIMIT 1").fetchone()[0]
        edits.set_line_override(con, first_line, by=access.LOCAL_USER, tc1=tc1_option)
        first_rows = {source: preview.page(con, preview.Filters(source=source), 1)[0] for source in rules.SOURCES}
        said = {source: explain.sentence(preview.line_detail(con, row["line_id"])) for source, row in first_rows.items()}
        page_one = preview.page(con, preview.Filters(), 1)
        sent = {(r["line_id"], r["slot"]) for r in push.plan(con) if r["eligible"]}
    return said, page_one, sent


@pytest.fixture
def preview_url(preview_demo, tmp_path):
    yield from serve_app(tmp_path)


DECISIVE = ["Invoice", "Line", "Description", "now → wanted", "now → wanted", "Status"]
GRID_HEADER, ROW_HEIGHT, ROW_MARKER = 35, 35, 30


def visible_headers(grid) -> list[str]:
    """The grid's column headers in sight: the grid (a canvas) keeps an accessible table of the visible cells."""
    grid.locator("th").first.wait_for(state="attached", timeout=PAGE_MS)
    return grid.locator("th").all_inner_texts()


def select_first_row(grid) -> None:
    grid.click(position={"x": 15, "y": GRID_HEADER + ROW_HEIGHT // 2})


def test_preview_at_1400_px_the_decisive_columns_the_line_panel_and_the_highlight(chromium, preview_demo,
                                                                                 preview_url, tmp_path):
    from PIL import Image
    from playwright.sync_api import expect

    said, page_one, sent = preview_demo
    with browser_page(chromium, 1400) as page:
        opened(page, f"{preview_url}/preview", "Preview")
        grid = page.get_by_test_id("stDataFrame").first
        headers = visible_headers(grid)
        assert headers[:3] == DECISIVE[:3], headers
        assert [h.split(": ", 1)[-1] for h in headers[3:6]] == DECISIVE[3:], headers
        assert not {"Client", "Date", "Amount"} & set(headers)  # moved to the right, out of sight

        # the highlight: a slot cell is yellow exactly where the push plan sends that line's slot
        shot = Image.open(io.BytesIO(grid.screenshot())).convert("RGB")
        start = ROW_MARKER + 90 + 45 + 200  # the slot columns' widths, as pages/preview.py sets them
        slot_x = {1: start + 95, 2: start + 190 + 95}  # the middle of each cell, above its text
        rows_in_sight = (shot.height - GRID_HEADER) // ROW_HEIGHT
        highlighted = {(row["line_id"], slot) for number, row in enumerate(page_one[:rows_in_sight])
                       for slot, x in slot_x.items()
                       if shot.getpixel((x, GRID_HEADER + number * ROW_HEIGHT + 4)) == (255, 243, 176)}
        in_sight = {row["line_id"] for row in page_one[:rows_in_sight]}
        assert highlighted == {(line, slot) for line, slot in sent if line in in_sight}
        assert highlighted  # the first page has lines a push would write, and lines it would not
        assert {row["status"] for row in page_one[:rows_in_sight]} - {"change"}

        # the panel: one sentence for a line of each source label
        for source, sentence in said.items():
            page.get_by_test_id("stSelectbox").filter(has_text="Source (either slot)").click()
            run_after(page, page.get_by_role("option", name=source, exact=True).click)
            select_first_row(page.get_by_test_id("stDataFrame").first)
            panel = page.locator(".st-key-preview_line_panel")
            expect(panel.get_by_text(sentence, exact=True)).to_be_visible(timeout=PAGE_MS)
        page.screenshot(path=tmp_path / "preview_panel.png", full_page=True)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def test_at_800_px_filters_wrap_figures_fit_and_the_sidebar_starts_collapsed(chromium, demo_app_url):
    from playwright.sync_api import expect

    with browser_page(chromium, 800) as page:
        opened(page, f"{demo_app_url}/preview", "Preview")
        expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
        filters = [page.get_by_test_id(kind).filter(has_text=label).first.bounding_box() for kind, label in [
            ("stSelectbox", "Client"), ("stTextInput", "Invoice number"), ("stDateInput", "Invoice dates"),
            ("stSelectbox", "Invoice status"), ("stSelectbox", "Line status"),
            ("stSelectbox", "Source (either slot)")]]
        assert all(box["x"] >= 0 and box["x"] + box["width"] <= 800 and box["width"] >= 150 for box in filters)
        assert len({round(box["y"]) for box in filters}) >= 2  # wrapped onto more rows, none squeezed
        for path, title in [("/preview", "Preview"), ("/push", "Push"), ("/", "Overview")]:
            opened(page, demo_app_url + path, title)
            cut = page.eval_on_selector_all('[data-testid="stMetricValue"] div, [data-testid="stMetricLabel"] div',
                                            "els => els.filter(e => e.scrollWidth > e.clientWidth + 1)"
                                            ".map(e => e.textContent)")  # Streamlit ends cut text in "…"
            assert cut == [], (path, cut)


@pytest.fixture
def pushed_url(demo_db, tmp_path):
    """The demo after one push (through the sandbox), served."""
    push.push(connection.gateway(), by=access.LOCAL_USER, db=demo_db)
    yield from serve_app(tmp_path)


def test_history_shows_a_push_and_opens_it_to_its_lines(chromium, pushed_url):
    from playwright.sync_api import expect

    with browser_page(chromium, 1400) as page:
        opened(page, f"{pushed_url}/history", "History")
        grid = page.get_by_test_id("stDataFrame").first
        expect(grid.locator("td").filter(has_text="Xero now has the new tracking on")).to_have_count(1)
        select_first_row(grid)
        expect(page.get_by_role("heading", name="Push 1: line by line")).to_be_visible(timeout=PAGE_MS)
        log = page.get_by_test_id("stDataFrame").nth(1)
        assert visible_headers(log)[:7] == ["Invoice", "Client", "Line", "Description", "Tracking category",
                                            "Before", "After"]
        # the lines Xero refused (the demo keeps archived options on some lines) come first, then those done
        expect(log.locator("td").filter(has_text=re.compile("^(Done in Xero|Failed)$")).first).to_be_attached()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the lines of push 1 (CSV)").click()
        assert download.value.suggested_filename == "push_1_lines.csv"
        assert Path(download.value.path()).read_bytes().decode("utf-8-sig").startswith(
            "Invoice,Client,Line,Description,Tracking category,Before,After,Outcome")


def test_leaving_a_form_with_unsaved_edits_asks_first(chromium, demo_app_url):
    from playwright.sync_api import expect

    with browser_page(chromium, 1400) as page:
        opened(page, f"{demo_app_url}/clients", "Clients")
        select_first_row(page.get_by_test_id("stDataFrame").first)
        consolidate = page.get_by_test_id("stCheckbox").filter(has_text="Consolidate lines")
        consolidate.click()
        expect(page.get_by_text("Not saved yet:")).to_be_visible(timeout=PAGE_MS)
        wait_for_the_run_to_finish(page)
        asked = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        with page.expect_event("dialog", timeout=PAGE_MS):
            page.get_by_test_id("stSidebar").get_by_role("link", name="Preview").click()
        assert asked and "are not saved. Leave without saving?" in asked[0]
        expect(page.get_by_role("heading", name="Clients", exact=True)).to_be_visible()
