"""Where the files that ship beside the Python package live.

hookstream runs from a checkout (editable install, container image built from
the repository), so the Avro contracts, the ClickHouse migrations and the
broker's Maven project are found relative to the source tree; an environment
variable moves each for packagings that put them elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def project_path(env_var: str, *relative: str) -> Path:
    override = os.environ.get(env_var)
    return Path(override) if override else PROJECT_ROOT.joinpath(*relative)


def kafka_deploy_dir() -> Path:
    return project_path("HOOKSTREAM_KAFKA_DEPLOY_DIR", "deploy", "kafka")
