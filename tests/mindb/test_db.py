"""Opening MinDB: schema creation, migrations, refusals, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from lithoscope.errors import DatabaseError
from lithoscope.mindb import connect
from lithoscope.mindb.db import _alembic_config, _normalise_url, head_revision
from lithoscope.mindb.models import Base

EXPECTED_TABLES = {
    "references",
    "minerals",
    "mineral_elements",
    "mineral_groups",
    "group_members",
    "aliases",
    "occurrences",
    "spectra",
    "detectability",
    "renames",
    "meta",
    "alembic_version",
}


def test_connect_creates_schema_at_head(db_url):
    with connect(db_url) as db:
        info = db.info()
        tables = set(inspect(db.engine).get_table_names())
    assert tables == EXPECTED_TABLES
    assert info["schema_version"] == head_revision()
    assert info["minerals"] == 0
    assert info["by_body"] == {"moon": 0, "mars": 0, "meteorite": 0}
    assert info["built"] is False


def test_models_and_migrations_agree(db_url):
    """The ORM models describe exactly what the migrations create."""
    with connect(db_url) as db, db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def _upgrade_to(url: str, revision: str) -> None:
    engine = create_engine(_normalise_url(url))
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def test_old_database_is_migrated_not_recreated(db_url, tmp_path):
    _upgrade_to(db_url, "0001")
    engine = create_engine(_normalise_url(db_url))
    with engine.begin() as conn:
        assert "detectability" not in inspect(conn).get_table_names()
        conn.execute(
            text(
                "INSERT INTO meta (key, value, updated_at) "
                "VALUES ('marker', 'kept', CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()

    with connect(db_url) as db:
        assert db.info()["schema_version"] == head_revision()
        with db.engine.connect() as conn:
            value = conn.execute(text("SELECT value FROM meta WHERE key = 'marker'")).scalar()
            assert "detectability" in inspect(conn).get_table_names()
    assert value == "kept"
    if db_url.startswith("sqlite"):
        assert (tmp_path / "mindb.sqlite.bak-0001").is_file()


def test_upgrade_false_refuses_old_schema(db_url):
    _upgrade_to(db_url, "0001")
    with pytest.raises(DatabaseError, match="revision '0001'.*lithoscope db upgrade"):
        connect(db_url, upgrade=False)


def test_newer_schema_is_refused(db_url):
    connect(db_url).close()
    engine = create_engine(_normalise_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="newer than this lithoscope"):
        connect(db_url)


def test_foreign_database_is_refused(db_url):
    engine = create_engine(_normalise_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="not a MinDB database"):
        connect(db_url)
    engine = create_engine(_normalise_url(db_url))
    with engine.connect() as conn:  # nothing was added to the foreign database
        assert set(inspect(conn).get_table_names()) == {"customers"}
    engine.dispose()


def test_unreachable_server_gives_one_line_error():
    from tests.conftest import _free_port

    url = f"postgresql+psycopg://nobody@127.0.0.1:{_free_port()}/mindb?connect_timeout=2"
    with pytest.raises(DatabaseError, match="cannot connect to database") as info:
        connect(url)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("not a url", "not a valid SQLAlchemy URL"),
        ("mysql://u@localhost/x", "backend 'mysql' is not supported"),
    ],
)
def test_bad_urls(url, match):
    with pytest.raises(DatabaseError, match=match):
        connect(url)


def test_default_url_lives_in_the_data_dir(_isolated_settings):
    with connect() as db:
        assert db.engine.url.database == str(_isolated_settings / "mindb.sqlite")
    assert (_isolated_settings / "mindb.sqlite").is_file()


def test_postgresql_scheme_uses_psycopg3():
    assert _normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _normalise_url("sqlite:///x") == "sqlite:///x"


def test_spectra_of_a_0002_database_survive_migration_0003(db_url):
    """Migration 0003 (spectra may link to a group; the rename table) keeps stored spectra."""
    from lithoscope.mindb.arrays import encode_array

    _upgrade_to(db_url, "0002")
    axis, y = [100.0, 200.5, 300.25], [0.0, 1.0, 0.5]
    engine = create_engine(_normalise_url(db_url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO spectra (label, method, axis_unit, axis, intensities, n_points, "
                "axis_min, axis_max, source, checksum, extra) VALUES ('Tourmaline', 'raman', "
                "'raman shift cm-1', :a, :y, 3, 100.0, 300.25, 'old', 'abc', '{}')"
            ),
            {"a": encode_array(axis), "y": encode_array(y)},
        )
    engine.dispose()
    with connect(db_url) as db:
        assert db.info()["schema_version"] == head_revision() == "0003"
        (old,) = db.spectra()
        assert old.metadata["label"] == "Tourmaline" and old.metadata["link"] is None
        assert old.axis.tolist() == axis and old.intensities.tolist() == y
        db.build()  # the rename table arrives with the build, which links what it can
        (linked,) = db.spectra()
        assert linked.metadata["link"] == "group"
        assert linked.metadata["mineral"] == "tourmaline supergroup"
