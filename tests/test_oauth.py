"""Connect to Xero: the code flow with PKCE, the token file and its lock, through the real SDK against the sandbox."""
import fnmatch
import json
import logging
import os
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from core import access, config, connection, store, sync
from core.__main__ import main as command_line
from core.sandbox import identity as sandbox_identity
from core.xero import oauth, tokens
from core.xero.errors import NotConnected, ReconnectNeeded, XeroAuthError, XeroError
from core.xero.gateway import Call, Gateway
from tests.conftest import ADMIN, REDIRECT_URI

DAY = 86400


def saved(cfg) -> dict:
    return tokens.read(cfg.token_file)["connection"]


def age_saved_token(cfg, *, expires_in: float = -60, refreshed_days_ago: float = 0) -> None:
    """Make the saved access token (about to) expire, and the refresh token as old as asked."""
    with tokens.locked(cfg.token_file):
        data = tokens.read(cfg.token_file)
        now = data["connection"]["refreshed_at"]
        data["connection"].update(expires_at=now + expires_in, refreshed_at=now - refreshed_days_ago * DAY)
        tokens.write(cfg.token_file, data)


def data_version(db_path) -> int:
    with store.connect(db_path) as con:
        return store.data_version(con)


def token_calls(sandbox) -> int:
    return sum(r.path == "/connect/token" for r in sandbox.requests)


def refresh_at_sandbox(sandbox, refresh_token: str) -> int:
    """The refresh_token grant asked straight of the sandbox: its HTTP status (400 means invalid_grant)."""
    form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token,
                                   "client_id": sandbox.client_id, "client_secret": sandbox.client_secret})
    try:
        return urllib.request.urlopen(sandbox.url + "/connect/token", data=form.encode()).status
    except urllib.error.HTTPError as e:
        assert json.loads(e.read()) == {"error": "invalid_grant"}
        return e.code


# --- the authorization request -------------------------------------------------------------------------

def test_the_authorize_address_asks_for_the_scopes_with_state_and_pkce(code_flow):
    attempt = oauth.begin(code_flow, REDIRECT_URI, by=ADMIN)
    url = urllib.parse.urlsplit(attempt.url)
    query = dict(urllib.parse.parse_qsl(url.query))
    assert url.path == "/identity/connect/authorize"
    assert query["scope"].split() == ["offline_access", "accounting.invoices", "accounting.settings.read",
                                      "accounting.contacts.read"]
    assert (query["response_type"], query["redirect_uri"], query["state"], query["code_challenge_method"]) == (
        "code", REDIRECT_URI, attempt.state, "S256")
    verifier = tokens.read(code_flow.token_file)["pending"][attempt.state]["verifier"]
    assert query["code_challenge"] == oauth._challenge(verifier) and verifier not in attempt.url


def test_the_pkce_challenge_is_rfc_7636_s256():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636, appendix B
    assert oauth._challenge(verifier) == sandbox_identity._challenge(verifier) == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_the_real_xero_login_address_is_the_default(code_flow):
    attempt = oauth.begin(replace(code_flow, login_url=None), REDIRECT_URI, by=ADMIN)
    assert attempt.url.startswith("https://login.xero.com/identity/connect/authorize?")


def test_the_token_file_lives_beside_the_database_and_is_ignored_by_git(code_flow, db_path):
    assert code_flow.token_file == db_path.parent / "tracking.xero-tokens.json"
    assert config.default_token_file().name == "tracking.xero-tokens.json"
    patterns = (config.ROOT / ".gitignore").read_text().split()
    for name in ("tracking.xero-tokens.json", "tracking.xero-tokens.json.lock", ".tracking.xero-tokens.json.1.tmp"):
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns if "/" not in pattern), name


def test_the_flow_is_configured_in_secrets_toml(demo_mode, db_path, tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[xero]\nauth = "code"\nclient_id = "APP"\nredirect_uri = "https://desk.example/settings"\n'
                       f'token_file = "{tmp_path / "private" / "xero.json"}"\n')
    monkeypatch.setattr(config, "SECRETS_FILE", secrets)
    cfg = config.xero_config()
    assert (cfg.auth, cfg.client_id, cfg.client_secret, cfg.redirect_uri, cfg.token_file) == (
        "code", "APP", "", "https://desk.example/settings", tmp_path / "private" / "xero.json")
    assert connection.connects_with_code() and not connection.is_demo()
    monkeypatch.setenv("XERO_AUTH", "magic")
    with pytest.raises(config.ConfigError, match="XERO_AUTH"):
        config.xero_config()


