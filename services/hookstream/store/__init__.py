"""The store: one process that owns the embedded ClickHouse (chDB) directory and serves ClickHouse's HTTP interface.

chDB lets a single process open a data directory, so the store is that
process, and everything else (roles, ``hookstream sql``, BI tools, notebooks)
talks to it over HTTP exactly as it would talk to a ClickHouse server.
"""

HOST = "127.0.0.1"
"""The store listens on the loopback interface only."""
