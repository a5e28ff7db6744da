"""MinDB under hostile conditions: damaged SQLite files and several processes building at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from lithoscope.cli import main
from lithoscope.errors import DatabaseError
from lithoscope.mindb import connect
from lithoscope.mindb.db import _normalise_url, db_lock

READABLE = "is not a readable database"


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def built_file(tmp_path_factory) -> Path:
    """A real MinDB SQLite file built from the curated data (copied before each damage)."""
    path = tmp_path_factory.mktemp("built") / "mindb.sqlite"
    with connect(_sqlite_url(path)) as db:
        db.build()
    return path


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["lithoscope", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------- damaged files
@pytest.mark.parametrize("damage", ["junk", "junk-after-header", "half", "tenth", "header-only"])
def test_damaged_sqlite_file_is_one_line_and_left_as_is(built_file, tmp_path, damage):
    path = tmp_path / "mindb.sqlite"
    content = built_file.read_bytes()
    if damage == "junk":
        damaged = b"this is not a database" + os.urandom(5000)
    elif damage == "junk-after-header":
        damaged = content[:100] + os.urandom(len(content) - 100)
    elif damage == "half":
        damaged = content[: len(content) // 2]
    elif damage == "tenth":
        damaged = content[: len(content) // 10]
    else:
        damaged = content[:60]
    path.write_bytes(damaged)
    with pytest.raises(DatabaseError, match=f"MinDB at {path} {READABLE}") as info:
        with connect(_sqlite_url(path)) as db:
            db.info()
            db.mineral("forsterite")
            db.search(element="Fe")
    message = str(info.value)
    assert "\n" not in message and "lithoscope db build" in message
    assert path.read_bytes() == damaged, "a failed open must not change the file"


def test_message_names_the_backup_a_migration_left(built_file, tmp_path):
    path = tmp_path / "mindb.sqlite"
    backup = tmp_path / "mindb.sqlite.bak-0002"
    backup.write_bytes(built_file.read_bytes())
    path.write_bytes(built_file.read_bytes()[:20000])
    with pytest.raises(DatabaseError, match=r"restore it from the mindb\.sqlite\.bak-0002 copy"):
        with connect(_sqlite_url(path)) as db:
            db.info()


def test_cli_on_a_corrupted_database_is_one_line(monkeypatch, capsys, tmp_path):
    path = tmp_path / "mindb.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(8000))
    monkeypatch.setenv("LITHOSCOPE_DATABASE_URL", _sqlite_url(path))
    for args in (["db", "info"], ["db", "build"], ["db", "show", "olivine"]):
        code, out, err = _cli(monkeypatch, capsys, *args)
        assert code == 1, args
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: MinDB at {path} {READABLE}")
        assert "Traceback" not in err and out == ""


def test_database_path_that_is_a_folder(tmp_path):
    (tmp_path / "mindb.sqlite").mkdir()
    with pytest.raises(DatabaseError, match="is a folder, not a database file"):
        connect(_sqlite_url(tmp_path / "mindb.sqlite"))


# ------------------------------------------------------------------------- concurrency
_CHILD = r"""
import json, sys, time
from pathlib import Path
from lithoscope.mindb import connect

url, go = sys.argv[1], Path(sys.argv[2])
while not go.exists():  # start together: the race is real, not staggered by imports
    time.sleep(0.001)
with connect(url) as db:
    report = db.build()
    print(json.dumps({"unchanged": report.unchanged, "minerals": db.info()["minerals"]}))
"""


def _table_counts(url: str) -> dict[str, int]:
    engine = create_engine(_normalise_url(url))
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names()
            return {
                n: conn.execute(text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in names
            }
    finally:
        engine.dispose()


def test_first_builds_at_once_all_succeed_with_one_database(db_url, tmp_path):
    """Three processes create and build the same new MinDB at the same moment.

    Without the writers' lock this failed with "holds tables but is not a MinDB database" or an
    IntegrityError (both seen in three of three tries before the fix).
    """
    go = tmp_path / "go"
    env = {**os.environ, "LITHOSCOPE_DATA_DIR": str(tmp_path / "data")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, db_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    time.sleep(3)  # let every child import lithoscope and wait at the start line
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.strip().splitlines()[-1:]
        results.append(json.loads(out))
    assert sorted(r["unchanged"] for r in results) == [False, True, True]
    assert len({r["minerals"] for r in results}) == 1 and results[0]["minerals"] > 0
    # same content as one build alone
    reference = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    with connect(reference) as db:
        db.build()
    raced = _table_counts(db_url)
    alone = _table_counts(reference)
    assert raced == alone
    if db_url.startswith("sqlite"):
        db_file = Path(db_url.removeprefix("sqlite:///"))
        assert sorted(p.name for p in db_file.parent.glob("mindb.sqlite*")) == [
            "mindb.sqlite",
            "mindb.sqlite.lock",
        ]


def test_db_lock_excludes_other_processes(db_url, tmp_path):
    """While this process holds the lock, another process's db_lock waits for it."""
    with connect(db_url):
        pass  # create the database first
    child = (
        "import sys, time\n"
        "from lithoscope.mindb.db import db_lock\n"
        "with db_lock(sys.argv[1]):\n"
        "    print(time.time(), flush=True)\n"
    )
    with db_lock(db_url):
        proc = subprocess.Popen(
            [sys.executable, "-c", child, db_url], stdout=subprocess.PIPE, text=True
        )
        time.sleep(4)  # the child is importing and then blocked on the lock
        released = time.time()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert float(out) >= released


def test_db_lock_is_reentrant_and_excludes_threads(db_url):
    with connect(db_url):
        pass
    order: list[str] = []
    with db_lock(db_url), db_lock(db_url):  # re-entrant: no self-deadlock
        thread = threading.Thread(target=lambda: _locked_append(db_url, order))
        thread.start()
        time.sleep(0.3)
        order.append("main")
    thread.join(timeout=30)
    assert order == ["main", "thread"]


def _locked_append(url: str, order: list[str]) -> None:
    with db_lock(url):
        order.append("thread")


def test_lock_file_that_cannot_be_created_is_one_line(tmp_path):
    """The lock file beside MinDB is taken before the first migration: a folder in its place."""
    url = _sqlite_url(tmp_path / "mindb.sqlite")
    (tmp_path / "mindb.sqlite.lock").mkdir()
    with pytest.raises(DatabaseError, match="cannot create the lock file .*mindb.sqlite.lock"):
        connect(url)


def test_database_error_escaping_a_command_is_one_line(monkeypatch, capsys, built_file, tmp_path):
    """A MinDB whose tables another tool changed (schema revision still current): the query
    error that reaches the command line is one line, not a traceback."""
    path = tmp_path / "mindb.sqlite"
    path.write_bytes(built_file.read_bytes())
    engine = create_engine(_sqlite_url(path))
    with engine.begin() as conn:
        conn.execute(text('ALTER TABLE "minerals" RENAME TO "minerals_old"'))
    engine.dispose()
    monkeypatch.setenv("LITHOSCOPE_DATABASE_URL", _sqlite_url(path))
    code, out, err = _cli(monkeypatch, capsys, "db", "show", "olivine")
    lines = err.strip().splitlines()
    assert code == 1 and out == "" and "Traceback" not in err
    assert len(lines) == 1
    assert lines[0].startswith("error: MinDB refused the operation (OperationalError: no such")
