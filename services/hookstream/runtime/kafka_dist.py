"""Apache Kafka's jars, fetched from Maven Central once and cached by version.

The broker version is pinned in ``deploy/kafka/pom.xml`` and read from there,
so changing it is a one-line edit that also changes the cache key.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from hookstream.runtime.paths import kafka_deploy_dir

_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_COMPLETE_MARKER = ".complete"
MIN_JAVA = 17


class ToolMissing(RuntimeError):
    """A program the local broker needs is absent; the message says what to install."""


@dataclass(frozen=True, slots=True)
class KafkaDistribution:
    version: str
    jars_dir: Path

    @property
    def classpath(self) -> str:
        return str(self.jars_dir / "*")


def pinned_kafka_version(pom: Path | None = None) -> str:
    pom = pom or kafka_deploy_dir() / "pom.xml"
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", _POM_NS)
    if node is None or not (node.text or "").strip():
        raise RuntimeError(f"{pom} has no <kafka.version> property")
    return node.text.strip()


def java_major_version(java: str = "java") -> int:
    """Major version of the JVM on PATH, or ToolMissing when there is none."""
    exe = shutil.which(java)
    if exe is None:
        raise ToolMissing(
            f"Java {MIN_JAVA}+ is needed to run the local Kafka broker and `java` is not on PATH: "
            f"install a JDK or JRE {MIN_JAVA}+ (Debian/Ubuntu: `apt install openjdk-17-jre-headless`), "
            "or set KAFKA_BOOTSTRAP_SERVERS to an existing Kafka cluster."
        )
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        raise ToolMissing(f"could not read the Java version from `{exe} -version`: {out.strip()!r}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def require_java() -> None:
    major = java_major_version()
    if major < MIN_JAVA:
        raise ToolMissing(
            f"Java {major} found, the Kafka broker needs Java {MIN_JAVA}+: install OpenJDK {MIN_JAVA} or newer "
            "and put it first on PATH, or set KAFKA_BOOTSTRAP_SERVERS to an existing Kafka cluster."
        )


def maven_repo(cache_root: Path) -> Path:
    """The project's local Maven repository (``HOOKSTREAM_MAVEN_REPO``, else beside the jars), which CI caches."""
    return Path(os.environ.get("HOOKSTREAM_MAVEN_REPO", cache_root.expanduser().parent / "m2"))


def ensure_kafka(cache_root: Path, pom: Path | None = None) -> KafkaDistribution:
    """The cached distribution, fetching it with Maven on first use.

    The jars land in a temporary folder that is renamed into place only when
    Maven succeeded, so an interrupted fetch never leaves a half cache behind.
    """
    require_java()
    pom = pom or kafka_deploy_dir() / "pom.xml"
    version = pinned_kafka_version(pom)
    target = cache_root.expanduser() / version
    if (target / _COMPLETE_MARKER).exists():
        return KafkaDistribution(version, target)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissing(
            f"Apache Kafka {version} is not cached in {target} and Maven is needed to fetch it from Maven "
            "Central: install Maven 3.6+ (Debian/Ubuntu: `apt install maven`), or set "
            "KAFKA_BOOTSTRAP_SERVERS to an existing Kafka cluster."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    cmd = [
        mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}", f"-Dmaven.repo.local={maven_repo(cache_root)}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"fetching Apache Kafka {version} with Maven failed:\n{tail}")
    (staging / _COMPLETE_MARKER).write_text(version)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return KafkaDistribution(version, target)
