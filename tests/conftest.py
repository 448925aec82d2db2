import shutil

import pytest

from core import access, rules, store
from core.config import XeroConfig
from tests import line_ids


def pytest_collection_modifyitems(items):
    """The browser tests, the longest, first: spread over the workers (pytest-xdist) from the start rather than
    left for one worker at the end."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


@pytest.fixture
def db_path(tmp_path, monkeypatch):
    """A temporary database file, also set as TRACKING_DB for code that opens the default."""
    path = tmp_path / "tracking.duckdb"
    monkeypatch.setenv("TRACKING_DB", str(path))
    return path


@pytest.fixture
def con(db_path):
    """An open connection to a fresh, migrated database."""
    with store.connect(db_path) as connection:
        line_ids.define(connection)
        yield connection


XERO_ENVIRONMENT = ("XERO_CLIENT_ID", "XERO_CLIENT_SECRET", "XERO_TENANT_ID", "XERO_API_URL", "XERO_IDENTITY_URL",
                    "XERO_AUTH", "XERO_LOGIN_URL", "XERO_REDIRECT_URI", "XERO_TOKEN_FILE")


@pytest.fixture
def demo_mode(monkeypatch, tmp_path):
    """No Xero credentials anywhere (environment or secrets.toml): the app runs the demo organisation."""
    from core import config

    for name in XERO_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config, "SECRETS_FILE", tmp_path / "no-secrets.toml")


@pytest.fixture
def uncalled_xero(demo_mode, monkeypatch):
    """Credentials of a Xero organisation that is never called: the app does not start the demo organisation and
    sync it into the test's database."""
    monkeypatch.setenv("XERO_CLIENT_ID", "client")
    monkeypatch.setenv("XERO_CLIENT_SECRET", "secret")


