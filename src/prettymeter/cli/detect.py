"""CLI verbs: detect (filled in by its issue)."""

from prettymeter.cli.app import app  # noqa: F401
