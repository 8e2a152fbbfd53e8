"""ClickHouse clients for the projection, embedded (chDB) or a server, behind one call.

Both kinds of URL give the same ``clickhouse_connect`` client API, so the
projector and the query layer never branch on where the data lives.

chDB facts this module is built on (measured with chDB 4.4 / engine 26.9 and
clickhouse-connect 1.12, see also the ``connect`` docstring):

* A process hosts at most one chDB engine, bound to one data directory. Any
  number of clients may be open on that same directory at once: each
  ``get_client`` call opens its own handle (~15 ms once the engine is up; the
  first one starts the engine, ~0.4-1 s) and they all see the same data.
  Spellings of the same directory (trailing slash, symlink) are the same path.
* Opening a *different* directory while any client on the first one is still
  open fails (``EmbeddedServer already initialized with path ...``). Once every
  client on it is closed, another directory can be opened in the same process.
* A second *process* on the same directory fails (``Cannot lock file
  <dir>/status``): chDB is single-process storage; scaled-out deployments use a
  ClickHouse server.
* Each client serializes its own calls behind a lock, but separate clients run
  queries in parallel (two threads on two clients took the time of one; on one
  shared client, twice as long). So clients are deliberately not cached or
  shared: give each component (projector, API) its own.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver import Client
from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.exceptions import ClickHouseError as DriverError

__all__ = ["ClickHouseUnavailable", "connect", "ping", "redact_url"]


class ClickHouseUnavailable(RuntimeError):
    """ClickHouse cannot be opened or does not answer; the message says which and why."""


def redact_url(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _chdb_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith("/"):
        raise ValueError(f"chDB URL must be chdb:///absolute/path (three slashes), got {url!r}")
    return Path(parts.path).expanduser().resolve()


def _server_url(url: str) -> str:
    # The database comes from settings; a database in the URL path would make
    # the bootstrap client USE a database that may not exist yet.
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", parts.query, ""))


def connect(url: str, database: str, *, create_database: bool = True) -> Client:
    """A new client whose default database is ``database``, created if missing.

    ``url`` is ``chdb:///abs/path`` (embedded; the directory is created) or
    ``http(s)://[user:pass@]host:port`` (a server; any path in the URL is
    ignored in favour of ``database``).

    Calling this twice with the same chDB path in one process is fine and
    intended: both clients share the one embedded engine and its data, and
    each keeps its own session (database, settings) and its own lock, so they
    query in parallel. What fails is a different chDB path while a client on
    the first is still open, and the same path from a second process; both
    raise ``ClickHouseUnavailable`` with chDB's reason. Close clients you are
    done with (``client.close()``): an open one pins the engine to its path.

    ``CREATE DATABASE IF NOT EXISTS`` runs on the node the URL reaches; a
    ClickHouse cluster needs the database created ``ON CLUSTER`` beforehand.
    A read-only user may not run it at all: ``create_database=False`` skips
    it, and a missing database is then an error like any other.
    """
    if not database:
        raise ValueError("a ClickHouse database name is required")
    scheme = urlsplit(url).scheme.lower()
    if scheme == "chdb":
        path = _chdb_path(url)
        path.mkdir(parents=True, exist_ok=True)
        dsn = f"chdb://{path}"
    elif scheme in ("http", "https"):
        dsn = _server_url(url)
    else:
        raise ValueError(f"unsupported ClickHouse URL scheme {scheme!r} in {redact_url(url)!r}: use chdb or http(s)")
    try:
        # No HTTP session: one client serves every request of a process from worker threads at once, and a
        # session takes one query at a time (clickhouse-connect refuses the second; a server would too). Every
        # call carries its database and settings itself, so nothing needs a session's state.
        client = clickhouse_connect.get_client(
            dsn=dsn, **({} if scheme == "chdb" else {"autogenerate_session_id": False})
        )
    except DriverError as exc:
        raise ClickHouseUnavailable(f"cannot open ClickHouse at {redact_url(url)}: {exc}") from exc
    try:
        if create_database:
            client.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")
        # The client applies its database per call (HTTP parameter, or USE on
        # the chDB handle), so switching after creation binds every later call.
        client.database = database
        client.command("SELECT 1")
    except DriverError as exc:
        client.close()
        raise ClickHouseUnavailable(f"cannot use database {database!r} at {redact_url(url)}: {exc}") from exc
    except BaseException:
        client.close()
        raise
    return client


def ping(client: Client) -> None:
    """Raise ``ClickHouseUnavailable`` unless a trivial query round-trips.

    A real query rather than ``client.ping()``: it also proves the database
    still exists and, for chDB, that the client's handle is still open.
    """
    try:
        result = client.command("SELECT 1")
    except DriverError as exc:
        raise ClickHouseUnavailable(f"ClickHouse at {client.uri} did not answer: {exc}") from exc
    if str(result).strip() != "1":
        raise ClickHouseUnavailable(f"ClickHouse at {client.uri} answered {result!r} to SELECT 1")
