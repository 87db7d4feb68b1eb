"""Command line entry point: `pretty-meter ingest | dedupe | detect | normalize | train | ...`.

Each verb lives in its own module under `prettymeter.cli`; heavy imports (torch) happen inside
the command functions so `--help` stays fast.
"""

from __future__ import annotations

import sys

from prettymeter.cli.app import app
from prettymeter.errors import PrettyMeterError

# Importing the verb modules registers their commands on `app`.
from prettymeter.cli import data as _data  # noqa: F401  isort: skip
from prettymeter.cli import detect as _detect  # noqa: F401  isort: skip
from prettymeter.cli import train as _train  # noqa: F401  isort: skip
from prettymeter.cli import serve as _serve  # noqa: F401  isort: skip
from prettymeter.cli import demo as _demo  # noqa: F401  isort: skip
from prettymeter.cli import rate as _rate  # noqa: F401  isort: skip
from prettymeter.cli import verify as _verify  # noqa: F401  isort: skip

__all__ = ["app", "main"]


def main() -> None:
    """Run the CLI; a user-facing failure is one line on stderr and exit code 1."""
    try:
        app()
    except PrettyMeterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to continue where it stopped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
