"""List the longest functions (by lines, decorators excluded) in a source tree.

    .venv/bin/python scripts/longest_functions.py [--top N] [DIR]

For the figures of a clean-up (issue 13's "largest functions"): a function that tops this
list is one to split into named pieces. Default: the 10 longest under src/.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def longest(root: Path) -> list[tuple[int, str, str]]:
    """(lines, path:line, name) of every function and method under `root`, longest first."""
    rows = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                rows.append((lines, f"{path}:{node.lineno}", node.name))
    return sorted(rows, key=lambda row: -row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="src", type=Path)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    for lines, where, name in longest(args.root)[: args.top]:
        print(f"{lines:4} {where} {name}")


if __name__ == "__main__":
    main()
