"""A real headless Chromium (Debian's ``chromium``, never a downloaded build) driven by Playwright, and axe-core.

Outside CI a machine without ``/usr/bin/chromium`` skips these tests; in CI
(``CI`` set) a missing browser fails them, since ``.ci/run`` installs it.
axe-core is the npm package, fetched once with npm into ``~/.cache/hookstream``:
it is a test tool, not part of the product.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("HOOKSTREAM_CHROMIUM", "/usr/bin/chromium"))
AXE_VERSION = "4.14.1"
AXE_DIR = Path.home() / ".cache" / "hookstream" / f"axe-core-{AXE_VERSION}"
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "console"


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe.min.js of the npm package, fetched once (``npm pack``) and kept in the cache."""
    script = AXE_DIR / "package" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed once to fetch axe-core into ~/.cache/hookstream")
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--silent"], cwd=AXE_DIR, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        with tarfile.open(AXE_DIR / f"axe-core-{AXE_VERSION}.tgz") as archive:
            archive.extract("package/axe.min.js", AXE_DIR, filter="data")
    return script.read_text()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
