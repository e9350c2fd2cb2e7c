"""The import table of docs/architecture.md is the contract: each package imports exactly the msmonai packages and
modules of its row (lazy imports included), so dependencies keep pointing one way and the document stays true."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "msmonai"
TABLE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def documented_edges() -> dict[str, set[str]]:
    """``{package: the msmonai packages and modules it may import}`` from the table ``| package | imports |``."""
    edges = {}
    for line in TABLE.read_text().splitlines():
        row = re.fullmatch(r"\| (\w+) \| ([\w, ]+) \|", line.strip())
        if row and row.group(1) != "package":
            edges[row.group(1)] = {name.strip() for name in row.group(2).split(",")}
    return edges


def imported(package: str) -> set[str]:
    """The other msmonai packages and top-level modules that any module of ``msmonai/<package>`` imports."""
    found = set()
    for source in (PACKAGE / package).rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "msmonai" and len(parts) > 1 and parts[1] != package:
                    found.add(parts[1])
    return found


def test_the_table_covers_every_package():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(documented_edges())


def test_the_table_lists_exactly_what_each_package_imports():
    for package, documented in documented_edges().items():
        actual = imported(package)
        assert actual == documented, (f"msmonai/{package}: imports {sorted(actual - documented)} beyond the table, "
                                      f"the table lists {sorted(documented - actual)} it does not import")
