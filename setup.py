"""Build hook: a wheel built from a checkout with a built page carries it as package data.

Everything else about the package is in pyproject.toml. `make dist` builds the page
(frontend/dist) and then the wheel; this copies frontend/dist into the wheel's
prettymeter/static/, where the service looks for its page by default. A checkout without a built
page still builds (the Docker images and `pip install -e .` do not need one); `make dist` checks
the wheel holds the page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PAGE = Path(__file__).resolve().parent / "frontend" / "dist"


class BuildPyWithPage(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install finds frontend/dist in the checkout itself
        static = Path(self.build_lib) / "prettymeter" / "static"
        shutil.rmtree(static, ignore_errors=True)  # never ship a stale page from an earlier build
        if (PAGE / "index.html").is_file():
            shutil.copytree(PAGE, static)
        else:
            print(f"note: {PAGE} has no index.html: the wheel carries no web page (make web)")


setup(cmdclass={"build_py": BuildPyWithPage})
