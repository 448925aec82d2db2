"""Bad configuration and bad files: one sentence naming the file or setting and what to do, exit 2,
the same sentence on the pages, and nothing written."""
import ctypes
import hashlib
import json
import os
import sqlite3
import subprocess
import sys

import duckdb
import pytest

from core import config, store
from tests.conftest import XERO_ENVIRONMENT

FUTURE_STEP = "9999_from_a_newer_version"
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def _without_root_override() -> None:
    """Run as if not root: without the capabilities that let root write a read-only file."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)


def cli(*args: str, env: dict | None = None, patch_secrets: str | None = None, as_user: bool = False):
    """`python -m core ARGS` in a fresh process (or, with `patch_secrets`, core's main with that secrets file)."""
    environment = {k: v for k, v in os.environ.items() if k not in XERO_ENVIRONMENT}
    environment.update(env or {})
    command = [sys.executable, "-m", "core", *args]
    if patch_secrets:
        command = [sys.executable, "-c", "import sys; from pathlib import Path; from core import config; "
                   f"config.SECRETS_FILE = Path({patch_secrets!r}); from core.__main__ import main; "
                   f"sys.exit(main({list(args)!r}))"]
    return subprocess.run(command, cwd=config.ROOT, env=environment, capture_output=True, text=True, timeout=120,
                          preexec_fn=_without_root_override if as_user else None)


def one_line(result) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def newer_database(path):
    """A database as a newer Tracking Desk leaves it: every step this app knows, and one it does not."""
    with store.connect(path) as con:
        con.execute("INSERT INTO schema_migrations (name) VALUES (?)", [FUTURE_STEP])
    store._migrated.discard(path)


def sqlite_file(path):
    sqlite = sqlite3.connect(path)
    sqlite.execute("CREATE TABLE t (x)")
    sqlite.commit()
    sqlite.close()


# --- the database -----------------------------------------------------------------------------

DATABASES = {
    "a folder": (lambda path: path.mkdir(), "is a folder, not a file: set TRACKING_DB to another file"),
    "a text file": (lambda path: path.write_text("name,owner\n"), "is not a Tracking Desk database (not a DuckDB "
                                                                   "file): set TRACKING_DB to another file"),
    "an empty file": (lambda path: path.write_bytes(b""), "is not a Tracking Desk database"),
    "an SQLite file": (sqlite_file, "is an SQLite file, not a Tracking Desk database: set TRACKING_DB"),
    "a newer database": (newer_database, "was written by a newer Tracking Desk (schema step "
                                         f"{FUTURE_STEP}); upgrade first. Nothing was changed."),
}


@pytest.mark.parametrize("make, says", DATABASES.values(), ids=DATABASES.keys())
def test_a_database_path_that_is_no_database_is_named_in_one_line(tmp_path, make, says):
    path = tmp_path / "tracking.duckdb"
    make(path)
    before = sorted(os.listdir(tmp_path))
    message = one_line(cli("preview", env={"TRACKING_DB": str(path)}))
    assert message.startswith(f"The database {path} ") and says in message
    assert sorted(os.listdir(tmp_path)) == before  # no .wal, no new file beside it


def test_dev_null_is_refused(tmp_path):
    assert one_line(cli("preview", env={"TRACKING_DB": "/dev/null"})) == (
        "The database /dev/null is not a regular file (a device or a pipe): set TRACKING_DB to another file.")


def test_a_database_under_a_file_is_refused(tmp_path):
    (tmp_path / "data").write_text("")
    assert one_line(cli("preview", env={"TRACKING_DB": str(tmp_path / "data" / "tracking.duckdb")})).startswith(
        f"The folder for the database {tmp_path / 'data' / 'tracking.duckdb'} cannot be created")


def test_an_unwritable_database_is_refused(tmp_path):
    path = tmp_path / "tracking.duckdb"
    with store.connect(path):
        pass
    path.chmod(0o444)
    assert one_line(cli("preview", env={"TRACKING_DB": str(path)}, as_user=True)) == (
        f"The database {path} cannot be opened for writing (permission denied): give this user write access to "
        "it and its folder, or set TRACKING_DB to another file.")


def test_a_newer_database_is_left_byte_for_byte_as_it_was(tmp_path):
    path = tmp_path / "tracking.duckdb"
    newer_database(path)
    before = digest(path)
    for command in (["preview"], ["set", "team", "Zoë"], ["import", "team", str(tmp_path / "team.csv")]):
        (tmp_path / "team.csv").write_text("Team Member\nZoë\n")
        assert "newer Tracking Desk" in one_line(cli(*command, env={"TRACKING_DB": str(path)}))
    assert digest(path) == before
    with pytest.raises(store.NewerDatabase, match="upgrade first"), store.connect(path):
        pass
    assert digest(path) == before


def test_duckdb_never_fetches_an_extension_for_a_file_it_does_not_know(tmp_path):
    """With autoinstall and autoload off, DuckDB asks for the extension instead of downloading it."""
    sqlite_file(tmp_path / "other.db")
    with pytest.raises(duckdb.IOException, match="Install it first"):
        duckdb.connect(str(tmp_path / "other.db"), config=store.DUCKDB_CONFIG)
    assert store.DUCKDB_CONFIG["autoinstall_known_extensions"] is False
    assert store.DUCKDB_CONFIG["autoload_known_extensions"] is False


# --- secrets.toml -----------------------------------------------------------------------------

SECRETS = {
    "binary": (bytes(range(256)), "is not a text file (it is not UTF-8)"),
    "not TOML": (b"[xero\nclient_id = 1\n", "is not valid TOML"),
    "xero not a table": (b'xero = "my-id"\n', "xero must be a table (a [xero] line, then key = \"value\" lines), "
                                              "not str"),
    "a list for a value": (b"[xero]\nclient_id = [1, 2]\n", "[xero] client_id must be text in quotes, not a list"),
}


@pytest.mark.parametrize("content, says", SECRETS.values(), ids=SECRETS.keys())
def test_a_damaged_secrets_file_is_named_in_one_line(tmp_path, content, says):
    secrets = tmp_path / "secrets.toml"
    secrets.write_bytes(content)
    message = one_line(cli("sync", env={"TRACKING_DB": str(tmp_path / "t.duckdb")}, patch_secrets=str(secrets)))
    assert message.startswith(str(secrets)) and says in message
    assert message.endswith("write it as in .streamlit/secrets.toml.example, or remove it to run the demo.")
    assert not (tmp_path / "t.duckdb").exists()


# --- the saved Xero connection and the demo's sandbox state -----------------------------------

TOKEN_FILES = {
    "not JSON": ("{not json", "it is not JSON"),
    "a list": ("[]", "it does not hold a JSON object"),
    "connection a string": ('{"connection": "abc"}', "its connection is not a JSON object"),
    "no refresh token": ('{"connection": {"access_token": "a", "client_id": "c", "expires_at": 1, '
                         '"refreshed_at": 1}}', "its connection has no refresh_token"),
    "pending not an object": ('{"pending": []}', "its pending attempts are not a JSON object"),
}


@pytest.mark.parametrize("content, why", TOKEN_FILES.values(), ids=TOKEN_FILES.keys())
def test_a_damaged_token_file_is_named_in_one_line(tmp_path, content, why):
    token_file = tmp_path / "xero.json"
    token_file.write_text(content)
    token_file.chmod(0o600)
    message = one_line(cli("sync", env={"TRACKING_DB": str(tmp_path / "t.duckdb"), "XERO_AUTH": "code",
                                        "XERO_TOKEN_FILE": str(token_file)}))
    assert message == (f"The saved Xero connection {token_file} is unusable ({why}): delete it, then press Connect "
                       "to Xero on the Settings page again.")
    assert token_file.read_text() == content


def test_a_folder_in_place_of_the_token_file_is_named(tmp_path):
    (tmp_path / "xero.json").mkdir()
    assert one_line(cli("sync", env={"TRACKING_DB": str(tmp_path / "t.duckdb"), "XERO_AUTH": "code",
                                     "XERO_TOKEN_FILE": str(tmp_path / "xero.json")})) == (
        f"The saved Xero connection {tmp_path / 'xero.json'} is unusable (it is a folder, not a file): remove the "
        "folder (or set XERO_TOKEN_FILE to a file), then press Connect to Xero on the Settings page again.")


@pytest.mark.parametrize("content, why", [("{garbage", "it is not JSON"),
                                          (json.dumps({"Contacts": []}), "it does not hold an organisation's records"),
                                          (json.dumps({"TrackingCategories": [], "Contacts": [], "Items": [],
                                                       "Invoices": []}), "it holds no sandbox credentials")])
def test_a_damaged_demo_state_is_named_in_one_line(tmp_path, content, why):
    state = tmp_path / "tracking.sandbox.json"
    state.write_text(content)
    assert one_line(cli("sync", env={"TRACKING_DB": str(tmp_path / "tracking.duckdb")},
                        patch_secrets=str(tmp_path / "none.toml"))) == (
        f"The demo organisation's saved state {state} is damaged ({why}): delete it to start the demo "
        "organisation afresh.")
    assert state.read_text() == content


# --- the same sentences on the pages ----------------------------------------------------------

def page_error(at) -> str:
    at.run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error], "no error shown"
    return at.error[0].value


