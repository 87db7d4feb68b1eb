"""List the longest functions in src/ (ast-based); `--over N` fails on any unexcused one over N.

python scripts/longest_functions.py            # the 15 longest: lines, name, file
python scripts/longest_functions.py --over 80  # exit 1 when one over 80 is not excused below
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Functions allowed over the limit, each with its reason; remove an entry once it is split.
EXCEPTIONS: dict[str, str] = {
    "prettymeter.data.normalize.normalize": "one streamed pass whose steps share the row filter",
    "prettymeter.training.export.export": "one ordered export recipe; splitting hides the order",
    "prettymeter.data.dedupe.dedupe": "two streamed passes around one cluster map",
    "prettymeter.training.report.write_results": "writes the one results record field by field",
    "prettymeter.serve.app.create_app": "the app factory wires every route; owned by serve",
    "prettymeter.batch.run.rate_collection": "the resumable batch loop; one parts-folder pass",
    "prettymeter.training.loop.train": "the run's top-level recipe, read top to bottom",
    "prettymeter.data.synth.generate": "one drawing loop; its branches are the dataset's quirks",
}


def functions(root: Path) -> list[tuple[int, str, str]]:
    """(lines, dotted name, file) for every function and method under root."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for child in node.body:
                    if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                        child.name = f"{node.name}.{child.name}"
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                found.append((lines, f"{module}.{node.name}", str(path.relative_to(root.parent))))
    return sorted(found, reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--over", type=int, help="fail on a function over this many lines")
    parser.add_argument("--top", type=int, default=15, help="how many to list")
    args = parser.parse_args()
    found = functions(SRC)
    shown = [f for f in found if f[0] > args.over] if args.over else found[: args.top]
    for lines, name, path in shown:
        reason = EXCEPTIONS.get(name)
        print(f"{lines:5d}  {name}  {path}" + (f"  [excused: {reason}]" if reason else ""))
    if args.over:
        bad = [name for lines, name, _ in shown if name not in EXCEPTIONS]
        if bad:
            print(f"over {args.over} lines and not excused: {', '.join(bad)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
