"""SQLite as the services use it: one connection per process, its schema created and migrated at start under a
`schema_version` table, and every query run in a worker thread so a slow disk never stalls the event loop."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
import time
from typing import Callable, Sequence, TypeVar

from interop_services.cli import ConfigError

T = TypeVar("T")


class Database:
    """A service's database: `call` runs a function with the connection, one at a time, off the event loop."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str, migrations: Sequence[str]) -> Database:
        """Open (creating if needed) the `--db` file and bring its schema up to date: `migrations[n]` takes the
        schema from version n to n + 1. A file newer than this program is refused."""
        try:
            # check_same_thread=False: asyncio.to_thread may pick any worker; the lock serialises them.
            connection = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
            migrate(connection, migrations)
        except (sqlite3.Error, ValueError) as err:
            raise ConfigError(f"--db {path}", f"cannot open: {err}") from err
        return cls(connection)

    async def call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._locked, work)

    def _locked(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            return work(self._connection)


def migrate(connection: sqlite3.Connection, migrations: Sequence[str]) -> int:
    """The schema version after applying, in one transaction, every migration the file lacks."""
    with transaction(connection):
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = connection.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
        if current > len(migrations):
            raise ValueError(f"schema version {current} is newer than this program knows ({len(migrations)})")
        for sql in migrations[current:]:
            for statement in sql.split(";"):
                if statement.strip():
                    connection.execute(statement)
        connection.execute("DELETE FROM schema_version")
        connection.execute("INSERT INTO schema_version (version) VALUES (?)", (len(migrations),))
    return len(migrations)


class transaction:
    """BEGIN ... COMMIT (ROLLBACK on error) on an autocommit connection; DDL included, unlike sqlite3's default."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self._connection.execute("BEGIN IMMEDIATE")
        return self._connection

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._connection.execute("COMMIT" if kind is None else "ROLLBACK")


def new_id(prefix: str) -> str:
    """A new random id such as `ord-1f0c9a3b5d7e2468`: 64 random bits, hex."""
    return f"{prefix}-{secrets.token_hex(8)}"


def now_unix_ms() -> int:
    return time.time_ns() // 1_000_000
