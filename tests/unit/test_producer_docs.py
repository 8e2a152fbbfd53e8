"""docs/producers.md quotes the producer examples whole, and the suite runs those same files
(tests/e2e/test_producers.py): a doc block that drifts from its file fails here."""

import re

from tests.support.producers import EXAMPLES

ROOT = EXAMPLES.parents[1]
DOC = ROOT / "docs" / "producers.md"
QUOTED = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)^```$", re.DOTALL | re.MULTILINE)
# Generated or fetched by the build, not written by hand: never quoted.
UNQUOTED = {"go.sum", "package-lock.json"}


def _quoted() -> dict[str, str]:
    return {match["path"]: match["code"] for match in QUOTED.finditer(DOC.read_text())}


def test_every_quoted_block_is_its_file() -> None:
    for path, code in _quoted().items():
        assert code == (ROOT / path).read_text(), f"docs/producers.md's block of {path} differs from the file"


def test_every_example_file_is_quoted() -> None:
    written = {
        str(path.relative_to(ROOT))
        for path in EXAMPLES.rglob("*")
        if path.is_file()
        and path.name not in UNQUOTED
        and not {"target", "node_modules", "__pycache__"} & set(path.relative_to(EXAMPLES).parts)
    }
    assert set(_quoted()) == written
