"""What `faces="all"` costs on one loaded model: preparation (decode, detection, crops, quality)
and scoring of a one-person photo and of a 4-face group photo, plain vs every face.

    .venv/bin/python bench/every_face_cost.py [--repeats 10] [--model DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

import testkit  # noqa: F401 - first: the repository root on the import path
from machine import wall_ms

from prettymeter.rating_model import RatingModel
from tests.support.group import group_photo
from tests.support.paths import DATA
from tests.support.photos import encode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--model", type=Path, default=None, help="default: the tiny test model")
    args = parser.parse_args()
    model_dir = args.model
    if model_dir is None:
        from tests.support.models import model_dirs

        model_dir = model_dirs(Path(tempfile.gettempdir()) / "every-face-cost")["man"]
    model = RatingModel(model_dir, engine="onnxruntime", threads=1)
    photos = {
        "one person": (DATA / "man.png").read_bytes(),
        "4 faces": encode(group_photo()[0], "PNG"),
    }
    for name, photo in photos.items():
        for faces in ("one", "all"):
            prepared = model.prepare(photo, faces=faces)
            inputs = sum(a is not None for a in prepared.inputs())
            prep = wall_ms(partial(model.prepare, photo, faces=faces), args.repeats, warm=0)
            score = wall_ms(partial(model.rate_prepared, [prepared]), args.repeats, warm=0)
            print(
                f"{name:10s} faces={faces}: prepare {prep:6.1f} ms, score {score:6.1f} ms "
                f"({inputs} model inputs)"
            )


if __name__ == "__main__":
    main()