@pytest.mark.parametrize("case", ["a folder", "an SQLite file", "a newer database"])
def test_pages_show_the_database_sentence(streamlit_app, tmp_path, monkeypatch, case):
    make, says = DATABASES[case]
    path = tmp_path / "bad" / "tracking.duckdb"
    path.parent.mkdir()
    make(path)
    cli_message = one_line(cli("preview", env={"TRACKING_DB": str(path)}))
    monkeypatch.setenv("TRACKING_DB", str(path))
    for page in ("app.py", "pages/clients.py"):
        assert page_error(streamlit_app(page)) == cli_message


def test_pages_show_the_secrets_sentence(streamlit_app, tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_bytes(bytes(range(256)))
    cli_message = one_line(cli("sync", env={"TRACKING_DB": str(tmp_path / "t.duckdb")}, patch_secrets=str(secrets)))
    monkeypatch.setattr(config, "SECRETS_FILE", secrets)
    for page in ("app.py", "pages/preview.py"):
        assert page_error(streamlit_app(page)) == cli_message


def test_pages_show_a_wrongly_shaped_xero_table(streamlit_app, tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('xero = "my-id"\n')
    monkeypatch.setattr(config, "SECRETS_FILE", secrets)
    assert page_error(streamlit_app("pages/overview.py")).startswith(f"{secrets}: xero must be a table")
