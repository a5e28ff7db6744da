"""Opening MinDB: engines, schema migrations and sessions.

`open_database` is the single door to the database. It creates the SQLite file under the data
folder when needed, brings an older schema up to date with the Alembic migrations (never by
recreating it), and refuses databases it does not understand (foreign tables, a newer schema).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lithoscope.errors import DatabaseError

__all__ = ["head_revision", "migrate", "open_database", "safe_url", "upgrade"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The schema revision this version of lithoscope writes."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _normalise_url(url: str) -> str:
    # "postgresql://" means psycopg2 to SQLAlchemy; lithoscope ships psycopg 3.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(
            f"database URL {url!r} is not a valid SQLAlchemy URL; use e.g. "
            "'sqlite:////path/mindb.sqlite' or 'postgresql+psycopg://user@127.0.0.1:5432/mindb'"
        ) from exc
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise DatabaseError(
            f"database URL {safe_url(url)!r}: backend {parsed.get_backend_name()!r} is not "
            "supported; use sqlite or postgresql"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, future=True)
    except (ImportError, ArgumentError) as exc:
        raise DatabaseError(
            f"database URL {safe_url(url)!r}: driver not available ({exc}); install "
            "lithoscope[postgres] for PostgreSQL"
        ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys)
    return engine


def _current_revision(engine: Engine) -> tuple[str | None, set[str]]:
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        revision = MigrationContext.configure(conn).get_current_revision()
    return revision, tables


def migrate(engine: Engine, *, backup: bool = True) -> tuple[str | None, str]:
    """Bring the schema of ``engine``'s database to the head revision.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine of a MinDB database (empty, or made by lithoscope).
    backup : bool, default=True
        For a SQLite file that holds an older schema, copy it to ``<file>.bak-<revision>`` first.

    Returns
    -------
    (from_revision, to_revision) : tuple
        ``from_revision`` is None for a new database.

    Raises
    ------
    DatabaseError
        If the database holds tables but no MinDB revision, or a revision newer than this
        lithoscope knows.
    """
    url = engine.url.render_as_string(hide_password=True)
    try:
        revision, tables = _current_revision(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseError(
            f"cannot connect to database {url!r}: {reason}; check LITHOSCOPE_DATABASE_URL "
            "and that the server is running"
        ) from exc
    script = ScriptDirectory.from_config(_alembic_config())
    head = script.get_current_head()
    assert head is not None
    if revision is None and tables - {"alembic_version"}:
        raise DatabaseError(
            f"database {url!r} holds tables ({', '.join(sorted(tables)[:5])}...) but is not a "
            "MinDB database; point LITHOSCOPE_DATABASE_URL at an empty or MinDB database"
        )
    if revision is not None:
        try:
            script.get_revision(revision)
        except (RevisionError, CommandError) as exc:
            raise DatabaseError(
                f"database {url!r} has MinDB schema revision {revision!r}, newer than this "
                f"lithoscope knows (head {head!r}); upgrade lithoscope"
            ) from exc
    if revision == head:
        return revision, head
    if backup and revision is not None and engine.dialect.name == "sqlite":
        db_file = engine.url.database
        if db_file and db_file != ":memory:" and Path(db_file).exists():
            shutil.copy2(db_file, f"{db_file}.bak-{revision}")
    cfg = _alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"migrating database {url!r} from {revision!r} to {head!r} failed and was rolled "
            f"back: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        ) from exc
    return revision, head


def upgrade(url: str) -> tuple[str | None, str]:
    """Migrate the database at ``url`` to the head revision (see `migrate`)."""
    engine = _create_engine(_normalise_url(url))
    try:
        return migrate(engine)
    finally:
        engine.dispose()


def open_database(url: str, *, upgrade: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """Engine and session factory for MinDB at ``url``, migrated to the head revision.

    With ``upgrade=False`` an out-of-date schema raises instead of being migrated.
    """
    engine = _create_engine(_normalise_url(url))
    if upgrade:
        migrate(engine)
    else:
        revision, _ = _current_revision(engine)
        if revision != head_revision():
            raise DatabaseError(
                f"database {safe_url(url)!r} is at schema revision {revision!r}, not "
                f"{head_revision()!r}; run 'lithoscope db upgrade'"
            )
    return engine, sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed together, or not at all."""
    with factory() as session, session.begin():
        yield session
