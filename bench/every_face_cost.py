"""What `faces="all"` costs at c=1 on one loaded model: ms per face on a group photo of 5 faces
against one face alone (plain scoring), preparation (decode, detection, crops, quality) and
scoring together, as one client waits for them.

    .venv/bin/python bench/every_face_cost.py [--repeats 10] [--model DIR|tiny] [--wait-quiet 60]

`--model` defaults to an EfficientNetV2-S at 256 px that scores face crops (random init with a
calibrated head, made by the real exporter, cached): the cost does not depend on what the
weights learned, and the benchmark's trained model scores whole photos, which `faces="all"`
refuses. Engine `auto` (such a card has no verified engines: ONNX Runtime fp32).
"""

from __future__ import annotations

import argparse
import os
from functools import partial
from pathlib import Path

import testkit  # noqa: F401 - first: the repository root on the import path
from machine import Watch, wall_ms
from PIL import Image, ImageOps

from prettymeter.rating_model import RatingModel
from tests.support.paths import DATA
from tests.support.photos import encode, man_photo


def five_faces() -> bytes:
    """The two fixtures, their mirror images and a smaller man on one canvas: five faces, each
    above the rule's minimum face size, JPEG as the page sends."""
    man = man_photo()
    woman = Image.open(DATA / "woman.jpg").convert("RGB").resize(man.size)
    people = [man, woman, ImageOps.mirror(man), ImageOps.mirror(woman), man.resize((400, 480))]
    canvas = Image.new("RGB", (5 * man.width, man.height), (235, 235, 235))
    for i, person in enumerate(people):
        canvas.paste(person, (i * man.width, man.height - person.height))
    return encode(canvas, "JPEG", quality=90)


def model_dir(choice: str | None) -> Path:
    from tests.support.models import model_dirs

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pretty-meter"
    if choice == "tiny":
        return model_dirs(cache / "every-face-cost-tiny")["man"]
    if choice is not None:
        return Path(choice)
    options = {"backbone": "efficientnet_v2_s", "input_size": 256, "crop_size": 256}
    return model_dirs(cache / "every-face-cost", **options)["man"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--model", default=None, help="a model dir, or 'tiny'")
    parser.add_argument("--wait-quiet", type=float, default=60.0)
    args = parser.parse_args()
    chosen = model_dir(args.model)
    watch = Watch.start(args.wait_quiet)
    model = RatingModel(chosen, engine="auto")
    one = encode(man_photo(), "JPEG", quality=90)
    group = five_faces()
    faces = len(model.rate([group], faces="all")[0].faces or ())
    assert faces == 5, f"the group photo should show 5 faces, the detector found {faces}"

    def rated(photo: bytes, mode: str) -> object:
        return model.rate([photo], faces=mode)

    rows = [
        ("one face, plain (faces=one)", one, "one", 1),
        ("one face, faces=all", one, "all", 1),
        ("5 faces, faces=all", group, "all", 5),
    ]
    print(f"model {model.card.name} ({model.engine}), input {model.spec.input_size} px, c=1")
    print("| photo | ms per photo | ms per face | × one face plain |")
    print("|---|---|---|---|")
    base = None
    for name, photo, mode, count in rows:
        ms = wall_ms(partial(rated, photo, mode), args.repeats)
        base = base or ms
        print(f"| {name} | {ms:.1f} | {ms / count:.1f} | {ms / count / base:.2f} |")
    print(watch.finish().describe())


if __name__ == "__main__":
    main()