def test_without_a_client_id_the_flow_runs_on_the_local_sandbox(demo_mode, db_path, monkeypatch):
    monkeypatch.setenv("XERO_AUTH", "code")
    cfg = connection.xero_config()
    box = connection.demo_sandbox()
    assert (cfg.client_id, cfg.api_url, cfg.login_url) == (box.client_id, box.api_url, box.url)
    assert oauth.begin(cfg, REDIRECT_URI, by=ADMIN).url.startswith(box.url + oauth.AUTHORIZE_PATH)
    assert connection.describe()["Organisation"] == "not connected"


# --- connect, choose, sync ------------------------------------------------------------------------------

def test_connect_choose_the_organisation_and_sync_through_the_sdk(code_flow, approve, sandbox, db_path):
    organisations = oauth.finish(code_flow, approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url), by=ADMIN)
    organisation = sandbox.state["Organisation"]
    assert organisations == [oauth.Organisation(organisation["OrganisationID"], organisation["Name"])]
    assert oauth.status(code_flow).tenant_id is None
    with pytest.raises(NotConnected, match="no organisation is chosen"):
        connection.gateway()

    oauth.choose(code_flow, organisations[0].tenant_id, by=ADMIN)
    gw = connection.gateway()
    assert gw.cfg.tenant_id == organisation["OrganisationID"]
    result = sync.sync(gw, full=True)
    with store.connect() as con:
        (name,) = con.execute("SELECT name FROM organisation").fetchone()
    assert name == organisation["Name"]
    assert result.counts["invoices"] == sum(i["Type"] == "ACCREC" for i in sandbox.state["Invoices"])
    assert gw.calls[0] == Call("GET", "/Connections", 200)
    assert connection.describe()["Organisation"] == organisation["Name"]


def test_every_call_names_the_chosen_organisation(connected, sandbox):
    wrong = Gateway(replace(connected, tenant_id="00000000-0000-0000-0000-000000000000"))
    with pytest.raises(XeroAuthError, match="HTTP 403"):
        wrong.organisation()
    assert connection.gateway().organisation()["Name"] == sandbox.state["Organisation"]["Name"]


def test_the_command_line_uses_the_saved_connection(connected, sandbox, db_path, capsys):
    assert command_line(["sync"]) == 0
    assert "Synced" in capsys.readouterr().out
    with store.connect(db_path) as con:
        assert con.execute("SELECT count(*) FROM invoices").fetchone()[0] > 0


def test_the_command_line_says_when_nothing_is_connected(code_flow, capsys):
    assert command_line(["sync"]) == 2
    assert "press Connect to Xero on the Settings page" in capsys.readouterr().err


# --- the way back from the consent page -------------------------------------------------------------------

def test_a_state_that_was_not_issued_here_is_refused_and_the_code_not_used(code_flow, approve, sandbox):
    returned = approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url)
    with pytest.raises(oauth.AuthorizationFailed, match="does not belong to a Connect to Xero started here"):
        oauth.finish(code_flow, {**returned, "state": returned["state"] + "x"}, by=ADMIN)
    assert token_calls(sandbox) == 0 and not oauth.status(code_flow).connected


def test_each_attempt_is_used_once(code_flow, approve):
    returned = approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url)
    oauth.finish(code_flow, returned, by=ADMIN)
    with pytest.raises(oauth.AuthorizationFailed, match="already used"):
        oauth.finish(code_flow, returned, by=ADMIN)


def test_an_attempt_lasts_ten_minutes(code_flow, approve):
    attempt = oauth.begin(code_flow, REDIRECT_URI, by=ADMIN, now=1_000_000.0)
    returned = approve(attempt.url)
    with pytest.raises(oauth.AuthorizationFailed, match="more than ten minutes"):
        oauth.finish(code_flow, returned, by=ADMIN, now=1_000_000.0 + 601)
    assert not oauth.still_usable(code_flow, attempt, now=1_000_000.0 + 301)


def test_a_denied_consent_says_so_and_saves_nothing(code_flow, approve):
    returned = approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url, "deny")
    assert returned["error"] == "access_denied"
    with pytest.raises(oauth.AuthorizationFailed, match="not given access"):
        oauth.finish(code_flow, returned, by=ADMIN)
    assert tokens.read(code_flow.token_file) == {}


