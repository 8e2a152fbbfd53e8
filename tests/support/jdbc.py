"""tests/jdbc/Query.java on the official ClickHouse JDBC driver: built with Maven and javac, run as a BI tool would.

The driver and its dependencies come from Maven Central into the project's
Maven cache (the one the Kafka jars use, which CI keeps), the build goes to
the gitignored tests/jdbc/target; nothing but Java 17 and Maven is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hookstream.foundation.settings import load_settings
from hookstream.runtime.kafka_dist import maven_repo

PROJECT = Path(__file__).resolve().parents[1] / "jdbc"
TARGET = PROJECT / "target"
JVM_TIMEZONE = "Asia/Kolkata"  # not UTC: a timestamp read through the wrong zone shows


class BuildFailed(RuntimeError):
    """Maven or javac failed; the message ends with their output."""


@dataclass(frozen=True)
class JdbcQuery:
    classpath: str
    build_seconds: float

    def run(self, url: str, user: str, password: str, sql: str) -> subprocess.CompletedProcess[str]:
        command = ["java", f"-Duser.timezone={JVM_TIMEZONE}", "-cp", self.classpath, "Query", url, user, password, sql]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, cwd=PROJECT)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise BuildFailed(f"{' '.join(command[:4])} failed:\n{tail}")


def build() -> JdbcQuery:
    """Fetch the driver (once: later builds resolve from the cache) and compile the program against it."""
    for tool in ("mvn", "javac", "java"):
        if shutil.which(tool) is None:
            raise BuildFailed(f"`{tool}` is not on PATH: the JDBC test needs a JDK 17+ and Maven")
    started = time.monotonic()
    shutil.rmtree(TARGET, ignore_errors=True)
    repo = maven_repo(load_settings().kafka_jars_dir)
    _run(["mvn", "-q", "-B", "-f", str(PROJECT / "pom.xml"), "dependency:copy-dependencies",
          f"-Dmaven.repo.local={repo}"])  # fmt: skip
    libs = f"{TARGET / 'dependency'}/*"
    _run(["javac", "-d", str(TARGET / "classes"), "-cp", libs, str(PROJECT / "Query.java")])
    return JdbcQuery(f"{TARGET / 'classes'}{os.pathsep}{libs}", time.monotonic() - started)