@pytest.fixture
def streamlit_caches():
    """Streamlit's caches live as long as the process: start every page test with them empty."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """The demo database, synced from its sandbox and seeded once per test session, with the sandbox state."""
    from core import config, connection

    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        for name in XERO_ENVIRONMENT:
            patch.delenv(name, raising=False)
        patch.setattr(config, "SECRETS_FILE", folder / "no-secrets.toml")
        patch.setenv("TRACKING_DB", str(folder / "tracking.duckdb"))
        connection.fill_demo()
    return folder


@pytest.fixture
def demo_db(demo_template, demo_mode, db_path):
    """TRACKING_DB holding a fresh copy of the synced and seeded demo (its own sandbox state beside it)."""
    for file in demo_template.iterdir():
        shutil.copy(file, db_path.parent / file.name)
    return db_path


@pytest.fixture
def streamlit_app(demo_db, streamlit_caches):
    """`streamlit_app("pages/x.py")`: an AppTest of that file on a copy of the synced, seeded demo."""
    from streamlit.testing.v1 import AppTest

    from core import config

    def load(file: str = "app.py") -> AppTest:
        return AppTest.from_file(str(config.ROOT / file), default_timeout=120)

    return load


# A small practice whose revenue tests/test_revenue.py works out by hand (base currency NZD).
REVENUE_PRACTICE = [
    """INSERT INTO organisation VALUES ('org', 'Hand Practice', 'NZD', 'NZ')""",
    """INSERT INTO tracking_categories VALUES ('cat-p', 'Partner', 'ACTIVE', 0), ('cat-d', 'Department', 'ACTIVE', 1)""",
    """INSERT INTO slots VALUES (1, 'cat-p'), (2, 'cat-d')""",
    """INSERT INTO tracking_options VALUES ('ann', 'cat-p', 'Ann', 'ACTIVE'), ('bob', 'cat-p', 'Bob', 'ACTIVE'),
        ('tax', 'cat-d', 'Tax', 'ACTIVE'), ('audit', 'cat-d', 'Audit', 'ACTIVE')""",
    """INSERT INTO contacts (contact_id, name) VALUES ('acme', 'Acme Ltd'), ('beta', '=Beta Co')""",
    """INSERT INTO invoices (invoice_id, number, contact_id, date, status, line_amount_types,
                             currency_code, currency_rate, updated_utc) VALUES
        ('i1', 'INV-1', 'acme', DATE '2026-01-15', 'AUTHORISED', 'Exclusive', 'NZD', 1, now()),
        ('i2', 'INV-2', 'beta', DATE '2026-02-10', 'PAID', 'Exclusive', 'USD', 0.7, now()),
        ('i3', 'INV-3', 'acme', DATE '2026-02-20', 'VOIDED', 'Exclusive', 'NZD', 1, now()),
        ('i4', 'INV-4', 'beta', DATE '2026-03-05', 'DRAFT', 'Exclusive', 'NZD', 1, now()),
        ('i5', 'INV-5', 'acme', DATE '2026-04-01', 'AUTHORISED', 'Inclusive', 'NZD', 1, now()),
        ('i6', 'INV-6', 'beta', DATE '2026-04-02', 'AUTHORISED', 'Inclusive', 'GBP', 0.5, now())""",
    """INSERT INTO invoice_lines (line_id, invoice_id, position, line_amount, tax_amount) VALUES
        (line_id('l1'), 'i1', 0, 100.00, 15.00), (line_id('l2'), 'i1', 1, 50.00, 7.50),
        (line_id('l3'), 'i2', 0, 60.00, 0), (line_id('l4'), 'i2', 1, 30.00, 0),
        (line_id('l5'), 'i3', 0, 1000.00, 150.00), (line_id('l6'), 'i4', 0, 200.00, 30.00),
        (line_id('l7'), 'i5', 0, 115.00, 15.00), (line_id('l8'), 'i6', 0, 23.00, 3.00)""",
    """INSERT INTO line_tracking (line_id, category_id, option_id) VALUES
        (line_id('l1'), 'cat-p', 'ann'), (line_id('l1'), 'cat-d', 'tax'), (line_id('l2'), 'cat-p', 'ann'),
        (line_id('l3'), 'cat-p', 'bob'), (line_id('l3'), 'cat-d', 'audit'),
        (line_id('l5'), 'cat-p', 'ann'), (line_id('l5'), 'cat-d', 'tax'),
        (line_id('l6'), 'cat-p', 'bob'), (line_id('l6'), 'cat-d', 'tax'),
        (line_id('l7'), 'cat-p', 'bob'), (line_id('l7'), 'cat-d', 'audit'),
        (line_id('l8'), 'cat-p', 'ann'), (line_id('l8'), 'cat-d', 'audit')""",
    # After the rules: l1 moves to Bob, l2 gains Audit, l3 is cleared by a line override of "None".
    """INSERT INTO line_rules (line_id, invoice_id, contact_id, position, line_amount, invoice_status,
                               tc1_current_option_id, tc1_wanted_option_id, tc1_source, tc1_apply,
                               tc2_current_option_id, tc2_wanted_option_id, tc2_source, tc2_apply, status)
        SELECT L.line_id, L.invoice_id, I.contact_id, L.position, L.line_amount, I.status, T1.option_id,
               W.tc1, CASE WHEN W.tc1_apply THEN 'line' ELSE 'none' END, coalesce(W.tc1_apply, false),
               T2.option_id, W.tc2, CASE WHEN W.tc2_apply THEN 'client' ELSE 'none' END,
               coalesce(W.tc2_apply, false), 'change'
        FROM invoice_lines L JOIN invoices I USING (invoice_id)
        LEFT JOIN line_tracking T1 ON T1.line_id = L.line_id AND T1.category_id = 'cat-p'
        LEFT JOIN line_tracking T2 ON T2.line_id = L.line_id AND T2.category_id = 'cat-d'
        LEFT JOIN (VALUES (line_id('l1'), 'bob', true, NULL, false), (line_id('l2'), NULL, false, 'audit', true),
                          (line_id('l3'), NULL, true, NULL, false), (line_id('l7'), 'bob', true, NULL, false))
                  W(line_id, tc1, tc1_apply, tc2, tc2_apply) ON W.line_id = L.line_id""",
]


@pytest.fixture
def revenue_db(db_path):
    """TRACKING_DB holding the hand-worked revenue practice (REVENUE_PRACTICE)."""
    with store.connect(db_path) as connection, store.transaction(connection):
        line_ids.define(connection)
        for sql in REVENUE_PRACTICE:
            connection.execute(sql)
    return db_path


# A small practice for the settings edits (tests/test_settings*.py). Slots: Partner (1), Department (2);
# Acme is owned by Ann Smith with TC1 Ann; its invoice has a TAX-RET line and an ALIGN line; Beta
# has one TAX-RET line and no settings.
EDIT_PRACTICE = [
    """INSERT INTO tracking_categories VALUES ('cat-p', 'Partner', 'ACTIVE', 0), ('cat-d', 'Department', 'ACTIVE', 1),
        ('cat-r', 'Region', 'ARCHIVED', 2)""",
    """INSERT INTO tracking_options VALUES ('ann', 'cat-p', 'Ann', 'ACTIVE'), ('bob', 'cat-p', 'Bob', 'ACTIVE'),
        ('old', 'cat-p', 'Old Partner', 'ARCHIVED'), ('tax', 'cat-d', 'Tax', 'ACTIVE'),
        ('audit', 'cat-d', 'Audit', 'ACTIVE'), ('advisory', 'cat-d', 'Advisory', 'ARCHIVED'),
        ('north', 'cat-r', 'North', 'ACTIVE')""",
    """INSERT INTO contacts (contact_id, name, status) VALUES ('acme', 'Acme Ltd', 'ACTIVE'),
        ('beta', 'Beta LLC', 'ACTIVE'), ('cogs', 'Cogs & Co', 'ACTIVE')""",
    """INSERT INTO items (item_id, code, name) VALUES ('i1', 'TAX-RET', 'Tax return'), ('i2', 'ALIGN', 'Alignment fee')""",
    """INSERT INTO team_members (name, email, tc2_option_id) VALUES ('Ann Smith', 'ann@example.com', 'tax'),
        ('Bob Jones', NULL, NULL)""",
    """INSERT INTO client_settings VALUES ('acme', 1, 'ann', NULL, false)""",
    """INSERT INTO invoices (invoice_id, number, contact_id, date, status, currency_code, updated_utc) VALUES
        ('inv1', 'INV-001', 'acme', DATE '2026-01-05', 'AUTHORISED', 'GBP', now()),
        ('inv2', 'INV-002', 'beta', DATE '2026-02-01', 'DRAFT', 'GBP', now())""",
    """INSERT INTO invoice_lines (line_id, invoice_id, position, description, item_code, line_amount) VALUES
        (line_id('L1'), 'inv1', 0, 'Tax return 2025', 'TAX-RET', 100.00),
        (line_id('L2'), 'inv1', 1, 'Alignment', 'ALIGN', 50.00),
        (line_id('L3'), 'inv2', 0, 'Tax return', 'TAX-RET', 80.00)""",
]


@pytest.fixture(scope="session")
def edit_practice_file(tmp_path_factory):
    """EDIT_PRACTICE built once (its rules computed), for each test to copy."""
    from core import rules

    path = tmp_path_factory.mktemp("edit_practice") / "tracking.duckdb"
    with store.connect(path) as connection, store.transaction(connection):
        line_ids.define(connection)
        for sql in EDIT_PRACTICE:
            connection.execute(sql)
        rules.refresh(connection)
    return path


@pytest.fixture
def edit_practice_db(db_path, edit_practice_file):
    """TRACKING_DB holding a fresh copy of EDIT_PRACTICE."""
    import shutil

    shutil.copyfile(edit_practice_file, db_path)
    return db_path


@pytest.fixture
def edit_practice(edit_practice_db, con):
    """`con` on EDIT_PRACTICE."""
    return con


@pytest.fixture
def seeded(con):
    """`seeded(statements)`: `con` with the statements run and every line's rules computed, in one transaction."""
    from core import rules

    def seed(statements):
        with store.transaction(con):
            for sql in statements:
                con.execute(sql)
            rules.refresh(con)
        return con
    return seed


