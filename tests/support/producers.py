"""The producer examples of docs/producers.md (examples/producers/*), built with each language's own tools.

Each build fetches its client library once into the project's cache beside the
Kafka jars (Maven repository, Go module cache, npm cache: CI keeps ~/.cache),
so later builds are offline; the outputs go to gitignored folders of the
examples. A missing toolchain fails the build with what to install.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hookstream.foundation.settings import load_settings
from hookstream.runtime.kafka_dist import maven_repo
from tests.support.k8s import go_env

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "producers"
LANGUAGES = ("java", "go", "node", "python", "confluent")
"""Each example's name; all live in examples/producers/<name> but confluent, the Python one on confluent-kafka."""
RUN_TIMEOUT_S = 120


class BuildFailed(RuntimeError):
    """The example's build failed or its toolchain is missing; the message ends with the tool's output."""


@dataclass(frozen=True)
class ExampleProducer:
    language: str
    directory: Path
    command: tuple[str, ...]
    build_seconds: float

    async def produce(self, bootstrap_servers: str, topic: str, application: str) -> str:
        """Run the example once as its README says; its output when it exited 0, else an assertion error."""
        process = await asyncio.create_subprocess_exec(
            *self.command, bootstrap_servers, topic, application, cwd=self.directory,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"the {self.language} producer did not exit within {RUN_TIMEOUT_S} s") from None
        text = output.decode(errors="replace")
        assert process.returncode == 0, f"the {self.language} producer exited {process.returncode}:\n{text[-3000:]}"
        return text


def _cache(name: str) -> Path:
    return load_settings().kafka_jars_dir.expanduser().parent / name


def _run(language: str, command: list[str], env: dict[str, str] | None = None) -> None:
    if shutil.which(command[0]) is None:
        raise BuildFailed(f"`{command[0]}` is not on PATH: the {language} producer example needs it")
    result = subprocess.run(command, cwd=EXAMPLES / language, env=env, capture_output=True, text=True, timeout=900,
                            check=False)  # fmt: skip
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise BuildFailed(f"{' '.join(command[:3])} failed in examples/producers/{language}:\n{tail}")


def _build_java() -> tuple[str, ...]:
    _run("java", ["mvn", "-q", "-B", f"-Dmaven.repo.local={maven_repo(load_settings().kafka_jars_dir)}",
                  "compile", "dependency:copy-dependencies"])  # fmt: skip
    return ("java", "-cp", f"target/classes{os.pathsep}target/dependency/*", "example.Produce")


def _build_go() -> tuple[str, ...]:
    _run("go", ["go", "build", "-o", "target/produce", "."], env=go_env())
    return (str(EXAMPLES / "go" / "target" / "produce"),)


def _build_node() -> tuple[str, ...]:
    _run("node", ["npm", "ci", "--cache", str(_cache("npm")), "--no-audit", "--no-fund"])
    return ("node", "produce.js")


def _build_python() -> tuple[str, ...]:
    return (sys.executable, "produce.py")  # aiokafka is one of hookstream's own dependencies


def _build_confluent() -> tuple[str, ...]:
    return (sys.executable, "produce_confluent.py")  # confluent-kafka: a test dependency (librdkafka in its wheel)


BUILDS = {"java": _build_java, "go": _build_go, "node": _build_node, "python": _build_python,
          "confluent": _build_confluent}  # fmt: skip


def build(language: str) -> ExampleProducer:
    started = time.monotonic()
    command = BUILDS[language]()
    directory = EXAMPLES / ("python" if language == "confluent" else language)
    return ExampleProducer(language, directory, command, time.monotonic() - started)
