"""Alembic environment of MinDB.

lithoscope drives Alembic from code (``lithoscope.mindb.db``); there is no alembic.ini. The caller
passes an open connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from lithoscope.mindb.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "MinDB migrations run through lithoscope.mindb.connect(), which passes a connection"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("MinDB migrations are run online only")
run_migrations_online()
