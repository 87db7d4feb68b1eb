"""Full API fuzz run: schemathesis on every route of a live service (≥1,000 cases); prints a table.

.venv/bin/python bench/fuzz.py [--examples 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import testkit  # noqa: F401 - first: the repository root on the import path

from tests.support.fuzzing import CHECK_NAMES, fuzz
from tests.support.live import model_service
from tests.support.models import model_dirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="per route and mode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()) / "pm-bench")
    args = parser.parse_args()

    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    models = model_dirs(args.models)
    env = {"PRETTYMETER_THREADS": "1", "PRETTYMETER_LIMITS__MAX_BODY_BYTES": str(3 << 20)}
    with model_service(models, env) as service:
        report = fuzz(service.url, args.examples, seed=args.seed)
        alive = service.alive()
    print(
        f"\nfuzz: {report.cases} cases in {report.seconds:.0f} s, checks: {', '.join(CHECK_NAMES)}"
    )
    print(f"{'route':<24}{'cases':>8}")
    for route, count in sorted(report.per_route.items()):
        print(f"{route:<24}{count:>8}")
    print("status codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(report.statuses.items())))
    print(f"failures: {len(report.failures)}; service alive after: {alive}")
    for failure in report.failures[:20]:
        print("  " + failure)
    return 0 if not report.failures and alive and report.cases >= 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
