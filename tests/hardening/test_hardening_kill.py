"""kill -9 at random points during ingest, detect, normalize, train and export; the rerun
gives what an uninterrupted run gives, nothing lost or duplicated, and the photos untouched."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.support.paths import CLI

KILLS = {"ingest": 2, "detect": 2, "normalize": 2, "train": 1, "export": 1}  # then rerun to the end
TRAIN_ARGS = [
    "--backbone", "mobilenet_v3_small", "--weights", "none", "--image-size", "32",
    "--epochs", "2", "--folds", "2", "--batch-size", "16", "--device", "cpu", "--threads", "1",
    "--precision", "fp32",
]  # fmt: skip


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` (relative path → sha256), symlinks as their target."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "link:" + str(path.readlink())
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def run(args: list[str], cwd: Path) -> None:
    done = subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@dataclass
class Pipeline:
    root: Path
    ds_digest: dict[str, str]
    work_seconds: dict[str, float]  # reference run: from the first output on disk to the end


def started_work(verb: str, out: Path) -> bool:
    """Whether the command has begun writing its output (so a kill lands in real work)."""
    if not out.is_dir():
        return False
    names = [p.name for p in out.iterdir()]
    return {
        "ingest": lambda: any(n.startswith(".raw.parquet.") for n in names),
        "dedupe": lambda: any(n.startswith(".dedup.parquet.") for n in names),
        "detect": lambda: ".crops.parquet.partial" in names,
        "normalize": lambda: any(n.startswith(".m.") for n in names),
        "train": lambda: (out / "run" / "config.json").is_file(),
        "export": lambda: ".model.partial" in names or "model" in names,
    }[verb]()


def watched_run(
    verb: str, args: list[str], root: Path, out: Path, kill_after: float | None
) -> tuple[bool, float]:
    """Run the command; once it has started writing, SIGKILL it after `kill_after` s (None:
    let it finish). Returns (killed, seconds from the start of the writing to the end)."""
    process = subprocess.Popen(
        [CLI, *args], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    began = None
    while process.poll() is None:
        if began is None and started_work(verb, out):
            began = time.perf_counter()
        if (
            began is not None
            and kill_after is not None
            and time.perf_counter() - began >= kill_after
        ):
            process.kill()
            process.wait()
            return True, time.perf_counter() - began
        time.sleep(0.005)
    stderr = process.stderr.read().decode() if process.stderr else ""
    process.stderr.close() if process.stderr else None
    assert kill_after is not None or process.returncode == 0, stderr[-3000:]
    return False, time.perf_counter() - (began or time.perf_counter())


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """The uninterrupted reference run of every stage, on a tiny synthetic dataset."""
    root = tmp_path_factory.mktemp("pipeline")
    run(["synth", "--out", "ds", "--n", "200", "--seed", "0", "--size", "64"], root)
    digest = tree_digest(root / "ds")
    work = {}
    for verb, args in COMMANDS.items():
        _, work[verb] = watched_run(verb, args("ref"), root, root / "ref", None)
    return Pipeline(root, digest, work)


COMMANDS: dict[str, Callable[[str], list[str]]] = {
    "ingest": lambda o: ["ingest", "--ds", "ds", "--dst", f"{o}/raw.parquet"],
    "dedupe": lambda o: ["dedupe", "--src", f"{o}/raw.parquet", "--dst", f"{o}/dedup.parquet"],
    "detect": lambda o: [
        "detect", "--src", "ref/dedup.parquet", "--dst", f"{o}/crops.parquet",
        "--detector", "none", "--crop-size", "32",
    ],
    "normalize": lambda o: [
        "normalize", "--src", "ref/crops.parquet", "--dst", f"{o}/m.parquet", "--gender", "m",
    ],
    "train": lambda o: ["train", "--data", "ref/m.parquet", "--out", f"{o}/run", *TRAIN_ARGS],
    "export": lambda o: ["export", "--run", "ref/run", "--out", f"{o}/model"],
}  # fmt: skip


def rerun_args(verb: str, args: list[str], out: Path) -> list[str]:
    """What a user runs after a crash: the same command (train continues with --resume)."""
    if verb == "train" and (out / "run" / "config.json").is_file():
        at = args.index("--out")
        return [*args[:at], "--resume", args[at + 1], *args[at + 2 :]]
    return args


OUTPUTS = {
    "ingest": "raw.parquet",
    "dedupe": "dedup.parquet",
    "detect": "crops.parquet",
    "normalize": "m.parquet",
    "train": "run/run.json",
    "export": "model/card.json",
}


def finished(verb: str, out: Path) -> bool:
    """The output is in place (a kill after the final rename leaves it complete)."""
    if verb == "train":
        path = out / OUTPUTS[verb]
        return path.is_file() and bool(json.loads(path.read_text()).get("done"))
    return (out / OUTPUTS[verb]).exists()


def table_rows(path: Path) -> dict[str, list[object]]:
    table = pq.read_table(path)
    return {name: table.column(name).to_pylist() for name in table.column_names}


def compare_tables(ref: Path, got: Path) -> None:
    expected, actual = table_rows(ref), table_rows(got)
    assert list(actual) == list(expected)
    assert len(actual["path"]) == len(expected["path"])
    assert len(set(actual["path"])) == len(actual["path"]), "duplicated rows"
    for name in expected:
        assert actual[name] == expected[name], f"column {name} differs"


def compare_runs(ref: Path, got: Path) -> None:
    assert (got / "folds.csv").read_text() == (ref / "folds.csv").read_text()
    expected = json.loads((ref / "metrics.json").read_text())
    actual = json.loads((got / "metrics.json").read_text())
    flat_expected, flat_actual = _numbers(expected), _numbers(actual)
    assert flat_actual.keys() == flat_expected.keys()
    for key, value in flat_expected.items():
        if "second" in key or "per_s" in key or key.endswith("time"):
            continue
        assert abs(flat_actual[key] - value) <= 0.02 + 0.02 * abs(value), key


def _numbers(data: object, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(_numbers(value, f"{prefix}{key}."))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.update(_numbers(value, f"{prefix}{i}."))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out[prefix.rstrip(".")] = float(data)
    return out


def compare_models(ref: Path, got: Path) -> None:
    import onnxruntime as ort

    from prettymeter.card import load_model_dir

    ref_card, ref_onnx = load_model_dir(ref)
    got_card, got_onnx = load_model_dir(got)
    skip = {"created", "created_at", "onnx_sha256", "export", "verification"}
    left = {k: v for k, v in ref_card.model_dump().items() if k not in skip}
    right = {k: v for k, v in got_card.model_dump().items() if k not in skip}
    assert right == left
    # The engine verification is measured again (its time and img/s differ; a verdict near a
    # limit may too): the same engines judged on the same crops.
    assert ref_card.verification is not None and got_card.verification is not None
    verdicts = [
        {name: e.crops for name, e in v.engines.items()}
        for v in (ref_card.verification, got_card.verification)
    ]
    assert verdicts[1] == verdicts[0]
    size = ref_card.input_size
    batch = np.random.default_rng(0).normal(size=(3, 3, size, size)).astype(np.float32)
    outputs = [
        ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"input": batch})
        for p in (ref_onnx, got_onnx)
    ]
    np.testing.assert_allclose(outputs[1][0], outputs[0][0], atol=1e-5)


COMPARE: dict[str, Callable[[Path, Path], None]] = {
    "ingest": lambda r, g: compare_tables(r / "raw.parquet", g / "raw.parquet"),
    "dedupe": lambda r, g: compare_tables(r / "dedup.parquet", g / "dedup.parquet"),
    "detect": lambda r, g: compare_tables(r / "crops.parquet", g / "crops.parquet"),
    "normalize": lambda r, g: compare_tables(r / "m.parquet", g / "m.parquet"),
    "train": lambda r, g: compare_runs(r / "run", g / "run"),
    "export": lambda r, g: compare_models(r / "model", g / "model"),
}

KILLED_VERBS = ["ingest", "detect", "normalize", "train", "export"]


@pytest.mark.parametrize("verb", KILLED_VERBS)
def test_a_verb_killed_at_random_points_reruns_to_the_same_output(
    pipeline: Pipeline, verb: str
) -> None:
    rng = random.Random(f"kill-{verb}")
    out = pipeline.root / f"killed-{verb}"
    args = COMMANDS[verb](out.name)
    kills = 0
    window = pipeline.work_seconds[verb]
    while kills < KILLS[verb]:
        if finished(verb, out):  # killed after its final rename: the output is complete
            break
        # a random point of the writing phase (timed from its first file on disk)
        after = rng.uniform(0.0, 0.8 * window)
        killed, _ = watched_run(verb, rerun_args(verb, args, out), pipeline.root, out, after)
        if killed:
            kills += 1
            continue
        # it finished first (the machine was faster than in the reference run): start over
        assert window > 0.01, "the command keeps finishing before it can be killed"
        shutil.rmtree(out)
        window /= 2
    assert kills >= 1
    if not finished(verb, out):  # a finished output is refused by the rerun, and kept
        run(rerun_args(verb, args, out), pipeline.root)
    COMPARE[verb](pipeline.root / "ref", out)
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith((".tmp", ".partial", ".trash"))]
    assert leftovers == [], "a killed run's temporaries were left behind"


def test_the_photos_are_unchanged_after_the_whole_pipeline_and_every_kill(
    pipeline: Pipeline,
) -> None:
    assert pipeline.ds_digest, "no photos were generated"
    assert tree_digest(pipeline.root / "ds") == pipeline.ds_digest
