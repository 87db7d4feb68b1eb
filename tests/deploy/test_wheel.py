"""The wheel carries the built page, and `pip install "pretty_meter-*.whl[serve]"` in a
fresh virtual environment is the service image's package set: no torch, no scipy, no plotting.
Installed that way, `pretty-meter serve` serves the page at / and scores photos with the demo
models, and `pretty-meter rate` runs the Kubernetes scoring Job's command.

One fresh venv for all of it (the service's dependencies come from the package registry: about
30-40 s here). The page is the checkout's frontend/dist when built (`make test` builds it first),
else a small stand-in page: what is tested is that the build puts a page in the wheel and the
installed service finds it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.deploy import K8S, REPO
from tests.support.live import free_port

pytestmark = pytest.mark.slow

# What only the data and training stages (or nothing at run time) use: never in the service image.
NOT_IN_THE_SERVICE = {"torch", "torchvision", "scipy", "pywavelets", "matplotlib", "imagehash"}
SERVICE_NEEDS = {"pretty-meter", "fastapi", "uvicorn", "onnxruntime", "pyarrow", "pillow"}
READY_TIMEOUT_S = 180.0


@dataclass
class Installed:
    wheel: Path
    page: Path
    venv: Path
    seconds_to_build: float
    seconds_to_install: float

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name


def _page(tree: Path) -> Path:
    """The page the build puts in the wheel: the checkout's frontend/dist or a stand-in."""
    page = tree / "frontend" / "dist"
    built = REPO / "frontend" / "dist"
    if (built / "index.html").is_file():
        shutil.copytree(built, page)
    else:
        (page / "assets").mkdir(parents=True)
        (page / "index.html").write_text(
            '<!doctype html><title>pretty-meter</title><script src="/assets/app.js"></script>',
            encoding="utf-8",
        )
        (page / "assets" / "app.js").write_text("console.log('stand-in page')\n", encoding="utf-8")
    return page


def _run(argv: list[str | Path], timeout: float, **kwargs: object) -> str:
    result = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )
    output = f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{argv[:4]} failed:\n{output}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    # The build runs on a copy of what the package is made of, so the shared checkout gets no
    # build/ or egg-info from it; setup.py's hook takes the page from the copy's frontend/dist.
    tree = root / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(REPO / name, tree / name)
    shutil.copytree(
        REPO / "src",
        tree / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "static"),
    )
    page = _page(tree)

    started = time.perf_counter()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "-q", "--no-deps", "-w", root / "dist", tree], timeout=300)
    (wheel,) = (root / "dist").glob("pretty_meter-*.whl")
    built = time.perf_counter() - started

    started = time.perf_counter()
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=120)
    target = ["--python", venv / "bin" / "python"]
    _run([*pip, *target, "install", "-q", "--no-compile", f"{wheel}[serve]"], timeout=600)
    installed = time.perf_counter() - started
    print(f"wheel built in {built:.1f} s; fresh [serve] venv installed in {installed:.1f} s")
    return Installed(wheel, page, venv, built, installed)


