"""Opening MinDB: engines, schema migrations, sessions and the writers' lock.

`open_database` is the single door to the database. It creates the SQLite file under the data
folder when needed, brings an older schema up to date with the Alembic migrations (never by
recreating it), and refuses databases it does not understand (foreign tables, a newer schema,
a file that is not a readable SQLite database).

Processes that write (a first creation or migration, `transaction`) take `db_lock` first: an
``flock`` on ``<file>.lock`` beside a SQLite file, ``pg_advisory_lock`` on PostgreSQL (one lock
per database, whatever URL, role or options a process connected with). Two ``lithoscope db
build`` started at once therefore run one after the other: one builds, the other finds the
build done. Readers take no lock and see the last committed state: PostgreSQL's MVCC, and on
SQLite the write-ahead log (WAL mode, set when a file is opened), so a long ingest never makes
a reader wait or fail.

Opening an up-to-date database does not import Alembic (about a second of start-up): the head
revision is read from the migration files' ``revision`` lines and the stored one from the
``alembic_version`` table. Alembic is imported only to migrate, or to judge a revision that is
not the head.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lithoscope.config import ensure_folder
from lithoscope.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "db_lock",
    "head_revision",
    "migrate",
    "open_database",
    "safe_url",
    "transaction",
    "upgrade",
]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


#: ``revision = "0003"`` / ``down_revision: str | None = "0002"`` lines of a migration file
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _head_from_files() -> str | None:
    """The head revision read from the migration files, without Alembic; None if unclear."""
    down_of: dict[str, object] = {}
    for path in sorted((_MIGRATIONS / "versions").glob("*.py")):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (ValueError, SyntaxError):
            return None
        if not isinstance(revision, str) or revision in down_of:
            return None
        down_of[revision] = down
    parents: set[object] = set()
    for down in down_of.values():
        parents.update(down if isinstance(down, tuple | list) else [down])
    heads = set(down_of) - parents
    return heads.pop() if len(heads) == 1 else None


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The schema revision this version of lithoscope writes.

    Read from the migration files' ``revision`` / ``down_revision`` lines (Alembic is slow to
    import); Alembic decides when they do not name exactly one head.
    """
    return _head_from_files() or _alembic_head()


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
    if parsed.get_backend_name() == "sqlite" and _sqlite_file(parsed.database):
        db_file = Path(parsed.database).expanduser()
        ensure_folder(
            db_file.parent,
            what="the folder of MinDB's SQLite file",
            fix="set LITHOSCOPE_DATA_DIR (or LITHOSCOPE_DATABASE_URL) to a writable place",
        )
        if db_file.is_dir():
            raise DatabaseError(
                f"MinDB at {db_file} is a folder, not a database file; point "
                "LITHOSCOPE_DATABASE_URL at a file or move the folder away"
            )
    try:
        engine = create_engine(parsed, future=True)
    except (ImportError, ArgumentError) as exc:
        raise DatabaseError(
            f"database URL {safe_url(url)!r}: driver not available ({exc}); install "
            "lithoscope[postgres] for PostgreSQL"
        ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys)
        event.listen(engine, "handle_error", _sqlite_unreadable)
    return engine


def _sqlite_file(database: str | None) -> bool:
    """Whether a SQLite URL's database is a file (not in memory)."""
    return database not in (None, "", ":memory:") and not str(database).startswith("file:")


# SQLite result codes of a damaged file (primary codes; extended codes carry them in the low byte)
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def unreadable_database(db_file: str | Path, detail: str) -> DatabaseError:
    """The one message for a SQLite file that is not a readable database.

    Names the newest ``.bak-<revision>`` copy that migrations left beside it, if any.
    """
    db_file = Path(db_file)
    backups = sorted(db_file.parent.glob(f"{db_file.name}.bak-*"), key=lambda p: p.stat().st_mtime)
    if backups:
        fix = (
            f"restore it from the {backups[-1].name} copy beside it or rebuild with "
            "'lithoscope db build' after moving it away"
        )
    else:
        fix = "move it away and rebuild with 'lithoscope db build' (no .bak-<rev> copy found)"
    return DatabaseError(f"MinDB at {db_file} is not a readable database ({detail}); {fix}")


