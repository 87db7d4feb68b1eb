"""Where things are: the repository, the test photos, the `pretty-meter` command of this Python."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "fixtures"  # the real photos tests need
CLI = str(Path(sys.executable).with_name("pretty-meter"))
