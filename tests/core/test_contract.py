"""The facts training, export, the data stages and inference share are written once, in
`prettymeter.contract`: a copy of one of them anywhere else in the source fails here.

The source is read as syntax (every module of src/prettymeter but the contract), so a value in a
comment or inside a longer message does not count; a value used as the fact does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from prettymeter import contract

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "prettymeter"
CONTRACT = PACKAGE / "contract.py"
# the calls and keyword arguments where an ONNX graph's input and output names are written
ONNX_KEYWORDS = {"input_names", "output_names", "dynamic_axes"}
ONNX_CALLS = {"run", "infer", "output"}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != CONTRACT:
            yield str(path.relative_to(PACKAGE)), ast.parse(path.read_text(encoding="utf-8"))


def copies(where: str, tree: ast.Module) -> Iterator[str]:
    """Every place in one module that writes a contract fact out instead of importing it."""
    shared = {name for name in vars(contract) if name.isupper() or name == "Box"}
    person_rule = {contract.MIN_CONFIDENCE}
    reasons = set(contract.FILTER_REASONS) | set(contract.FILTER_MESSAGES.values())
    onnx_names = {contract.INPUT_NAME, contract.LABEL_OUTPUT, contract.STD_OUTPUT}
    for node in ast.walk(tree):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str) and value in reasons:
                yield f"{line}: filter reason or message {value!r}"
            if isinstance(value, str) and value == contract.MTCNN:
                yield f"{line}: detector name {value!r}"
            if isinstance(value, bytes) and value.startswith(contract.STAGE_METADATA_KEY):
                yield f"{line}: table metadata key {value!r}"
            if isinstance(value, float) and value in person_rule:
                yield f"{line}: person-rule constant {value!r}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(
            node.targets[0] if isinstance(node, ast.Assign) else node.target, ast.Name
        ):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            name = target.id  # type: ignore[union-attr]
            if name in shared or name.endswith("METADATA_KEY"):
                yield f"{line}: {name} defined again"
        elif isinstance(node, ast.keyword) and node.arg in ONNX_KEYWORDS:
            yield from _onnx_literals(line, node.value, onnx_names | {contract.DETECTOR_INPUT_NAME})
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ONNX_CALLS
        ):
            for arg in node.args:
                yield from _onnx_literals(line, arg, onnx_names)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if contract.STD_OUTPUT in items and set(items) <= onnx_names:
                yield f"{line}: ONNX output names {items}"


def _onnx_literals(line: str, node: ast.expr, names: set[str]) -> Iterator[str]:
    """String constants among `names` as a list item, dict key or the value itself."""
    if isinstance(node, ast.Dict):
        parts: list[ast.expr | None] = list(node.keys)
    elif isinstance(node, (ast.List, ast.Tuple)):
        parts = list(node.elts)
    else:
        parts = [node]
    for part in parts:
        if isinstance(part, ast.Constant) and part.value in names:
            yield f"{line}: ONNX name {part.value!r}"


def test_no_contract_fact_is_written_out_anywhere_else_in_the_source() -> None:
    found = [copy for where, tree in modules() for copy in copies(where, tree)]
    assert not found, "write these through prettymeter.contract:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ('reason = "several_faces"', "filter reason"),
        ('DETECTORS = ("mtcnn", "none")', "defined again"),
        ('if detector == "mtcnn": pass', "detector name"),
        ('KEY = b"prettymeter.detect"', "metadata key"),
        ('METADATA_KEY = b"x"', "defined again"),
        ("limit = 0.66", "person-rule constant"),
        ('session.run(None, {"input": batch})', "ONNX name"),
        ('torch.onnx.export(m, x, input_names=["input"])', "ONNX name"),
        ('outputs = ["label", "label_std"]', "ONNX output names"),
        ("Box = tuple[float, float, float, float]", "defined again"),
    ],
)
def test_the_check_finds_each_kind_of_copy(source: str, kind: str) -> None:
    found = list(copies("example.py", ast.parse(source)))
    assert found and kind in found[0], found