def test_the_code_needs_the_pkce_verifier_and_the_same_redirect_uri(code_flow, approve, sandbox):
    attempt = oauth.begin(code_flow, REDIRECT_URI, by=ADMIN)
    code = approve(attempt.url)["code"]
    verifier = tokens.read(code_flow.token_file)["pending"][attempt.state]["verifier"]
    gw = Gateway(code_flow)
    for wrong_verifier, redirect in ((verifier + "x", REDIRECT_URI), (verifier, REDIRECT_URI + "/other")):
        with pytest.raises(XeroAuthError, match="press Connect to Xero again"):
            gw.tokens.exchange_code(code, wrong_verifier, redirect)
    assert gw.tokens.exchange_code(code, verifier, REDIRECT_URI)["refresh_token"]
    with pytest.raises(XeroAuthError, match="used once"):
        gw.tokens.exchange_code(code, verifier, REDIRECT_URI)


def test_a_code_lasts_five_minutes(code_flow, approve, sandbox):
    returned = approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url)
    sandbox.identity.advance(5 * 60 + 1)
    with pytest.raises(XeroAuthError, match="lasts a few minutes"):
        oauth.finish(code_flow, returned, by=ADMIN)
    assert not oauth.status(code_flow).connected


def test_a_public_app_without_a_secret_connects_with_pkce_alone(code_flow, approve, monkeypatch):
    monkeypatch.delenv("XERO_CLIENT_SECRET")
    public = connection.xero_config()
    assert public.client_secret == ""
    organisations = oauth.finish(public, approve(oauth.begin(public, REDIRECT_URI, by=ADMIN).url), by=ADMIN)
    oauth.choose(public, organisations[0].tenant_id, by=ADMIN)
    assert connection.gateway().organisation()["OrganisationID"] == organisations[0].tenant_id


# --- tokens: renewal, rotation, the lock -----------------------------------------------------------------

def test_an_expired_access_token_is_refreshed_and_the_call_succeeds(connected, sandbox):
    gw = connection.gateway()
    before = saved(connected)
    sandbox.expire_tokens()
    assert gw.tracking_categories()
    after = saved(connected)
    assert sandbox.identity.refreshes == 1
    assert after["refresh_token"] != before["refresh_token"] and after["access_token"] != before["access_token"]
    assert [c.status for c in gw.calls if c.endpoint == "/TrackingCategories"] == [401, 200]


def test_a_token_near_its_expiry_is_renewed_before_the_call(connected, sandbox):
    age_saved_token(connected, expires_in=4 * 60)  # renewed five minutes before the end
    gw = connection.gateway()
    gw.organisation()
    assert sandbox.identity.refreshes == 1
    assert all(c.status == 200 for c in gw.calls)


def test_a_second_gateway_uses_the_token_the_first_one_refreshed(connected, sandbox):
    first, second = connection.gateway(), connection.gateway()
    sandbox.expire_tokens()
    first.organisation()
    second.organisation()  # its token was refused: under the lock it finds the one `first` saved
    assert sandbox.identity.refreshes == 1
    assert [c.endpoint for c in second.calls if c.status == 200][-1] == "/Organisation"


def test_two_threads_refreshing_at_once_make_one_refresh(connected, sandbox):
    gateways = [connection.gateway() for _ in range(2)]
    age_saved_token(connected)
    sandbox.expire_tokens()
    sandbox.delay_next(0.3, path="/connect/token")  # the first refresh is slow, so the other waits at the lock
    start, results, errors = threading.Barrier(2), [], []

    def call(gw):
        start.wait()
        try:
            results.append(gw.organisation()["Name"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=call, args=(gw,)) for gw in gateways]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 2
    assert sandbox.identity.refreshes == 1


PROCESS = """
import sys
from core import connection
gw = connection.gateway()
print(gw.organisation()["Name"])
"""


