"""The test helpers (tests/support) for the benchmarks, which run as scripts from a checkout.

    import testkit  # noqa: F401 - first: puts the repository root on the import path
    from tests.support.live import model_service

`tests` is not installed (the wheel holds only `prettymeter`), and a script's import path starts
at bench/; this puts the repository root after it, the one sys.path edit of bench/ (pytest
gets the same root from `pythonpath` in pyproject.toml).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))