EDITABLE_TABLES = ("client_settings", "services", "team_members", "line_overrides", "change_log", "line_rules",
                   "data_version")


@pytest.fixture
def snapshot():
    """`snapshot(con)`: every table an edit writes, to assert that a refused edit wrote nothing."""
    def take(con):
        return {table: sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in EDITABLE_TABLES}
    return take


@pytest.fixture
def wanted():
    """`wanted(con, *names)`: line name → (TC1 wanted name, its source, TC2 wanted name, its source)."""
    def rules_of(con, *names):
        return {line_ids.line_name(line): (tc1, s1, tc2, s2) for line, tc1, s1, tc2, s2 in con.execute(
            f"SELECT r.line_id, w1.name, r.tc1_source, w2.name, r.tc2_source FROM line_rules r {rules.JOIN_WANTED} "
            "WHERE r.line_id IN (SELECT unnest(?::VARCHAR[]))",
            [[line_ids.line_id(name) for name in names]]).fetchall()}
    return rules_of


@pytest.fixture
def sandbox():
    """A running Xero sandbox serving the demo practice, stopped after the test."""
    from core.sandbox import server as xero_sandbox
    server = xero_sandbox.start()
    yield server
    server.stop()


def config_for(box, **changes) -> XeroConfig:
    """A custom connection to the sandbox `box`, with `changes` to its fields."""
    values = dict(client_id=box.client_id, client_secret=box.client_secret, tenant_id="",
                  api_url=box.api_url, identity_url=box.identity_url)
    return XeroConfig(**{**values, **changes})


