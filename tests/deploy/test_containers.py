"""The Dockerfiles lint clean, compose's balancer reaches every replica (GPU profile
included), and the images' default settings file loads. Docker cannot run here (no daemon)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.deploy import DOCKER, REPO, dev_tool

DOCKERFILES = sorted(DOCKER.glob("Dockerfile.*"))


def test_there_are_cpu_gpu_and_training_images() -> None:
    assert {p.suffix for p in DOCKERFILES} == {".cpu", ".gpu", ".train"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_the_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = subprocess.run(
        [dev_tool("hadolint"), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"hadolint {dockerfile.name}:\n{result.stdout}{result.stderr}"


def test_the_balancer_reaches_every_api_replica_including_the_gpu_profile() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    nginx = (DOCKER / "nginx.conf").read_text(encoding="utf-8")
    upstream = re.search(r"set \$api http://([\w.-]+):(\d+);", nginx)
    assert upstream and "proxy_pass $api;" in nginx
    host, port = upstream.group(1), upstream.group(2)

    services = compose["services"]
    replicas = {
        name: service
        for name, service in services.items()
        if str(service.get("build", {}).get("dockerfile", "")).startswith("docker/Dockerfile.")
    }
    assert {services[name].get("profiles", [None])[0] for name in replicas} == {None, "gpu"}
    for name, service in replicas.items():
        aliases = service.get("networks", {}).get("default", {}).get("aliases", [])
        names_it_answers_to = {name, *aliases}
        assert host in names_it_answers_to, f"nginx proxies to {host}; {name} is not reachable"
        assert port in service["expose"]
        assert any(v.endswith(":/models:ro") for v in service["volumes"])
        assert (REPO / service["build"]["dockerfile"]).is_file()
    balancer = services["lb"]
    assert "./docker/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in balancer["volumes"]


def test_the_images_default_settings_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    from prettymeter.serve.settings import load_settings

    for dockerfile in (DOCKER / "Dockerfile.cpu", DOCKER / "Dockerfile.gpu"):
        text = dockerfile.read_text(encoding="utf-8")
        copied = re.search(r"^COPY docker/(\S+) (\S+)$", text, re.MULTILINE)
        configured = re.search(r"PRETTYMETER_CONFIG=(\S+)", text)
        assert copied and configured, f"{dockerfile.name} sets no default settings file"
        assert configured.group(1) == copied.group(2)
        for key in [k for k in os.environ if k.startswith("PRETTYMETER_")]:
            monkeypatch.delenv(key)
        settings = load_settings(DOCKER / copied.group(1))
        assert {k: str(v) for k, v in settings.models.items()} == {
            "man": "/models/man",
            "woman": "/models/woman",
        }