def _sqlite_unreadable(context: ExceptionContext) -> BaseException | None:
    """Turn SQLite's "not a database" / "malformed" errors into one `DatabaseError` line."""
    orig = context.original_exception
    code = getattr(orig, "sqlite_errorcode", None)
    if not isinstance(orig, sqlite3.DatabaseError) or code is None:
        return None
    if code & 0xFF not in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return None
    engine = context.engine
    db_file = engine.url.database if engine is not None else None
    detail = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return unreadable_database(db_file or "<unknown file>", detail)


# ---------------------------------------------------------------------------------- locking
_LOCKS_GUARD = threading.Lock()
_LOCKS: dict[str, _ProcessLock] = {}


class _ProcessLock:
    """One inter-process lock, re-entrant within this process (threads queue on an RLock)."""

    def __init__(self) -> None:
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.release: object = None


def _lock_key(engine: Engine) -> tuple[str, str | Path | None]:
    """(key, resource): the lock file of a SQLite file; server and database on PostgreSQL.

    The key groups this process's threads and nested calls. On PostgreSQL it leaves out the
    user, password and query options (``application_name``, ``connect_timeout``...), which
    do not change the database.
    """
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not _sqlite_file(database):
            return f"sqlite-memory:{id(engine)}", None
        lock_file = Path(f"{Path(database).expanduser().resolve()}.lock")
        return str(lock_file), lock_file
    url = engine.url
    key = f"postgresql://{url.host or ''}:{url.port or ''}/{url.database or ''}"
    return key, key