def test_the_wheel_carries_the_built_page(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    page_files = {p.relative_to(installed.page).as_posix() for p in installed.page.rglob("*")}
    page_files = {f for f in page_files if (installed.page / f).is_file()}
    assert "index.html" in page_files
    missing = {f for f in page_files if f"prettymeter/static/{f}" not in names}
    assert not missing, f"the wheel lacks page files: {sorted(missing)[:5]}"


def test_the_service_install_has_no_training_or_plotting_packages(installed: Installed) -> None:
    listing = _run(
        [
            installed.bin("python"),
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps(sorted({d.metadata['Name'].lower().replace('_', '-') "
            "for d in m.distributions()})))",
        ],
        timeout=60,
    )
    packages = set(json.loads(listing))
    assert packages >= SERVICE_NEEDS, f"not installed: {SERVICE_NEEDS - packages}"
    unwanted = NOT_IN_THE_SERVICE & packages
    assert not unwanted, f"in the service install: {unwanted}"
    # every CLI module imports without them (their heavy imports are inside the commands)
    _run(
        [
            installed.bin("python"),
            "-c",
            "import prettymeter.cli, prettymeter.serve.app, prettymeter.data.normalize, "
            "prettymeter.data.dedupe, prettymeter.data.ingest, prettymeter.batch",
        ],
        timeout=120,
    )
    assert "serve" in _run([installed.bin("pretty-meter"), "--help"], timeout=120)


@pytest.fixture(scope="module")
def service(
    installed: Installed, demo_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`pretty-meter serve` from the fresh venv, run outside the checkout, with no --web-dir."""
    logs = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRETTYMETER_", "PYTHON"))}
    env["COLUMNS"] = "250"  # the startup summary prints the page's folder unshortened
    argv = [
        installed.bin("pretty-meter"),
        "serve",
        "--man",
        demo_models["man"],
        "--woman",
        demo_models["woman"],
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = logs / "serve.log"
    with open(log, "wb") as out:
        command = [str(a) for a in argv]
        process = subprocess.Popen(command, env=env, cwd=logs, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the installed service exited:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the installed service was not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        # the page comes from the installed package (run outside the checkout, no --web-dir)
        summary = log.read_text(encoding="utf-8", errors="replace")
        python = f"python{sys.version_info.major}.{sys.version_info.minor}"
        static = installed.venv / "lib" / python / "site-packages" / "prettymeter" / "static"
        assert str(static) in summary, summary[-2000:]
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def test_the_installed_service_serves_the_page_and_scores_a_photo(
    installed: Installed, service: str, man_png: Path
) -> None:
    with httpx.Client(base_url=service, timeout=60) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.content == (installed.page / "index.html").read_bytes()
        asset = next(p for p in installed.page.rglob("*.js"))
        script = client.get("/" + asset.relative_to(installed.page).as_posix())
        assert script.status_code == 200 and script.content == asset.read_bytes()

        photo = man_png.read_bytes()
        answer = client.post(
            "/v1/rate", data={"gender": "m"}, files=[("files", ("man.png", photo, "image/png"))]
        )
        assert answer.status_code == 200, answer.text
        (result,) = answer.json()["results"]
        assert result["error"] is None, result
        assert 0.0 <= result["score"] <= 10.0
        seed = client.post("/man/predict", json={"instances": [base64.b64encode(photo).decode()]})
        assert seed.status_code == 200 and seed.json()["predictions"] == [result["score"]]


def test_the_scoring_jobs_command_runs_in_the_service_install(
    installed: Installed,
    demo_models: dict[str, Path],
    man_png: Path,
    woman_jpg: Path,
    tmp_path: Path,
) -> None:
    """deploy/k8s/jobs/rate's command, pod 0's shard, with the cluster's paths swapped for local
    ones: the CPU service image (this install) is all batch scoring needs."""
    job = yaml.safe_load((K8S / "jobs" / "rate" / "job.yaml").read_text(encoding="utf-8"))
    (rate,) = job["spec"]["template"]["spec"]["containers"]
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy2(man_png, photos / man_png.name)
    shutil.copy2(woman_jpg, photos / woman_jpg.name)
    mounts = {"/data/photos": str(photos), "/data/scores": str(tmp_path / "scores")}
    mounts["/models/woman"] = str(demo_models["woman"])
    argv = []
    for arg in rate["command"]:
        arg = arg.replace("$(JOB_COMPLETION_INDEX)", "0")
        for cluster_path, local in mounts.items():
            arg = arg.replace(cluster_path, local)
        argv.append(arg)
    (tmp_path / "scores").mkdir()
    argv[0] = str(installed.bin(argv[0]))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRETTYMETER_", "PYTHON"))}
    _run(argv, timeout=300, env=env, cwd=tmp_path)
    out = Path(argv[argv.index("--out") + 1])
    assert out.is_file() and out.parent == tmp_path / "scores"
