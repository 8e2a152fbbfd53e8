"""The console's static files ship in the package and keep to the rules the CSP and the brief set."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

from hookstream.api.console import STATIC_DIR, security_headers

ROOT = Path(__file__).resolve().parents[2]


def test_every_console_file_is_package_data() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["hookstream"]
    files = [p.relative_to(STATIC_DIR.parent).as_posix() for p in STATIC_DIR.iterdir() if p.is_file()]
    assert "console/index.html" in files and "console/main.js" in files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert not missing, f"not shipped by [tool.setuptools.package-data]: {missing}"


def test_no_inline_script_or_style_and_no_html_sinks() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script: the CSP forbids it"
    assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
    for script in STATIC_DIR.glob("*.js"):
        text = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in text, f"{script.name} uses {sink}: data is rendered as text only"


def test_modules_import_only_files_that_exist() -> None:
    for script in STATIC_DIR.glob("*.js"):
        for name in re.findall(r'from "\./([^"]+)"', script.read_text()):
            assert (STATIC_DIR / name).is_file(), f"{script.name} imports missing {name}"


def test_security_headers() -> None:
    headers = security_headers("'self' https://app.example.com")
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "unsafe" not in csp
    assert csp.endswith("frame-ancestors 'self' https://app.example.com")
    assert headers["X-Content-Type-Options"] == "nosniff"
