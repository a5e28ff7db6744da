"""MinDB: the curated database of minerals on the Moon, on Mars and in meteorites.

Examples
--------
>>> from lithoscope.mindb import connect
>>> db = connect("sqlite://")  # in memory; default: from Settings
>>> report = db.build()
>>> db.mineral("forsterite")["formula"]
'Mg2SiO4'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lithoscope.mindb.queries import MinDB, MineralNotFound

__all__ = ["MinDB", "MineralNotFound", "connect"]


def __getattr__(name: str) -> Any:
    # imported on first use: `lithoscope.mindb.chemistry` and friends need no SQLAlchemy
    if name in ("MinDB", "MineralNotFound"):
        from lithoscope.mindb import queries

        return getattr(queries, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def connect(url: str | None = None, *, upgrade: bool = True) -> MinDB:
    """Open MinDB, migrating an older schema to the current one.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``); default: the
        ``database_url`` of `lithoscope.config.Settings` (SQLite in the data folder).
    upgrade : bool, default=True
        Migrate an older schema; with False an older schema raises `DatabaseError`.

    Returns
    -------
    MinDB

    Raises
    ------
    lithoscope.errors.DatabaseError
        Unreachable server, foreign tables, or a schema newer than this lithoscope.
    """
    from lithoscope.config import get_settings
    from lithoscope.mindb.db import open_database
    from lithoscope.mindb.queries import MinDB

    resolved = url if url is not None else get_settings().resolved_database_url()
    engine, factory = open_database(resolved, upgrade=upgrade)
    return MinDB(engine, factory)
