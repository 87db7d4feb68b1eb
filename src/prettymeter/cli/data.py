"""CLI verbs: data (filled in by its issue)."""

from prettymeter.cli.app import app  # noqa: F401
