"""Alembic environment of fuota's store, configured from code: no alembic.ini is needed or read.

`fuota.store.Store` runs the migrations itself on open, handing over its connection in
`config.attributes["connection"]`. A developer adding a revision builds the same configuration:

    from alembic import command
    from fuota.store import alembic_config
    command.revision(alembic_config("sqlite:///dev.db"), "what changed", autogenerate=True)

then edits the generated file into readable, hand-checked operations.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from fuota.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()
