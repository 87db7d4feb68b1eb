"""What `explain=true` costs on one loaded model at c=1: ms per photo for a plain rating vs a
rating with its explanation: one more engine call, of the input alone for its label map (models
whose graph has one) or of the 7 occluded regions (the others; `--grid N` adds an N × N grid of
occluded cells to that batch, as `explain(grid=N)` does).

    .venv/bin/python bench/explain_cost.py [--repeats 10] [--model DIR] [--grid 0] [--wait-quiet S]

A model with a label map is also timed explained by occlusion, as if it had none (same run).

`--model` defaults to the EfficientNetV2-S benchmark model `bench/bench_model.py` makes (made
on first use, slow); `--model tiny` uses the tiny test model (checks the script only).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import testkit  # noqa: F401 - first: the repository root on the import path
from machine import Watch, wall_ms

from prettymeter.explain import DEFAULT_GRID, REGIONS
from prettymeter.rating_model import RatingModel
from tests.support.paths import DATA


def model_dir(choice: str | None) -> Path:
    if choice == "tiny":
        from tests.support.models import model_dirs

        return model_dirs(Path(tempfile.gettempdir()) / "explain-cost")["man"]
    if choice is not None:
        return Path(choice)
    from bench_model import default_work, prepare

    return prepare(default_work())["model"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--model", default=None, help="a model dir, or 'tiny'")
    parser.add_argument("--grid", type=int, default=DEFAULT_GRID)
    parser.add_argument("--wait-quiet", type=float, default=0.0)
    args = parser.parse_args()
    watch = Watch.start(args.wait_quiet)
    model = RatingModel(model_dir(args.model), engine="auto")
    photo = (DATA / "man.png").read_bytes()
    prepared = model.prepare(photo)
    rated = model.rate_prepared([prepared])[0]

    def plain() -> object:
        return model.rate_prepared([model.prepare(photo)])

    def explained() -> object:
        p = model.prepare(photo)
        return model.explained(p, model.rate_prepared([p])[0], args.grid)

    plain_ms = wall_ms(plain, args.repeats)  # warm: compiles this batch size
    print(f"model {model.card.name} ({model.engine}), input {model.spec.input_size} px")
    print(f"plain:        {plain_ms:7.1f} ms per photo (1 model input)")
    side = model.scorer.map_side
    for map_side in [side, 0] if side else [0]:
        model.scorer.map_side = map_side  # 0: explained by occlusion
        note = model.explained(prepared, rated, args.grid).explanation
        assert note is not None
        explain_ms = wall_ms(explained, args.repeats)
        source = note["heatmap_from"]
        inputs = 1 if source == "label_map" else len(REGIONS) + args.grid**2
        print(
            f"explain=true: {explain_ms:7.1f} ms per photo (+ one batch of {inputs} input(s), "
            f"{source}, grid {args.grid}) = {explain_ms / plain_ms:.2f} x plain"
        )
    print(watch.finish().describe())


if __name__ == "__main__":
    main()