def test_two_processes_refreshing_at_once_make_one_refresh(connected, sandbox):
    age_saved_token(connected)
    sandbox.expire_tokens()
    sandbox.delay_next(0.3, path="/connect/token")
    processes = [subprocess.Popen([sys.executable, "-c", PROCESS], cwd=config.ROOT, env=os.environ,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == [sandbox.state["Organisation"]["Name"]] * 2
    assert sandbox.identity.refreshes == 1


def test_the_old_refresh_token_works_for_thirty_minutes_after_a_refresh(connected, sandbox):
    old = saved(connected)["refresh_token"]
    sandbox.expire_tokens()
    connection.gateway()
    assert saved(connected)["refresh_token"] != old
    assert refresh_at_sandbox(sandbox, old) == 200
    sandbox.identity.advance(31 * 60)
    assert refresh_at_sandbox(sandbox, old) == 400
    assert refresh_at_sandbox(sandbox, saved(connected)["refresh_token"]) == 200


# --- reconnect --------------------------------------------------------------------------------------------

def test_a_revoked_connection_asks_to_reconnect_and_writes_nothing(connected, sandbox, db_path, capsys):
    assert command_line(["sync"]) == 0
    version, database = data_version(db_path), db_path.read_bytes()
    sandbox.revoke_all()
    assert command_line(["sync"]) == 2
    assert "Reconnect: Settings → Connection to Xero → Connect to Xero" in capsys.readouterr().err
    assert data_version(db_path) == version and db_path.read_bytes() == database


def test_a_refused_refresh_inside_a_call_is_a_reconnect_error(connected, sandbox):
    gw = connection.gateway()
    sandbox.revoke_all()
    with pytest.raises(ReconnectNeeded, match="Reconnect") as refused:
        gw.organisation()
    assert isinstance(refused.value, XeroAuthError)


def test_a_refresh_token_unused_for_sixty_days_asks_to_reconnect_without_asking_xero(connected, sandbox):
    age_saved_token(connected, refreshed_days_ago=61)
    calls_before = len(sandbox.requests)
    with pytest.raises(ReconnectNeeded, match="not used for 60 days"):
        connection.gateway()
    assert sandbox.requests[calls_before:] == []


def test_the_sandbox_refuses_a_refresh_token_older_than_sixty_days(connected, sandbox):
    sandbox.identity.advance(61 * DAY)
    with pytest.raises(ReconnectNeeded):
        connection.gateway()


@pytest.mark.parametrize("role", [access.Role.VIEWER, access.Role.EDITOR])
def test_only_an_admin_connects_chooses_or_disconnects(connected, role):
    person = access.Actor("Someone", "someone@practice.com", role)
    before = connected.token_file.read_bytes()
    tenant_id = oauth.status(connected).tenant_id
    for attempt in (lambda: oauth.begin(connected, REDIRECT_URI, by=person),
                    lambda: oauth.finish(connected, {"code": "x", "state": "y"}, by=person),
                    lambda: oauth.choose(connected, tenant_id, by=person),
                    lambda: oauth.disconnect(connected, by=person)):
        with pytest.raises(access.Forbidden, match=f"Your role \\({role}\\) cannot change the slot map or the connection"):
            attempt()
    assert connected.token_file.read_bytes() == before


def test_disconnect_revokes_the_refresh_token_and_forgets_the_connection(connected, sandbox):
    refresh_token = saved(connected)["refresh_token"]
    oauth.disconnect(connected, by=ADMIN)
    assert not connected.token_file.exists()
    assert sandbox.requests[-1].path == "/connect/revocation"
    with pytest.raises(NotConnected):
        connection.gateway()
    assert refresh_at_sandbox(sandbox, refresh_token) == 400


# --- keeping the secrets ----------------------------------------------------------------------------------

def test_the_token_file_is_owner_only_whatever_the_umask_and_is_put_right(code_flow, approve):
    previous = os.umask(0)
    try:
        oauth.finish(code_flow, approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url), by=ADMIN)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(code_flow.token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(f"{code_flow.token_file}.lock").stat().st_mode) == 0o600
    code_flow.token_file.chmod(0o644)
    assert oauth.status(code_flow).connected
    assert stat.S_IMODE(code_flow.token_file.stat().st_mode) == 0o600


def test_secrets_appear_in_no_log_database_or_message(code_flow, approve, sandbox, db_path, caplog):
    caplog.set_level(logging.DEBUG)
    seen = {code_flow.client_secret}

    def remember():
        connection_saved = saved(code_flow)
        seen.update({connection_saved["access_token"], connection_saved["refresh_token"]})

    organisations = oauth.finish(code_flow, approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url), by=ADMIN)
    remember()
    oauth.choose(code_flow, organisations[0].tenant_id, by=ADMIN)
    assert command_line(["sync"]) == 0
    sandbox.expire_tokens()
    assert command_line(["sync"]) == 0
    remember()
    sandbox.revoke_all()
    with pytest.raises(XeroError) as refused:
        connection.gateway()
    assert len(seen) == 5
    files = b"".join(path.read_bytes() for path in db_path.parent.iterdir()
                     if path.is_file() and path != code_flow.token_file)
    texts = [caplog.text, str(refused.value), repr(code_flow), repr(connection.xero_config()),
             json.dumps(connection.describe()), repr(oauth.status(code_flow))]
    for secret in seen:
        assert secret.encode() not in files
        assert not any(secret in text for text in texts)
