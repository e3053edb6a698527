"""Regenerate src/chamberlain/ops/core/data/aws_managed_policies.json from moto's catalogue.

    .venv/bin/python scripts/refresh_managed_policies.py [OUTPUT]

moto (already in requirements.lock, `bench` extra) ships AWS's managed policies, their
paths, default versions, dates and documents, refreshed from AWS by its maintainers
(`make aws_managed_policies` in moto). Its module is read as data (`ast.literal_eval` of
the one string it assigns): no moto code runs, and Chamberlain does not need moto at run
time. Each document is checked with Chamberlain's own policy engine (parsed as an
identity policy and compiled, in the text the server serves); a document the engine
refuses is left out and listed in the file's "skipped" member with the engine's message.

The output has one policy per line, so a refresh reads as a diff of the policies that
changed.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import sys
from pathlib import Path

from chamberlain.ops.core.aws_managed import render_document
from chamberlain.policy import MalformedPolicyDocument, PolicyType, compile_policy, parse_policy

OUT = (
    Path(__file__).resolve().parents[1]
    / "src"
    / "chamberlain"
    / "ops"
    / "core"
    / "data"
    / "aws_managed_policies.json"
)
_SOURCE = "moto/iam/aws_managed_policies.py"


def moto_catalogue() -> tuple[str, dict[str, dict]]:
    dist = importlib.metadata.distribution("moto")
    path = Path(str(dist.locate_file(_SOURCE)))
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id == "aws_managed_policies_data":
                return f"moto {dist.version}", json.loads(node.value.value)
    raise SystemExit(f"{path}: no aws_managed_policies_data")


def refusal(document: str) -> str | None:
    try:
        compile_policy(parse_policy(document, PolicyType.IDENTITY), "check")
    except MalformedPolicyDocument as exc:
        return exc.message
    return None


def main(argv: list[str] | None = None) -> int:
    """Write the data file (or, with one argument, that path instead)."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else OUT
    source, catalogue = moto_catalogue()
    kept: list[str] = []
    skipped: dict[str, str] = {}
    for name in sorted(catalogue):
        entry = catalogue[name]
        problem = refusal(render_document(entry["Document"]))
        if problem is not None:
            skipped[name] = problem
            continue
        row = [
            name,
            entry["Path"],
            entry["DefaultVersionId"],
            entry["CreateDate"],
            entry["UpdateDate"],
            entry["Document"],
        ]
        kept.append(json.dumps(row, separators=(",", ":"), sort_keys=True))
    header = json.dumps(
        {
            "source": source,
            "refresh": "python scripts/refresh_managed_policies.py",
            "kept": len(kept),
            "skipped": skipped,
        },
        indent=1,
        sort_keys=True,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    body = ",\n".join(kept)
    out.write_text(f'{{"about":{header},\n"policies":[\n{body}\n]}}\n')
    print(f"{out}: {len(kept)} policies from {source}, {len(skipped)} skipped", file=sys.stderr)
    for name, problem in skipped.items():
        print(f"  skipped {name}: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
