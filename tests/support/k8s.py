"""deploy/k8s rendered offline: kustomize's own library (a small Go program, tests/k8s) builds each kustomization.

Go fetches the library once through the module proxy into the project's cache
beside the Kafka jars and the Maven repository (CI keeps ~/.cache), so later
builds are offline; nothing but the Go toolchain is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from hookstream.foundation.settings import load_settings

PROGRAM = Path(__file__).resolve().parents[1] / "k8s"
TARGET = PROGRAM / "target"


class RenderFailed(RuntimeError):
    """go build or the kustomization failed; the message ends with their output."""


def go_env() -> dict[str, str]:
    cache = load_settings().kafka_jars_dir.expanduser().parent / "go"
    return {**os.environ, "GOMODCACHE": str(cache / "mod"), "GOCACHE": str(cache / "build"), "GOFLAGS": "-mod=mod"}


def build_renderer() -> Path:
    if shutil.which("go") is None:
        raise RenderFailed("`go` is not on PATH: rendering the Kubernetes manifests needs the Go toolchain")
    binary = TARGET / "render"
    result = subprocess.run(["go", "build", "-o", str(binary), "."], cwd=PROGRAM, env=go_env(), capture_output=True,
                            text=True, timeout=900, check=False)  # fmt: skip
    if result.returncode != 0:
        raise RenderFailed(f"go build failed:\n{result.stderr[-3000:]}")
    return binary


def render(binary: Path, kustomization: Path) -> list[dict]:
    """Every resource of the kustomization, as kubectl would apply them."""
    result = subprocess.run([str(binary), str(kustomization)], capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RenderFailed(f"{kustomization}: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
