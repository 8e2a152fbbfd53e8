"""Queries on a chDB directory from a short-lived process (chDB pins one directory per process).

Reads ``{"dir", "database", "queries", "drop_database"}`` as JSON on stdin and
prints the rows of each query as JSON (values that JSON lacks as text).
"""

from __future__ import annotations

import json
import sys

from hookstream.runtime.clickhouse import connect


def main() -> None:
    job = json.load(sys.stdin)
    client = connect(f"chdb://{job['dir']}", job["database"])
    try:
        if job.get("drop_database"):
            client.command(f"DROP DATABASE {job['database']} SYNC")
        results = [[list(row) for row in client.query(sql).result_rows] for sql in job["queries"]]
    finally:
        client.close()
    json.dump(results, sys.stdout, default=str)


if __name__ == "__main__":
    main()