@pytest.fixture
def sleeps():
    """The waits a gateway asked for, instead of taking them."""
    return []


@pytest.fixture
def gw(sandbox, sleeps):
    """A gateway to `sandbox` that records its waits in `sleeps`."""
    from core.xero.gateway import Gateway
    return Gateway(config_for(sandbox), sleep=sleeps.append)


@pytest.fixture
def start_sandbox():
    """Start sandboxes on any state: `start_sandbox(state=None, state_file=None)`; all stopped after the test."""
    from core.sandbox import server as xero_sandbox
    started = []

    def start(state=None, **kwargs):
        started.append(xero_sandbox.start(state, **kwargs))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def xero_api(sandbox, monkeypatch):
    """The real xero-python AccountingApi, signed in to `sandbox` (docs/xero-behaviours.md)."""
    from xero_python.accounting import AccountingApi
    from xero_python.api_client import ApiClient, Configuration
    from xero_python.api_client.oauth2 import OAuth2Token, TokenApi

    monkeypatch.setattr(TokenApi, "client_credentials_token_url", sandbox.identity_url + "/connect/token")
    configuration = Configuration()
    configuration.oauth2_token = OAuth2Token(client_id=sandbox.client_id, client_secret=sandbox.client_secret)
    client = ApiClient(configuration, pool_threads=1)
    token = {}
    client.oauth2_token_getter(lambda: token.get("current"))
    client.oauth2_token_saver(lambda new: token.__setitem__("current", new))
    client.get_client_credentials_token()
    return AccountingApi(client, base_url=sandbox.api_url)


REDIRECT_URI = "http://localhost:8501/settings"
ADMIN = access.Actor("Ada Admin", "ada@practice.com", access.Role.ADMIN)


@pytest.fixture
def code_flow(demo_mode, db_path, sandbox, monkeypatch):
    """Connect to Xero (auth = "code") configured against `sandbox`, as a confidential app; returns the config."""
    from core import connection

    for name, value in {"XERO_AUTH": "code", "XERO_CLIENT_ID": sandbox.client_id,
                        "XERO_CLIENT_SECRET": sandbox.client_secret, "XERO_API_URL": sandbox.api_url,
                        "XERO_IDENTITY_URL": sandbox.identity_url, "XERO_LOGIN_URL": sandbox.url,
                        "XERO_REDIRECT_URI": REDIRECT_URI}.items():
        monkeypatch.setenv(name, value)
    return connection.xero_config()


@pytest.fixture
def approve():
    """`approve(authorize_url, decision="approve")`: a person on the sandbox's consent page; returns the
    query Xero sends back to the redirect URI (code and state, or error)."""
    import re
    import urllib.error
    import urllib.parse
    import urllib.request

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def decide(url: str, decision: str = "approve") -> dict:
        browser = urllib.request.build_opener(Stay)
        page = browser.open(url).read().decode()
        consent = re.search(r"name='consent' value='([^']+)'", page).group(1)
        form = [("consent", consent), ("decision", decision)] + [
            ("tenant", tenant) for tenant in re.findall(r"name='tenant' value='([^']+)'", page)]
        try:
            browser.open(urllib.parse.urljoin(url, "/identity/connect/authorize"),
                         data=urllib.parse.urlencode(form).encode())
        except urllib.error.HTTPError as answer:
            if answer.code != 303:
                raise
            return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["Location"]).query))
        raise AssertionError("the consent page did not redirect")

    return decide


@pytest.fixture
def connected(code_flow, approve):
    """Connected with Connect to Xero to the sandbox's organisation (chosen); returns the config."""
    from core.xero import oauth

    organisations = oauth.finish(code_flow, approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url), by=ADMIN)
    oauth.choose(code_flow, organisations[0].tenant_id, by=ADMIN)
    return code_flow
