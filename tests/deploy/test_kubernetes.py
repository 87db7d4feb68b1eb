"""The Kubernetes manifests render with kustomize and match the Kubernetes schemas and
the service they run. No cluster here: kustomize (inside kubectl) renders, kubernetes-validate
checks every object against the API schemas it ships (offline), the rest reads the objects."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy import K8S, REPO, dev_tool, verb_options

# The oldest Kubernetes these manifests are for (the rate Job's backoffLimitPerIndex is on by
# default from 1.29) and the newest whose schemas kubernetes-validate ships.
OLDEST_K8S = "1.29.0"
MEASURED_PEAK = re.compile(r"Peak RSS \(VmHWM\): ours with detection (\d+) MB")

Doc = dict[str, Any]


def kustomizations() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Doc]]:
    """Every kustomization under deploy/k8s, rendered by kustomize: {'overlays/cpu': [objects]}."""
    kubectl = dev_tool("kubectl")
    out: dict[str, list[Doc]] = {}
    for folder in kustomizations():
        result = subprocess.run(
            [kubectl, "kustomize", str(folder)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        name = folder.relative_to(K8S).as_posix()
        assert result.returncode == 0, f"kustomize {name} failed:\n{result.stderr}"
        out[name] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def only(docs: list[Doc], kind: str) -> Doc:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container(workload: Doc) -> Doc:
    (one,) = workload["spec"]["template"]["spec"]["containers"]
    return one


def quantity_bytes(text: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def cpu_cores(text: str) -> float:
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def test_every_kustomization_renders_and_passes_the_kubernetes_schemas(
    rendered: dict[str, list[Doc]],
) -> None:
    import kubernetes_validate

    assert set(rendered) >= {"storage", "overlays/cpu", "overlays/gpu", "jobs/rate", "jobs/train"}
    failures = []
    for name, docs in rendered.items():
        assert docs, f"{name} renders nothing"
        for doc in docs:
            for version in (OLDEST_K8S, kubernetes_validate.latest_version()):
                try:  # strict: an unknown (misspelt) field is an error, not ignored
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    where = f"{name}: {doc['kind']} {doc['metadata']['name']} (k8s {version})"
                    failures.append(f"{where}: {exc.message}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("overlay", ["overlays/cpu", "overlays/gpu"])
def test_the_api_probes_ask_the_service_health_routes(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    from prettymeter.serve.routes.health import router

    routes = {getattr(route, "path", None) for route in router.routes}
    api = container(only(rendered[overlay], "Deployment"))
    ports = {port["name"]: port["containerPort"] for port in api["ports"]}
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz" in routes
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz" in routes
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert ports[api[probe]["httpGet"]["port"]] == 8000
    command = api["command"]
    assert command[:2] == ["pretty-meter", "serve"]
    assert command[command.index("--port") + 1] == "8000"
    assert command[command.index("--host") + 1] == "0.0.0.0"


@pytest.mark.parametrize("overlay", ["overlays/cpu", "overlays/gpu"])
def test_the_api_reads_its_settings_from_the_config_map_and_the_models_read_only(
    rendered: dict[str, list[Doc]],
    overlay: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prettymeter.serve.settings import load_settings

    docs = rendered[overlay]
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    api = container(only(docs, "Deployment"))
    env = {e["name"]: e.get("value") for e in api["env"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in api["volumeMounts"]}

    config_path = Path(env["PRETTYMETER_CONFIG"])
    mount = mounts[str(config_path.parent)]
    config_map = only(docs, "ConfigMap")
    assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
    text = config_map["data"][config_path.name]

    # The file the pod reads, through the service's own settings loader.
    (tmp_path / config_path.name).write_text(text, encoding="utf-8")
    for key in [k for k in os.environ if k.startswith("PRETTYMETER_")]:
        monkeypatch.delenv(key)
    overrides = {k: v for k, v in env.items() if k.startswith("PRETTYMETER_") and v}
    overrides.pop("PRETTYMETER_CONFIG")
    for key, value in overrides.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(tmp_path / config_path.name)

    models_mount = next(m for m in api["volumeMounts"] if m["name"] == "models")
    assert models_mount["readOnly"] is True
    assert volumes["models"]["persistentVolumeClaim"]["readOnly"] is True
    assert set(settings.models) == {"man", "woman"}
    for path in settings.models.values():
        assert path.is_relative_to(models_mount["mountPath"]), path
    # the pools follow the pod's CPU request, not the node's core count
    cpu_request = cpu_cores(api["resources"]["requests"]["cpu"])
    assert settings.threads == settings.prep_workers == cpu_request
    assert api["securityContext"]["readOnlyRootFilesystem"] is True
    assert "/tmp" in mounts  # the only writable place
    if overlay == "overlays/gpu":
        assert settings.device == "cuda"
    else:
        assert settings.device == "cpu"


def test_the_api_memory_covers_the_measured_peak_rss(rendered: dict[str, list[Doc]]) -> None:
    found = MEASURED_PEAK.search((REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8"))
    assert found, "docs/benchmarks.md no longer states the service's peak RSS"
    peak = int(found.group(1)) * 1e6
    for overlay in ("overlays/cpu", "overlays/gpu"):
        resources = container(only(rendered[overlay], "Deployment"))["resources"]
        request = quantity_bytes(resources["requests"]["memory"])
        limit = quantity_bytes(resources["limits"]["memory"])
        assert request >= peak, f"{overlay}: memory request below the measured {peak / 1e6} MB"
        assert limit >= 1.5 * peak, f"{overlay}: no headroom above the measured peak"


@pytest.mark.parametrize("overlay", ["overlays/cpu", "overlays/gpu"])
def test_the_service_autoscaler_and_budget_select_the_api(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    deployment = only(docs, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    api = container(deployment)

    service = only(docs, "Service")
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in api["ports"]}

    hpa = only(docs, "HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "cpu" in api["resources"]["requests"]  # utilisation is measured against the request

    budget = only(docs, "PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # a budget the smallest replica count cannot meet would block every node drain
    assert "minAvailable" not in budget["spec"] or (
        budget["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    )


def test_the_gpu_overlay_asks_for_a_gpu_and_runs_the_cuda_image(
    rendered: dict[str, list[Doc]],
) -> None:
    gpu = container(only(rendered["overlays/gpu"], "Deployment"))
    cpu = container(only(rendered["overlays/cpu"], "Deployment"))
    assert int(gpu["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    assert "nvidia.com/gpu" not in cpu["resources"].get("limits", {})
    assert gpu["image"].endswith(":gpu") and cpu["image"].endswith(":cpu")
    pod = only(rendered["overlays/gpu"], "Deployment")["spec"]["template"]["spec"]
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])


def test_every_image_is_one_a_dockerfile_here_builds(rendered: dict[str, list[Doc]]) -> None:
    images = {
        c["image"]
        for docs in rendered.values()
        for doc in docs
        if doc["kind"] in ("Deployment", "Job")
        for c in doc["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"pretty-meter:cpu", "pretty-meter:gpu", "pretty-meter:train"}
    for image in images:
        tag = image.split(":")[1]
        dockerfile = REPO / "docker" / f"Dockerfile.{tag}"
        assert dockerfile.is_file(), f"{image}: no {dockerfile.relative_to(REPO)}"
        assert f"-t {image} ." in dockerfile.read_text(encoding="utf-8")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command and args."""
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), text)


