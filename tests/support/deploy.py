"""Shared by the deployment tests: the repository's paths and the dev tools they run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

K8S = REPO / "deploy" / "k8s"
DOCKER = REPO / "docker"


def dev_tool(name: str) -> str:
    """A binary the dev extra installs (kubectl, hadolint): beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: pip install -e '.[dev]' (make install does)")
    return found


def verb_options(verb: str) -> set[str] | None:
    """The option names of a `pretty-meter` verb, or None while the verb does not exist."""
    import typer.main

    from prettymeter.cli import app

    command = typer.main.get_command(app)
    sub = getattr(command, "commands", {}).get(verb)
    if sub is None:
        return None
    return {opt for param in sub.params for opt in param.opts}
