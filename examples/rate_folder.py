"""Rate a folder of photos with the Python API and save a figure of the worst and best rated.

    python examples/rate_folder.py MODEL_DIR FOLDER [--out rated.png] [--show 3]

MODEL_DIR is an exported model (`pretty-meter export`, or data/demo/models/man after
`pretty-meter demo`). For thousands of photos use `pretty-meter rate` instead: it runs on every
core, resumes after a crash and writes a table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed: the figure goes to a file
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from prettymeter import Rater
from prettymeter.imaging import IMAGE_EXTENSIONS, decode_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="exported model directory")
    parser.add_argument("folder", type=Path, help="folder of photos (searched recursively)")
    parser.add_argument("--out", type=Path, default=Path("rated.png"), help="figure to save")
    parser.add_argument("--show", type=int, default=3, help="photos in each row of the figure")
    args = parser.parse_args()

    # 1. Load the model: the card says how a photo becomes its input; the service's rule
    #    "one clearly visible person per photo" is on, as in the API.
    rater = Rater(args.model)
    card = rater.card
    print(f"{rater}: {card.final} model, gender {card.gender}, input {card.input_size} px")
    if card.demo:
        print("a demo model trained on synthetic drawings: its scores mean nothing")

    # 2. Rate every photo. A photo that cannot be scored gets an error; it never stops the rest.
    photos = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    ratings = rater.rate(photos)
    for r in ratings:
        if r.score is not None:
            print(f"{r.source}: {r.score:.1f}/10, percentile {r.percentile:.0f}, rate {r.rate}")
        else:
            print(f"{r.source}: not scored ({r.error}: {r.message})")

    # 3. The worst and the best, with the person box the detector found.
    scored = sorted((r for r in ratings if r.score is not None), key=lambda r: r.score or 0.0)
    if not scored:
        raise SystemExit("no photo could be scored; see the reasons above")
    show = max(1, min(args.show, len(scored) // 2 or 1))
    rows = {"worst": scored[:show], "best": scored[::-1][:show]}
    figure, axes = plt.subplots(2, show, figsize=(3.2 * show, 7), squeeze=False)
    for row, (title, group) in zip(axes, rows.items(), strict=True):
        for ax in row:
            ax.axis("off")
        for ax, r in zip(row, group, strict=False):
            # decode as the rater did (EXIF orientation applied): the box is in these pixels
            ax.imshow(decode_image(Path(str(r.source)).read_bytes()))
            if r.box is not None:
                x0, y0, x1, y1 = r.box
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=2))
            ax.set_title(f"{title}: {r.score:.1f}/10\n{Path(str(r.source)).name}", fontsize=9)
    figure.suptitle(f"{card.name}: {len(scored)} of {len(ratings)} photos scored")
    figure.tight_layout()
    figure.savefig(args.out, dpi=100)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