def test_the_rate_job_gives_each_indexed_pod_its_own_shard_and_output(
    rendered: dict[str, list[Doc]],
) -> None:
    job = only(rendered["jobs/rate"], "Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    shards = spec["completions"]
    rate = container(job)
    declared = {e["name"]: e for e in rate.get("env", [])}
    index_source = declared["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert index_source == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    command = rate["command"]
    assert command[:2] == ["pretty-meter", "rate"]
    assert not command[2].startswith("-")  # SOURCE

    seen_shards, seen_outputs = set(), set()
    for index in range(shards):  # what each pod runs once the kubelet has expanded $(...)
        argv = [expand(arg, {"JOB_COMPLETION_INDEX": str(index)}) for arg in command]
        seen_shards.add(argv[argv.index("--shard") + 1])
        seen_outputs.add(argv[argv.index("--out") + 1])
        assert "$(" not in " ".join(argv)
    assert seen_shards == {f"{i}/{shards}" for i in range(shards)}
    assert len(seen_outputs) == shards  # no two shards write the same file


def test_the_rate_job_uses_options_the_rate_verb_has(rendered: dict[str, list[Doc]]) -> None:
    options = verb_options("rate")
    assert options is not None, "`pretty-meter rate` is missing"
    command = container(only(rendered["jobs/rate"], "Job"))["command"]
    used = {arg for arg in command if arg.startswith("--")}
    assert used <= options, f"options the rate verb does not know: {used - options}"


def test_the_training_job_is_a_torchrun_rendezvous_on_pod_0(
    rendered: dict[str, list[Doc]],
) -> None:
    from torch.distributed.run import get_args_parser

    docs = rendered["jobs/train"]
    job, service = only(docs, "Job"), only(docs, "Service")
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    train = container(job)
    assert train["command"][0] == "torchrun"
    args = get_args_parser().parse_args(train["command"][1:])  # torchrun's own parser

    assert spec["completionMode"] == "Indexed"
    assert int(args.nnodes) == spec["completions"] == spec["parallelism"]
    host, port = args.rdzv_endpoint.split(":")
    assert args.rdzv_backend == "c10d"
    assert host == f"{job['metadata']['name']}-0.{pod['subdomain']}"
    assert service["metadata"]["name"] == pod["subdomain"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}
    assert args.nproc_per_node == "gpu"
    assert int(train["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    mounts = {m["mountPath"] for m in train["volumeMounts"]}
    assert "/dev/shm" in mounts


def test_the_training_job_starts_a_run_and_resumes_it_after_a_restart(
    rendered: dict[str, list[Doc]], tmp_path: Path
) -> None:
    from torch.distributed.run import get_args_parser

    train = container(only(rendered["jobs/train"], "Job"))
    args = get_args_parser().parse_args(train["command"][1:])
    assert args.no_python and args.training_script == "sh"
    options = verb_options("train")
    assert options is not None
    for option in re.findall(r"--[\w-]+", " ".join(args.training_script_args)):
        assert option in options, f"`pretty-meter train` has no {option}"

    # Run the worker's shell line with a stand-in `pretty-meter` that prints its arguments.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pretty-meter"
    fake.write_text('#!/bin/sh\necho "$@"\n', encoding="utf-8")
    fake.chmod(0o755)
    run = tmp_path / "runs" / "w"
    env = {e["name"]: e["value"] for e in train["env"]}
    env.update(RUN=str(run), PATH=f"{bin_dir}:{os.environ['PATH']}")

    def worker() -> str:
        argv = [args.training_script, *args.training_script_args]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    assert worker() == f"train --data {env['DATA']} --out {run}"
    run.mkdir(parents=True)
    assert worker() == f"train --data {env['DATA']} --out {run}"  # made, but no config yet
    (run / "config.json").write_text("{}", encoding="utf-8")
    assert worker() == f"train --resume {run}"
