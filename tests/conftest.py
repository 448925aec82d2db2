import pytest

from core import store


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
        yield connection