def _flock(lock_file: Path):
    """Hold an exclusive ``flock`` on ``lock_file``; return the function that releases it."""
    import fcntl

    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DatabaseError(
            f"cannot create the lock file {lock_file} beside MinDB ({exc.strerror}); make "
            "its folder writable"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise

    def release() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    return release


#: MinDB's advisory lock id: a signed 64-bit number, the same in every process. PostgreSQL
#: scopes advisory locks to the database a session is connected to, so one fixed id is one
#: lock per database, whatever URL, role or options each process connected with. (An id
#: derived from the URL let two spellings of one database write at once: an IntegrityError on
#: ``spectra.checksum`` in tests/mindb/test_concurrency.py.)
_PG_LOCK_ID = int.from_bytes(hashlib.sha256(b"lithoscope-mindb").digest()[:8], "big", signed=True)


def _advisory_lock(engine: Engine):
    """Hold ``pg_advisory_lock`` on a dedicated connection; return its release function."""
    key = _PG_LOCK_ID
    try:
        conn = engine.connect()
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseError(
            f"cannot connect to database {safe_url(str(engine.url))!r}: {reason}; check "
            "LITHOSCOPE_DATABASE_URL and that the server is running"
        ) from None

    def release() -> None:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
        finally:
            conn.close()

    return release


@contextmanager
def db_lock(engine_or_url: Engine | str) -> Iterator[None]:
    """Hold MinDB's writers' lock: one process (and thread) at a time inside.

    SQLite files are locked with ``flock`` on ``<file>.lock`` beside them, PostgreSQL databases
    with ``pg_advisory_lock`` (released when the block ends, or when the process dies). The lock
    is re-entrant within a process, so code holding it may call functions that take it again.

    Parameters
    ----------
    engine_or_url : sqlalchemy.Engine or str
        The open engine, or the database URL.

    Raises
    ------
    DatabaseError
        If the lock file cannot be created or the server cannot be reached.

    Examples
    --------
    >>> with db_lock("sqlite://"):  # in memory: only threads of this process wait
    ...     pass
    """
    own_engine = isinstance(engine_or_url, str)
    engine = _create_engine(_normalise_url(engine_or_url)) if own_engine else engine_or_url
    try:
        key, resource = _lock_key(engine)
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(key, _ProcessLock())
        with lock.thread_lock:
            if lock.depth == 0 and resource is not None:
                if isinstance(resource, Path):
                    lock.release = _flock(resource)
                else:
                    lock.release = _advisory_lock(engine)
            lock.depth += 1
            try:
                yield
            finally:
                lock.depth -= 1
                if lock.depth == 0 and lock.release is not None:
                    release, lock.release = lock.release, None
                    release()
    finally:
        if own_engine:
            engine.dispose()


_VERSION_TABLE = "alembic_version"


def _current_revision(engine: Engine) -> tuple[str | None, set[str]]:
    """(revision, tables): what Alembic's ``get_current_revision`` reads, without Alembic."""
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        if _VERSION_TABLE not in tables:
            return None, tables
        rows = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        url = engine.url.render_as_string(hide_password=True)
        raise DatabaseError(
            f"database {url!r} records {len(rows)} MinDB schema revisions "
            f"({', '.join(sorted(map(str, rows)))}), not one; restore it from a backup"
        )
    return (str(rows[0]) if rows else None), tables


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
    revision, _ = _read_revision(engine)
    if revision is not None and revision == head_revision():
        return revision, revision  # up to date: no lock needed to read
    with db_lock(engine):
        # another process may have created or migrated it while this one waited
        return _migrate_locked(engine, backup=backup)


def _read_revision(engine: Engine) -> tuple[str | None, set[str]]:
    """(revision, tables), with unreachable servers and unreadable files as one line."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        return _current_revision(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if engine.dialect.name == "sqlite" and _sqlite_file(engine.url.database):
            raise DatabaseError(
                f"cannot open MinDB at {engine.url.database}: {reason}; check that the file "
                "and its folder are readable and writable"
            ) from None
        raise DatabaseError(
            f"cannot connect to database {url!r}: {reason}; check LITHOSCOPE_DATABASE_URL "
            "and that the server is running"
        ) from None


def _migrate_locked(engine: Engine, *, backup: bool) -> tuple[str | None, str]:
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError

    url = engine.url.render_as_string(hide_password=True)
    revision, tables = _read_revision(engine)
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
        if _sqlite_file(db_file) and Path(db_file).exists():
            # SQLite's online backup (a file copy would miss what the WAL holds), under a
            # temporary name, then renamed: never a half-written backup
            tmp = f"{db_file}.bak-{revision}.tmp"
            Path(tmp).unlink(missing_ok=True)
            with closing(sqlite3.connect(db_file)) as source, closing(sqlite3.connect(tmp)) as copy:
                source.backup(copy)
            os.replace(tmp, f"{db_file}.bak-{revision}")
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
        revision, _ = _read_revision(engine)
        if revision != head_revision():
            raise DatabaseError(
                f"database {safe_url(url)!r} is at schema revision {revision!r}, not "
                f"{head_revision()!r}; run 'lithoscope db upgrade'"
            )
    _write_ahead_log(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)


def _write_ahead_log(engine: Engine) -> None:
    """Put a SQLite file in WAL mode (once: the mode is stored in the file).

    In the default rollback-journal mode a writer whose changes outgrow SQLite's page cache
    (about a hundred spectra) locks the file until it commits, and readers give up after five
    seconds with "database is locked" (an ingest of 1,500 RRUFF spectra takes 12 s). With the
    write-ahead log readers keep reading the last committed state. Called once the schema is
    known to be MinDB's, so a damaged file is never written to.
    """
    if engine.dialect.name != "sqlite" or not _sqlite_file(engine.url.database):
        return
    try:
        with engine.connect() as conn:
            if conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal":
                return
        with db_lock(engine), engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode=WAL").scalar()
    except OperationalError as exc:  # e.g. "database is locked": another process reads
        mode = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if mode != "wal":
        raise DatabaseError(
            f"cannot switch MinDB at {engine.url.database} to write-ahead logging ({mode}); "
            "retry when no other process is using it, and keep it on a local file system "
            "(not a network share) in a writable folder"
        )


#: per thread: session factory -> the session of its outermost open `transaction`
_OPEN = threading.local()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed together, or not at all, under `db_lock`.

    The lock makes read-check-write sequences (a build that first looks whether it already
    ran, spectra stored after a duplicate check) safe between processes.

    A `transaction` opened inside another of the same factory, in the same thread, joins it:
    it yields the outer session and its work is committed with the outer one (or rolled back
    with it), so several writes (``learn``'s new mineral and its spectra) reach readers as one.
    """
    engine = factory.kw.get("bind")
    if not isinstance(engine, Engine):  # pragma: no cover - factories made by open_database
        raise DatabaseError("transaction() needs a session factory bound to an engine")
    sessions: dict[int, Session] = _OPEN.__dict__.setdefault("sessions", {})
    if id(factory) in sessions:
        yield sessions[id(factory)]
        return
    with db_lock(engine), factory() as session, session.begin():
        sessions[id(factory)] = session
        try:
            yield session
        finally:
            del sessions[id(factory)]
